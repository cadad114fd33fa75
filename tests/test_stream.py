import cv2
import numpy as np
import pytest

from humanmatting_gui import stream
from humanmatting_gui.compositing import Background, Compositor, alpha_to_uint8
from humanmatting_gui.errors import InputError, ModelFileError
from humanmatting_gui.live import LiveProcessor
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
from humanmatting_gui.sources import Frame
from humanmatting_gui.stream import STREAM_SETTINGS, Stream, StreamRequest

from conftest import person_image


class BrightModel:
    """A model double: the person's probability is the input's brightness, so that its soft
    alpha follows the frames (and temporal smoothing has something to smooth)."""

    channels = 3

    def predict(self, pixels):
        return pixels.mean(axis=2) / 255


def _clip(count=8, seed=0):
    frames = []
    for k in range(count):
        image, _ = person_image(64, 96, seed=seed + k)
        frames.append(np.roll(image, 3 * k, axis=1))
    return frames


def test_frames_come_out_in_order_each_with_its_alpha_and_composite():
    frames = _clip()
    request = StreamRequest(BrightModel(), background=Background("color", color=(0, 0, 255)))
    out = list(stream.run(iter(frames), request))
    assert [p.frame is f for p, f in zip(out, frames)] == [True] * len(frames)
    for p in out:
        assert p.alpha.shape == (64, 96) and p.alpha.dtype == np.float32
        assert p.output.shape == (64, 96, 3) and p.output.dtype == np.uint8
    # each alpha belongs to its own frame: the blob moves 3 pixels a frame
    centres = [np.nonzero(p.alpha[32] > 0.5)[0].mean() for p in out]
    assert np.all(np.diff(centres) > 1)


def test_same_output_as_the_segmenter_and_compositor_it_replaces():
    frames = _clip()
    background = Background("blur", strength=10)
    got = list(stream.run(frames, StreamRequest(BrightModel(), STREAM_SETTINGS, background)))
    segmenter, compositor = Segmenter(BrightModel(), STREAM_SETTINGS), Compositor(background)
    for p, frame in zip(got, frames):
        alpha = segmenter.segment(frame)
        np.testing.assert_array_equal(p.alpha, alpha)
        np.testing.assert_array_equal(p.output, compositor.composite(frame, alpha))
    # the window's processor shows the same stream
    live = LiveProcessor()
    request = StreamRequest(BrightModel(), STREAM_SETTINGS, background)
    for k, (p, frame) in enumerate(zip(got, frames)):
        np.testing.assert_array_equal(live.show(Frame(frame, k), request).output, p.output)


def test_reset_forgets_the_previous_source():
    smoothing = StreamRequest(BrightModel(), SegmenterSettings(smoothing=0.9, refine=False), None)
    first = _clip(seed=0)
    second = [cv2.add(frame, 25) for frame in first[::-1]]  # brighter, but not a scene cut
    with Stream(smoothing) as s:
        for frame in first:
            s.process(frame)
        carried = s.process(second[0]).alpha
    with Stream(smoothing) as s:
        for frame in first:
            s.process(frame)
        s.reset()
        after_reset = s.process(second[0]).alpha
    fresh = Stream(smoothing).process(second[0]).alpha
    np.testing.assert_array_equal(after_reset, fresh)
    assert np.abs(carried - fresh).mean() > 0.05  # without the reset the old clip lingers


def test_without_a_background_the_output_is_the_8_bit_matte():
    p = Stream(StreamRequest(BrightModel(), background=None)).process(_clip(1)[0])
    assert p.alpha.shape == (64, 96) and 0 < p.alpha.mean() < 1
    np.testing.assert_array_equal(p.output, alpha_to_uint8(p.alpha))


def test_a_request_that_cannot_load_keeps_the_previous_one(tmp_path):
    s = Stream(StreamRequest(BrightModel(), background=Background("color", color=(0, 255, 0))))
    good = s.request
    with pytest.raises(ModelFileError):
        s.configure(StreamRequest(str(tmp_path / "missing.tflite")))
    with pytest.raises(InputError):
        s.configure(StreamRequest(good.model, background=Background("image", path=str(tmp_path / "no.png"))))
    assert s.request is good
    assert tuple(s.process(np.zeros((32, 32, 3), np.uint8)).output[0, 0]) == (0, 255, 0)


def test_the_live_processor_loads_its_model_before_the_first_frame(models_env, tmp_path):
    processor = LiveProcessor()
    assert processor.request is None and not processor._segmenters  # nothing loaded yet
    request = StreamRequest("rgb")
    processor.configure(request)
    processor.warm_up()
    prepared = processor._segmenters["rgb"]
    image, _ = person_image(64, 96)
    assert processor.show(Frame(image, 0), request).alpha.shape == (64, 96)
    assert processor._segmenters == {"rgb": prepared}  # the first frame found it ready
    with pytest.raises(ModelFileError):
        processor.configure(StreamRequest(str(tmp_path / "missing.tflite")))
    assert processor.show(Frame(image, 1), request).alpha.shape == (64, 96)  # and goes on
    processor.close()
