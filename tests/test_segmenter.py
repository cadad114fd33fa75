import cv2
import numpy as np
import pytest

from humanmatting_gui.errors import InputError
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings, working_shape, zoom_window

from conftest import LeftHalfModel, person_image


@pytest.mark.parametrize("shape", [(120, 160, 3), (77, 101, 3), (90, 50), (64, 64, 1), (48, 80, 4)])
@pytest.mark.parametrize("model", ["rgb", "gray"])
def test_alpha_shape_dtype_range(models_env, shape, model):
    frame = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    alpha = Segmenter(model).segment(frame)
    assert alpha.shape == shape[:2]
    assert alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0


@pytest.mark.parametrize("keras", [False, True])
def test_tflite_and_keras_backends_agree(models_env, keras):
    frame, _ = person_image()
    suffix = ".keras" if keras else ".tflite"
    alpha = Segmenter(str(models_env / f"likeunet-rgb{suffix}")).segment(frame)
    reference = Segmenter(str(models_env / "likeunet-rgb.tflite")).segment(frame)
    np.testing.assert_allclose(alpha, reference, atol=1e-3)


@pytest.mark.parametrize("height,width,expected", [
    (480, 640, (216, 288, 224, 288)), (720, 1280, (180, 320, 192, 320)),
    (640, 480, (288, 216, 288, 224)), (100, 100, (256, 256, 256, 256)),
    (640, 425, (289, 192, 320, 192)), (64, 2000, (33, 1024, 64, 1024))])
def test_working_shape_keeps_aspect_and_pads_to_32(height, width, expected):
    assert working_shape(height, width, 256) == expected


@pytest.mark.parametrize("height,width", [(480, 640), (1080, 1920), (333, 200), (50, 4000), (999, 1000)])
def test_working_shape_spends_at_most_the_square_budget(height, width):
    """The model never sees more pixels than one size x size input (the speed target's case),
    and the frame fills the input but for less than one 32-pixel step per side."""
    h, w, ph, pw = working_shape(height, width, 256)
    assert ph * pw <= 256 * 256 and ph % 32 == 0 and pw % 32 == 0
    assert ph - 32 < h <= ph and pw - 32 < w <= pw
    assert abs(h / w - height / width) < 0.01 * height / width + 1 / min(h, w)


@pytest.mark.parametrize("shape", [(480, 640, 3), (720, 1280, 3), (333, 200, 3)])
def test_letterbox_maps_back_to_the_frame(shape):
    model = LeftHalfModel()
    segmenter = Segmenter(model, SegmenterSettings(refine=False))
    alpha = segmenter.segment(np.zeros(shape, np.uint8))
    h, w, ph, pw = working_shape(shape[0], shape[1], 256)
    assert model.shapes == [(ph, pw, 3)]
    assert alpha.shape == shape[:2]
    # the model saw the padded input; the person it found must land where the padding
    # does not distort it: columns left of the padded half-width, scaled back
    boundary = (pw // 2) * shape[1] / w
    cols = alpha.mean(axis=0)
    assert cols[: int(boundary) - 2].min() > 0.99
    assert cols[int(boundary) + 2:].max() < 0.01


def test_grey_model_gets_one_channel(models_env):
    segmenter = Segmenter("gray")
    pixels, valid = segmenter.model_input(np.zeros((48, 64, 3), np.uint8))
    assert pixels.shape == (224, 288, 1) and valid == (216, 288)


def test_threshold_and_softness_reach_the_output():
    model = LeftHalfModel()
    hard = Segmenter(model, SegmenterSettings(refine=False, threshold=0.5, softness=0.0))
    alpha = hard.segment(np.zeros((64, 64, 3), np.uint8))
    assert set(np.unique(alpha)) <= {0.0, 1.0}


def test_bad_frames_are_rejected(models_env):
    segmenter = Segmenter("rgb")
    for frame in (np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8), "x"):
        with pytest.raises(InputError):
            segmenter.segment(frame)


def test_settings_validate():
    with pytest.raises(ValueError):
        SegmenterSettings(size=250)
    with pytest.raises(ValueError):
        SegmenterSettings(threshold=1.5)


class CoarseModel:
    """Finds bright pixels, but only to within a fixed number of its own input pixels (a box
    blur of 15): a person small in its input comes out blobby, a large one nearly exact."""

    channels = 3

    def __init__(self):
        self.shapes = []

    def predict(self, pixels):
        self.shapes.append(pixels.shape)
        return cv2.blur((pixels[:, :, 0] > 128).astype(np.float32), (15, 15))


def _iou(alpha, truth):
    a, t = alpha > 0.5, truth > 0
    return (a & t).sum() / (a | t).sum()


def test_the_zoom_window_has_the_frame_aspect_and_holds_the_people():
    alpha = np.zeros((90, 160), np.float32)
    alpha[40:60, 100:110] = 1.0
    top, left, side = zoom_window(alpha)
    assert side == pytest.approx(20 / 90 * 1.6)
    assert 0 <= top <= 40 / 90 and top + side >= 60 / 90 and left <= 100 / 160 and left + side >= 110 / 160
    alpha[:5, :5] = 1.0  # someone smaller at the far corner: the window holds the larger
    assert zoom_window(alpha) == (top, left, side)
    alpha[10:80, 10:60] = 1.0  # a large person: no window
    assert zoom_window(alpha) is None
    assert zoom_window(np.zeros((90, 160), np.float32)) is None


def test_zoom_sharpens_a_small_person_and_leaves_a_large_one():
    frame, truth = np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.uint8)
    cv2.ellipse(truth, (400, 300), (14, 60), 0, 0, 360, 255, -1)  # small, thin: the blur smears it
    frame[truth > 0] = 255
    model = CoarseModel()
    plain = Segmenter(model, SegmenterSettings(refine=False)).segment(frame)
    assert len(model.shapes) == 1
    zoomed = Segmenter(model, SegmenterSettings(refine=False, zoom=True)).segment(frame)
    assert len(model.shapes) == 3 and model.shapes[2] == model.shapes[0]  # the frame's aspect: one shape
    assert _iou(zoomed, truth) > _iou(plain, truth) + 0.1
    assert np.abs(zoomed - plain)[:, :200].max() == 0  # far from the window: the first pass's
    large = np.zeros_like(frame)
    large[40:460, 200:440] = 255
    before = len(model.shapes)
    Segmenter(model, SegmenterSettings(refine=False, zoom=True)).segment(large)
    assert len(model.shapes) == before + 1  # a large person: no second pass


def test_in_a_stream_the_zoom_window_follows_the_person_part_way():
    def frame_with_person_at(x):
        frame = np.zeros((480, 640, 3), np.uint8)
        cv2.ellipse(frame, (x, 300), (14, 60), 0, 0, 360, (255, 255, 255), -1)
        return frame

    segmenter = Segmenter(CoarseModel(), SegmenterSettings(refine=False, zoom=True, smoothing=0.5))
    segmenter.segment(frame_with_person_at(400))
    first = segmenter._window
    segmenter.segment(frame_with_person_at(200))
    alone = zoom_window(Segmenter(CoarseModel(), SegmenterSettings(refine=False)).segment(
        frame_with_person_at(200))[::2, ::2])
    assert alone[1] < segmenter._window[1] < first[1]  # between the old window and the new
    segmenter.reset()
    assert segmenter._window is None


class StripeModel:
    """Finds the bright pixels, and always a false stripe along its input's left edge: a
    model's error that its mirror image does not share."""

    def __init__(self):
        self.channels, self.shapes = 3, []

    def predict(self, pixels):
        self.shapes.append(pixels.shape)
        alpha = (pixels[:, :, 0] > 128).astype(np.float32)
        alpha[:, :8] = 1.0
        return alpha


def test_flip_keeps_what_both_passes_see_and_halves_what_one_sees():
    frame = np.zeros((250, 390, 3), np.uint8)  # working shape 192x300 in a 192x320 input
    frame[60:200, 250:300] = 255  # right of centre: its mirror image is elsewhere
    h, w, ph, pw = working_shape(250, 390, 256)
    assert pw > w  # the padding is on the right: the mirrored pass must not mirror it in
    model = StripeModel()
    plain = Segmenter(model, SegmenterSettings(refine=False)).segment(frame)
    flipped = Segmenter(model, SegmenterSettings(refine=False, flip=True)).segment(frame)
    assert model.shapes == [(ph, pw, 3)] * 3  # one pass, then two of the same shape
    person = np.zeros((250, 390), bool)
    person[70:190, 260:290] = True
    assert plain[person].min() > 0.99 and flipped[person].min() > 0.99  # mapped back in place
    assert plain[:, :5].min() > 0.99 and flipped[:, :5].max() == pytest.approx(0.5)
    assert flipped[:, -5:].max() == pytest.approx(0.5)  # the mirror pass's stripe, mirrored back
    background = np.ones((250, 390), bool)
    background[50:210, 240:310] = False
    background[:, :20] = background[:, -20:] = False
    assert flipped[background].max() < 0.01
