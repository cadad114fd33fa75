"""Model files to predictions: the TFLite interpreter (fast, no TensorFlow import) or Keras.

A backend maps float32 pixels (H, W, C), 0..255, H and W multiples of 32, RGB or grey as
the model expects, to the person probability (H, W) float32 in [0, 1].
"""

from __future__ import annotations

import os
import re

import numpy as np

from humanmatting_gui.errors import ModelFileError
from humanmatting_gui.paths import models_dir

MODEL_NAMES = {"rgb": "likeunet-rgb", "gray": "likeunet-gray", "grey": "likeunet-gray"}


def resolve_model(spec: str) -> str:
    """Turn ``rgb``, ``gray`` or a path into the path of a model file (``.tflite`` preferred)."""
    if spec.lower() in MODEL_NAMES:
        stem = models_dir() / MODEL_NAMES[spec.lower()]
        for ext in (".tflite", ".keras"):
            if stem.with_suffix(ext).is_file():
                return str(stem.with_suffix(ext))
        raise ModelFileError(
            f"the {spec} model is not installed ({stem}.tflite missing): check out the "
            "project's models/ folder or train one with `python -m trainer.train` (see README)")
    if not os.path.isfile(spec):
        raise ModelFileError(f"model file not found: {spec}")
    return spec


class TFLiteBackend:
    """Runs a ``.tflite`` file. A file exported with fixed-size signatures (``h{H}w{W}``,
    see ``model.export_tflite``) runs those sizes through them; any other size runs through
    the open-sided graph, one interpreter per size so that alternating sizes never
    re-allocate. Tensor indices are looked up once per size, not per frame."""

    def __init__(self, path: str, threads: int | None = None):
        self.path = path
        self.threads = threads or os.cpu_count() or 1
        self._interpreter = self._open()
        shape = self._interpreter.get_input_details()[0]["shape"]
        if len(shape) != 4 or shape[-1] not in (1, 3):
            raise ModelFileError(f"{path} is not a LikeUnet model (input shape {shape})")
        self.channels = int(shape[-1])
        self._signatures = set(self._interpreter.get_signature_list())
        #: the (H, W) sizes the file has a fixed-size signature for
        self.fixed_sizes = sorted((int(m[1]), int(m[2])) for m in
                                  map(re.compile(r"h(\d+)w(\d+)").fullmatch, self._signatures) if m)
        self._runs: dict[tuple[int, int], object] = {}

    def _open(self):
        if not os.path.isfile(self.path):
            raise ModelFileError(f"model file not found: {self.path}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # no LiteRT wheel on this platform: TensorFlow's copy of it
            from tensorflow.lite import Interpreter
        try:
            return Interpreter(model_path=self.path, num_threads=self.threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"not a valid .tflite model (truncated or wrong format): {self.path}") from exc

    def _run_for(self, h: int, w: int):
        """A function (1, h, w, C) float32 -> (1, h, w, K) for this size."""
        if (h, w) in self.fixed_sizes:
            runner = self._interpreter.get_signature_runner(f"h{h}w{w}")
            return lambda x: runner(pixels=x)["person"]
        interpreter = self._open()
        if "any" in self._signatures:
            runner = interpreter.get_signature_runner("any")
            return lambda x: runner(pixels=x)["person"]
        index = interpreter.get_input_details()[0]["index"]
        try:
            interpreter.resize_tensor_input(index, [1, h, w, self.channels], strict=False)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path} cannot run at {w}x{h} (a fixed-size model?)") from exc
        output = interpreter.get_output_details()[0]["index"]

        def run(x):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            return interpreter.get_tensor(output)
        return run

    def warm_up(self) -> None:
        """Run each fixed size once: a size's first run costs ~20 ms more (XNNPACK sets it
        up), which a camera's first frames would otherwise wait for."""
        for h, w in self.fixed_sizes:
            self.predict(np.zeros((h, w, self.channels), np.float32))

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        run = self._runs.get((h, w))
        if run is None:
            run = self._runs[(h, w)] = self._run_for(h, w)
        out = run(pixels.reshape(1, h, w, self.channels).astype(np.float32, copy=False))
        return out[0, :, :, -1]


class KerasBackend:
    """Runs a ``.keras`` LikeUnet (imports TensorFlow: seconds to start, slower per frame)."""

    def __init__(self, path: str):
        import tensorflow as tf

        from humanmatting_gui import model as likeunet

        self.path = path
        self.model = likeunet.load_keras(path)
        self.channels = int(self.model.input_shape[-1])
        # a traced graph: an eager call per frame costs ~10x more
        self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        out = self._call(pixels.reshape(1, h, w, self.channels).astype(np.float32))
        return np.asarray(out)[0, :, :, -1]


def load_backend(spec: str, threads: int | None = None):
    """A backend for ``rgb``, ``gray`` or a model path (``.tflite`` or ``.keras``).

    Raises ModelFileError naming the file when it is missing, truncated or not a model.
    """
    path = resolve_model(spec)
    if path.endswith(".keras"):
        return KerasBackend(path)
    return TFLiteBackend(path, threads)
