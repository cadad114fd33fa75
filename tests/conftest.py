"""Shared fixtures: small LikeUnet model files built in code, synthetic images and clips."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
TINY = dict(widths=(8, 8, 16, 16, 16), blocks=(1, 1, 1, 1), decoder_widths=(16, 16, 8, 8))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A models/ folder with tiny untrained rgb and gray LikeUnets (.keras and .tflite)."""
    from humanmatting_gui import model as likeunet

    folder = tmp_path_factory.mktemp("models")
    for name, channels in (("rgb", 3), ("gray", 1)):
        net = likeunet.fold(likeunet.build_likeunet(likeunet.LikeUnetConfig(channels=channels, **TINY)))
        likeunet.save_keras(net, str(folder / f"likeunet-{name}.keras"))
        likeunet.export_tflite(net, str(folder / f"likeunet-{name}.tflite"))
    return folder


@pytest.fixture
def models_env(model_dir, monkeypatch):
    """Make ``rgb`` and ``gray`` resolve to the tiny models."""
    monkeypatch.setenv("HUMANMATTING_MODELS", str(model_dir))
    return model_dir


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


def person_image(height=120, width=160, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A BGR uint8 picture of a bright 'person' blob on a noisy background, and its mask."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 5, height // 3), 0, 0, 360, 255, -1)
    image[mask > 0] = (200, 180, 160)
    return image, mask


def write_pairs(folder, count, height, width, ext="jpg", seed=0):
    """``folder/images/NN.ext`` + ``folder/masks/NN.png``: ``count`` person_image pairs."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for k in range(count):
        image, mask = person_image(height, width, seed=seed + k)
        cv2.imwrite(str(folder / "images" / f"{k:02d}.{ext}"), image)
        cv2.imwrite(str(folder / "masks" / f"{k:02d}.png"), mask)
    return folder


def write_clip(path, frames=12, size=(96, 64), fps=12, audio=True, codec="libx264"):
    """A synthetic H.264 clip (moving blob) with, optionally, a 440 Hz sine AAC track
    lasting as long as the video."""
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=44100) if audio else None
        for k in range(frames):
            image, _ = person_image(height, width, seed=k)
            image = np.roll(image, k, axis=1)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = int(44100 * frames / fps)
            t = np.arange(samples) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, 0, Fraction(1, 44100)
            for packet in sound.encode(frame):
                out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4")


def shared_data(*parts) -> str:
    path = os.path.join(SHARED, "data", *parts)
    if not os.path.exists(path):
        pytest.skip("../shared/data is not present")
    return path
