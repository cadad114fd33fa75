import numpy as np
import pytest
import pyvirtualcam

from humanmatting_gui import cli, virtualcam
from humanmatting_gui.errors import OutputError


class FakeDevice:
    """A pyvirtualcam backend (the interface of pyvirtualcam.Backend) that records frames."""

    opened = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fourcc = width, height, fourcc
        self.frames = []
        FakeDevice.opened.append(self)

    def send(self, frame):
        self.frames.append(frame.copy())

    def device(self):
        return "/dev/fake0"

    def native_fourcc(self):
        return None

    def close(self):
        pass


@pytest.fixture
def fake_backend(monkeypatch):
    """Register FakeDevice for one test (pyvirtualcam keeps backends in a module dict, and
    tries every registered one when none is named)."""
    FakeDevice.opened = []
    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "fake", FakeDevice)
    return FakeDevice


def test_frames_reach_the_device(fake_backend):
    cam = virtualcam.VirtualCamera(30, backend="fake")
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    cam.send(frame)
    cam.send(frame)
    assert cam.name == "/dev/fake0"
    device = fake_backend.opened[-1]
    assert (device.width, device.height) == (64, 48)
    assert len(device.frames) == 2
    np.testing.assert_array_equal(device.frames[0].reshape(48, 64, 3), frame)
    cam.send(np.zeros((24, 32, 3), np.uint8))  # a new size reopens the device
    assert (fake_backend.opened[-1].width, fake_backend.opened[-1].height) == (32, 24)
    cam.close()


def test_transparent_frames_go_out_over_green(fake_backend):
    cam = virtualcam.VirtualCamera(backend="fake")
    frame = np.zeros((8, 8, 4), np.uint8)
    cam.send(frame)
    sent = fake_backend.opened[-1].frames[0].reshape(8, 8, 3)
    assert tuple(sent[0, 0]) == virtualcam.GREEN


class MissingDevice(FakeDevice):
    """Fails as the v4l2loopback backend does when no loopback device exists."""

    def __init__(self, **kw):
        raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99].")


def test_no_device_says_how_to_set_one_up(monkeypatch):
    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "missing", MissingDevice)
    cam = virtualcam.VirtualCamera(backend="missing")
    with pytest.raises(OutputError, match="no virtual camera device.*modprobe|OBS"):
        cam.send(np.zeros((8, 8, 3), np.uint8))


def test_cli_streams_a_video_to_the_device(models_env, clip, fake_backend, monkeypatch, capsys):
    monkeypatch.setattr(virtualcam, "run_cli", _with_backend(virtualcam.run_cli, "fake"))
    assert cli.main(["virtualcam", "--source", str(clip), "--frames", "5", "--just-me",
                     "--light-wrap", "0.4", "--harmonize", "0.3"]) == 0
    assert len(fake_backend.opened[-1].frames) == 5
    assert "sent 5 frames" in capsys.readouterr().err


def test_cli_without_a_device_is_one_line(models_env, clip, capsys):
    if _has_real_device():
        pytest.skip("this machine has a virtual camera device")
    assert cli.main(["virtualcam", "--source", str(clip), "--frames", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "virtual camera" in err[0]


def _with_backend(function, backend):
    def run(*args, **kwargs):
        return function(*args, backend=backend, **kwargs)
    return run


def _has_real_device():
    try:
        pyvirtualcam.Camera(64, 48, 30).close()
        return True
    except RuntimeError:
        return False


def test_a_device_write_that_fails_is_an_output_error(fake_backend, monkeypatch):
    def broken(self, frame):
        raise OSError(5, "Input/output error")
    cam = virtualcam.VirtualCamera(backend="fake")
    cam.send(np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(FakeDevice, "send", broken)
    with pytest.raises(OutputError, match="stopped: .*Input/output error"):
        cam.send(np.zeros((8, 8, 3), np.uint8))
