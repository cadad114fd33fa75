import numpy as np
import pytest

from humanmatting_gui.errors import InputError
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings, working_shape

from conftest import person_image


class LeftHalfModel:
    """A model double that calls the left half of whatever it is given a person, so that
    the geometry of letterboxing, cropping and resizing back can be checked exactly."""

    channels = 3

    def __init__(self):
        self.shapes = []

    def predict(self, pixels):
        self.shapes.append(pixels.shape)
        out = np.zeros(pixels.shape[:2], np.float32)
        out[:, : pixels.shape[1] // 2] = 1.0
        return out


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
    (480, 640, (192, 256, 192, 256)), (720, 1280, (144, 256, 160, 256)),
    (640, 480, (256, 192, 256, 192)), (100, 100, (256, 256, 256, 256))])
def test_working_shape_keeps_aspect_and_pads_to_32(height, width, expected):
    assert working_shape(height, width, 256) == expected


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
    assert pixels.shape == (192, 256, 1) and valid == (192, 256)


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
