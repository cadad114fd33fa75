"""The seed's own `dark-light` model (tf.keras 2.x files) rebuilt in Keras 3, for comparison.

    python benchmarks/seed_model.py [--limit N]

Rebuilds the layers from `dark-light.json`, loads `dark-light-50-0.9735.h5` by layer name,
then prints its person IoU and mIoU on the trainer's validation split (the same protocol as
`python -m trainer.evaluate`) and its latency at 256x256 as a fixed-size .tflite, 2 threads.
Needs ../shared/reference/seed; nothing of it is copied into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SEED = os.path.join(ROOT, "..", "shared", "reference", "seed")
PORTRAITS = os.path.join(ROOT, "..", "shared", "data", "portraits")

KEEP = {"Conv2D": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias"),
        "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias"),
        "BatchNormalization": ("momentum", "epsilon"),
        "MaxPooling2D": ("pool_size", "strides", "padding"),
        "UpSampling2D": ("size", "interpolation"),
        "Concatenate": ("axis",), "ReLU": ()}


def build_seed(json_path: str, h5_path: str):
    """A Keras 3 model equal to the seed's: raw grey pixels 0..255 in, 2-class softmax out."""
    import keras

    config = json.load(open(json_path))["config"]
    tensors = {}
    for spec in config["layers"]:
        kind, cfg = spec["class_name"], spec["config"]
        if kind == "InputLayer":
            tensors[cfg["name"]] = keras.Input(cfg["batch_input_shape"][1:], name=cfg["name"])
            continue
        layer = getattr(keras.layers, kind)(name=cfg["name"], **{k: cfg[k] for k in KEEP[kind] if k in cfg})
        inputs = [tensors[node[0]] for node in spec["inbound_nodes"][0]]
        tensors[cfg["name"]] = layer(inputs if kind == "Concatenate" else inputs[0])
    model = keras.Model(tensors[config["input_layers"][0][0]], tensors[config["output_layers"][0][0]])
    with h5py.File(h5_path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        for layer in model.layers:
            if layer.weights and layer.name in group:
                stored = group[layer.name][layer.name]
                order = ("kernel:0", "bias:0") if "kernel:0" in stored else \
                    ("gamma:0", "beta:0", "moving_mean:0", "moving_variance:0")
                layer.set_weights([np.asarray(stored[k]) for k in order if k in stored])
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit", type=int)
    args = p.parse_args(argv)
    json_path = os.path.join(SEED, "dark-light.json")
    if not os.path.isfile(json_path):
        print("skipped: ../shared/reference/seed is not present")
        return 0
    import tensorflow as tf

    from benchmarks.bench_engine import median_ms
    from humanmatting_gui.backends import TFLiteBackend
    from humanmatting_gui.segmenter import Segmenter, SegmenterSettings
    from trainer import evaluate

    model = build_seed(json_path, os.path.join(SEED, "dark-light-50-0.9735.h5"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "seed.tflite")
        spec = tf.TensorSpec([1, 256, 256, 1], tf.float32)
        function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], model)
        open(path, "wb").write(converter.convert())
        interpreter = TFLiteBackend(path, 2)._open()
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]
        x = np.random.default_rng(0).uniform(0, 255, (1, 256, 256, 1)).astype(np.float32)

        def run():
            interpreter.set_tensor(index, x)
            interpreter.invoke()
        print(f"seed dark-light: {model.count_params()} parameters, "
              f"{median_ms(run, 100):.2f} ms median at 256x256 (.tflite, 2 threads)")

    class SeedBackend:
        channels = 1

        def __init__(self):
            # one trace per input shape: the seed's UpSampling2D needs known sizes
            self.call = tf.function(lambda x: model(x, training=False))

        def predict(self, pixels):
            return np.asarray(self.call(pixels[None]))[0, :, :, 1]

    folders = [os.path.join(PORTRAITS, f) for f in sorted(os.listdir(PORTRAITS))]
    results = evaluate.evaluate({"seed dark-light": Segmenter(SeedBackend(), SegmenterSettings())},
                                folders, "val", args.limit)
    print(evaluate.report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
