"""LikeUnet: the seed's slimmed U-Net, rebuilt for CPU speed, plus branch folding and model files.

Importing this module imports Keras (and TensorFlow); the fast inference path
(`humanmatting_gui.backends`) runs exported `.tflite` files without it.

The network takes raw pixels (float32, 0..255) of shape (batch, H, W, C), C = 3 (RGB) or
1 (grey), H and W multiples of 32, and returns the person probability (batch, H, W, 1) in
[0, 1] (or, with ``classes=2``, the seed's two-channel softmax, channel 1 = person).

Layout: a stride-2 3x3 stem, four encoder stages of depthwise-separable blocks (each halves
the size), a decoder that upsamples bilinearly, concatenates the skip of the same size and
mixes it with a depthwise-separable block, and a 1x1 head at half resolution upsampled to
the input size. Every 3x3 convolution is a `RepConv`: during training it sums a 3x3, a 1x3
and a 3x1 branch, each with batch norm (the seed's asymmetric branches); `fold()` turns
each into a single 3x3 convolution with bias for deployment, with the same output.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from humanmatting_gui.errors import ModelFileError

_BN_EPSILON = 1e-3
# Batch-norm statistics follow the last ~10 steps: with Adam the convolution scales drift
# fast early in training, and Keras' default (0.99) left the moving statistics far behind
# (validation IoU 0 while training IoU was 0.6).
_BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class LikeUnetConfig:
    """Architecture parameters. ``widths``: stem, then one width per encoder stage."""

    channels: int = 3
    widths: tuple[int, ...] = (24, 32, 64, 160, 256)
    blocks: tuple[int, ...] = (2, 2, 4, 4)
    decoder_widths: tuple[int, ...] = (160, 64, 32, 24)
    classes: int = 1
    branches: bool = True

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels}")
        if self.classes not in (1, 2):
            raise ValueError(f"classes must be 1 (probability) or 2 (softmax), got {self.classes}")
        stages = len(self.widths) - 1
        if stages != 4 or len(self.blocks) != stages or len(self.decoder_widths) != stages:
            raise ValueError("LikeUnet needs 5 widths, 4 block counts and 4 decoder widths")


@keras.saving.register_keras_serializable(package="humanmatting")
class RepConv(layers.Layer):
    """A 3x3 convolution (full or depthwise) + batch norm + optional ReLU, re-parameterisable.

    Training form (``deploy=False``): sum of 3x3, 1x3 and 3x1 branches (only the 3x3 one if
    ``branches=False``), each followed by batch norm. Deploy form: one 3x3 convolution with
    bias. Padding is symmetric (one pixel each side) in both forms so that the asymmetric
    kernels line up with the centre row/column of the 3x3 one, also at stride 2.
    """

    def __init__(self, filters=None, strides=1, depthwise=False, relu=True, branches=True,
                 deploy=False, **kwargs):
        super().__init__(**kwargs)
        if not depthwise and not filters:
            raise ValueError("a full RepConv needs a number of filters")
        self.filters, self.strides, self.depthwise = filters, strides, depthwise
        self.relu, self.branches, self.deploy = relu, branches, deploy
        shapes = [(3, 3)] if deploy or not branches else [(3, 3), (1, 3), (3, 1)]
        self.convs = [self._conv(shape, use_bias=deploy) for shape in shapes]
        self.norms = [] if deploy else [
            layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"bn{k}") for k in range(len(shapes))]

    def _conv(self, shape, use_bias):
        name = f"conv{shape[0]}x{shape[1]}"
        if self.depthwise:
            return layers.DepthwiseConv2D(shape, strides=self.strides, padding="valid",
                                          use_bias=use_bias, name=name)
        return layers.Conv2D(self.filters, shape, strides=self.strides, padding="valid",
                             use_bias=use_bias, name=name)

    def build(self, input_shape):
        for conv, norm in zip(self.convs, self.norms or [None] * len(self.convs)):
            conv.build((*input_shape[:1], None, None, input_shape[-1]))
            if norm is not None:
                out = input_shape[-1] if self.depthwise else self.filters
                norm.build((None, None, None, out))

    def call(self, x, training=None):
        padded = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        total = None
        for k, conv in enumerate(self.convs):
            kh, kw = conv.kernel_size
            # a 1-wide kernel reads the un-padded rows/columns so it sits on the 3x3's centre
            view = padded[:, 1:-1] if kh == 1 else padded
            view = view[:, :, 1:-1] if kw == 1 else view
            y = conv(view)
            if self.norms:
                y = self.norms[k](y, training=training)
            total = y if total is None else total + y
        return ops.relu(total) if self.relu else total

    def fused(self):
        """The (kernel, bias) of the equivalent single 3x3 convolution, as numpy arrays."""
        if self.deploy:
            return [np.asarray(v) for v in self.convs[0].get_weights()]
        kernel, bias = 0.0, 0.0
        for conv, norm in zip(self.convs, self.norms):
            k = np.asarray(conv.get_weights()[0], np.float64)
            gamma, beta, mean, var = (np.asarray(w, np.float64) for w in norm.get_weights())
            scale = gamma / np.sqrt(var + norm.epsilon)
            # depthwise kernels are (kh, kw, in, 1): their output channel is axis 2
            k = k * (scale[None, None, :, None] if self.depthwise else scale)
            kh, kw = conv.kernel_size
            k = np.pad(k, [((3 - kh) // 2,) * 2, ((3 - kw) // 2,) * 2, (0, 0), (0, 0)])
            kernel, bias = kernel + k, bias + beta - mean * scale
        return [kernel.astype(np.float32), bias.astype(np.float32)]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "depthwise": self.depthwise, "relu": self.relu, "branches": self.branches,
                "deploy": self.deploy}


@keras.saving.register_keras_serializable(package="humanmatting")
class Upsample2x(layers.Layer):
    """Bilinear 2x upsampling that also traces with unknown height and width (Keras'
    UpSampling2D cannot, and training batches change shape from one batch to the next)."""

    def call(self, x):
        return tf.image.resize(x, tf.shape(x)[1:3] * 2, method="bilinear")

    def compute_output_shape(self, shape):
        return (shape[0], *(None if d is None else 2 * d for d in shape[1:3]), shape[3])


def _separable(x, width, strides, cfg, deploy, name):
    """Depthwise RepConv then a 1x1 convolution to ``width`` with batch norm (folded in deploy)."""
    x = RepConv(strides=strides, depthwise=True, branches=cfg.branches, deploy=deploy,
                name=f"{name}_dw")(x)
    return _pointwise(x, width, deploy, name)


def _pointwise(x, width, deploy, name):
    if deploy:
        return layers.Conv2D(width, 1, activation="relu", name=f"{name}_pw")(x)
    x = layers.Conv2D(width, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON,
                                  name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_pw_relu")(x)


def build_likeunet(config: LikeUnetConfig = LikeUnetConfig(), deploy: bool = False,
                   name: str = "likeunet") -> keras.Model:
    """Build LikeUnet for inputs (batch, H, W, config.channels) of any H, W multiple of 32."""
    cfg = config
    inputs = keras.Input((None, None, cfg.channels), name="pixels")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(inputs)
    x = RepConv(cfg.widths[0], strides=2, branches=cfg.branches, deploy=deploy, name="stem")(x)
    skips = [x]
    for stage, (width, count) in enumerate(zip(cfg.widths[1:], cfg.blocks), start=1):
        for block in range(count):
            x = _separable(x, width, 2 if block == 0 else 1, cfg, deploy, f"enc{stage}_{block}")
        skips.append(x)
    for stage, width in enumerate(cfg.decoder_widths):
        x = Upsample2x(name=f"dec{stage}_up")(x)
        x = layers.Concatenate(name=f"dec{stage}_cat")([x, skips[-2 - stage]])
        x = _pointwise(x, width, deploy, f"dec{stage}_mix")
        x = _separable(x, width, 1, cfg, deploy, f"dec{stage}")
    x = layers.Conv2D(cfg.classes, 1, name="head")(x)
    x = Upsample2x(name="head_up")(x)
    activation = "sigmoid" if cfg.classes == 1 else "softmax"
    outputs = layers.Activation(activation, dtype="float32", name="person")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.likeunet_config = cfg
    return model


CONFIG_ENTRY = "likeunet.json"  # the architecture, beside Keras' own entries in a .keras file


def config_of(model: keras.Model) -> LikeUnetConfig:
    """The LikeUnetConfig a model was built from: kept on the model by ``build_likeunet`` and
    in its file by ``save_keras`` (``load_keras`` puts it back)."""
    config = getattr(model, "likeunet_config", None)
    if config is None:
        raise ModelFileError(f"model {model.name} carries no LikeUnet architecture (not built by "
                             f"build_likeunet, or loaded from a file saved without {CONFIG_ENTRY})")
    return config


def is_deploy(model: keras.Model) -> bool:
    return bool(model.get_layer("stem").deploy)


def fold(model: keras.Model) -> keras.Model:
    """The deploy form of a training LikeUnet: branches and batch norms folded, same output."""
    deploy = build_likeunet(config_of(model), deploy=True, name=model.name)
    for target in deploy.layers:
        source = model.get_layer(target.name)
        if isinstance(target, RepConv):
            target.convs[0].set_weights(source.fused())
        elif target.name.endswith("_pw") and not is_deploy(model):
            norm = model.get_layer(f"{target.name}_bn")
            gamma, beta, mean, var = norm.get_weights()
            scale = gamma / np.sqrt(var + norm.epsilon)
            target.set_weights([source.get_weights()[0] * scale, beta - mean * scale])
        elif target.weights:
            target.set_weights(source.get_weights())
    return deploy


def count_params(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights if w.trainable))


def save_keras(model: keras.Model, path: str) -> None:
    """Save as a Keras 3 ``.keras`` file with the architecture (``CONFIG_ENTRY``) beside the
    weights, written to a temporary name and renamed at the end."""
    tmp = f"{path}.part.keras"
    model.save(tmp)
    with zipfile.ZipFile(tmp, "a") as archive:
        archive.writestr(CONFIG_ENTRY, json.dumps(asdict(config_of(model))))
    os.replace(tmp, path)


def load_keras(path: str, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` LikeUnet in safe mode, its architecture with it (``config_of``).
    Raises ModelFileError naming the file."""
    if not os.path.isfile(path):
        raise ModelFileError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"not a Keras model file (truncated or wrong format): {path}")
    try:
        model = keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise ModelFileError(f"cannot load model {path}: {exc}".splitlines()[0]) from exc
    with zipfile.ZipFile(path) as archive:
        if CONFIG_ENTRY not in archive.namelist():
            raise ModelFileError(f"{path} has no {CONFIG_ENTRY}: not a humanmatting LikeUnet file")
        config = json.loads(archive.read(CONFIG_ENTRY))
    model.likeunet_config = LikeUnetConfig(**{k: tuple(v) if isinstance(v, list) else v
                                              for k, v in config.items()})
    return model


def signature_name(height: int | None, width: int | None) -> str:
    """The .tflite signature that runs inputs of (height, width); ``any`` for open sides."""
    return "any" if height is None else f"h{height}w{width}"


def export_tflite(model: keras.Model, path: str, shapes=(), calibration=None) -> None:
    """Write a deploy (folded) LikeUnet as a ``.tflite`` file, written to a temporary name.

    The input is (1, H, W, C) float32 pixels 0..255, the output ``person`` (1, H, W, 1).
    The file holds one signature per (H, W) in ``shapes``, named ``h{H}w{W}``, with every
    size fixed, and the signature ``any`` whose H and W are left open. Fixed sizes let the
    converter drop the run-time shape arithmetic (SHAPE/SLICE/MUL, a PAD per convolution)
    that splits the XNNPACK delegate: about 1.5x faster (benchmarks/bench_engine.py). The
    signatures share one copy of the weights.

    ``calibration``: an iterable of float32 pixel arrays (H, W, C), H and W multiples of 32;
    with it, weights and activations are quantised to int8 (float input and output kept),
    each signature calibrated on the samples of its size (``any`` on the rest).
    """
    import tempfile

    if not is_deploy(model):
        model = fold(model)
    channels = model.input_shape[-1]
    names = [signature_name(*shape) for shape in [*shapes, (None, None)]]
    archive = keras.export.ExportArchive()
    archive.track(model)
    for h, w in [*shapes, (None, None)]:
        archive.add_endpoint(signature_name(h, w), lambda pixels: {"person": model(pixels, training=False)},
                             input_signature=[tf.TensorSpec([1, h, w, channels], tf.float32, name="pixels")])
    with tempfile.TemporaryDirectory() as saved:
        archive.write_out(saved, verbose=False)
        # converting a SavedModel freezes the variables: an unfrozen graph runs ~2.6x slower
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=names)
        if calibration is not None:
            fixed = {tuple(shape) for shape in shapes}
            samples = [np.asarray(x, np.float32) for x in calibration]
            if not samples:
                raise ValueError("int8 export needs calibration samples")

            def representative():
                for x in samples:
                    shape = tuple(x.shape[:2])
                    yield signature_name(*shape) if shape in fixed else "any", {"pixels": x[None]}
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
        flatbuffer = converter.convert()
    tmp = f"{path}.part"
    with open(tmp, "wb") as f:
        f.write(flatbuffer)
    os.replace(tmp, path)


def count_macs(model: keras.Model, height: int = 256, width: int = 256) -> int:
    """Multiply-accumulates of one forward pass at (height, width), convolutions only (the
    rest is noise). FLOPs are about twice this."""
    convs = [l for l in model.layers if isinstance(l, (RepConv, layers.Conv2D))]
    probe = keras.Model(model.input, [l.output for l in convs])
    outputs = probe(np.zeros((1, height, width, model.input_shape[-1]), np.float32))
    total = 0
    for layer, out in zip(convs, outputs):
        oh, ow = out.shape[1:3]
        for conv in (layer.convs if isinstance(layer, RepConv) else [layer]):
            kh, kw = conv.kernel_size
            kernel = conv.get_weights()[0]
            per_pixel = kh * kw * kernel.shape[2] * (1 if layer.__class__ is RepConv and layer.depthwise
                                                      else kernel.shape[3])
            total += oh * ow * per_pixel
    return int(total)
