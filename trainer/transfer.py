"""Start a LikeUnet from another one's weights: RGB <-> grey, and a smaller model grown wider
and deeper without losing what it learnt.

    transfer_weights(load_keras("models/training/likeunet-rgb-train.keras"), bigger_net)

Both models are in training form (batch norms unfolded). Growth keeps the source's function:

- a wider layer keeps the source's channels first; its new channels start from the usual
  random initialisation, and every weight from a new channel into an old one is zero, so the
  new channels add capacity without changing the output until training uses them;
- a block the source lacks (more blocks in a stage) starts as the identity: its depthwise
  kernel is a centred 1 and its pointwise kernel the identity matrix, each batch norm set to
  give back its input (exactly so in inference; with the statistics of a batch, close).

So the grown model predicts what the source predicts (a test checks it), and training goes on
from there instead of from scratch.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from humanmatting_gui import model as likeunet


def transfer_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy ``source``'s weights into ``target``, which may be wider, deeper, or take the
    other channel count (between RGB and grey the stem's input channels are summed or
    spread: the grey model on a grey frame equals the RGB model on it)."""
    if likeunet.is_deploy(source) or likeunet.is_deploy(target):
        raise ValueError("transfer_weights needs training-form models (batch norms unfolded)")
    have, want = likeunet.config_of(source), likeunet.config_of(target)
    if any(a > b for a, b in zip(have.widths + have.blocks + have.decoder_widths,
                                 want.widths + want.blocks + want.decoder_widths)):
        raise ValueError(f"cannot shrink a model: {have} into {want}")
    inputs = _input_channels(have, want)
    new_blocks = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            old = source.get_layer(layer.name)
        except ValueError:
            if not layer.name.startswith("enc"):
                raise ValueError(f"{layer.name} is not in the source model") from None
            new_blocks.append(layer)
            continue
        if isinstance(layer, likeunet.RepConv):
            _copy_repconv(old, layer)
        elif isinstance(layer, keras.layers.Conv2D):
            layer.set_weights(_embed_conv(old.get_weights(), layer.get_weights(),
                                          inputs.get(layer.name)))
        else:  # batch norm: four per-channel vectors
            layer.set_weights(_embed_vectors(old.get_weights(), layer.get_weights()))
    for layer in new_blocks:
        _identity(layer, target, have)


def _input_channels(have, want) -> dict:
    """Where the source's input channels sit in the target, for the layers that read a
    concatenation (upsampled decoder features, then the skip) rather than one tensor."""
    where = {}
    for stage in range(4):
        up_old = have.decoder_widths[stage - 1] if stage else have.widths[-1]
        up_new = want.decoder_widths[stage - 1] if stage else want.widths[-1]
        skip_old = have.widths[-2 - stage]
        where[f"dec{stage}_mix_pw"] = [*range(up_old), *range(up_new, up_new + skip_old)]
    return where


def _embed_conv(old: list, new: list, rows=None) -> list:
    """A full convolution: old kernel into the target's kernel at input channels ``rows``
    (default: the first ones) and the first output channels; new inputs into old outputs
    zero. A bias (the head's) keeps its old entries."""
    kernel = new[0].copy()
    rows = list(range(old[0].shape[2])) if rows is None else rows
    out = old[0].shape[3]
    kernel[..., :out] = 0.0
    kernel[:, :, rows, :out] = old[0]
    return [kernel, *_embed_vectors(old[1:], new[1:])]


def _embed_vectors(old: list, new: list) -> list:
    out = [n.copy() for n in new]
    for o, n in zip(old, out):
        n[: o.shape[0]] = o
    return out


def _copy_repconv(old: likeunet.RepConv, new: likeunet.RepConv) -> None:
    for conv_old, conv_new in zip(old.convs, new.convs):
        kernel_old, kernel_new = conv_old.get_weights()[0], conv_new.get_weights()[0]
        if new.name == "stem" and kernel_old.shape[2] != kernel_new.shape[2]:
            kernel_old = kernel_old.sum(axis=2, keepdims=True) if kernel_new.shape[2] == 1 else \
                np.repeat(kernel_old / kernel_old.shape[2], kernel_new.shape[2], axis=2)
        if new.depthwise:
            kernel = kernel_new.copy()
            kernel[:, :, : kernel_old.shape[2]] = kernel_old
            conv_new.set_weights([kernel])
        else:
            conv_new.set_weights(_embed_conv([kernel_old], [kernel_new]))
    for norm_old, norm_new in zip(old.norms, new.norms):
        norm_new.set_weights(_embed_vectors(norm_old.get_weights(), norm_new.get_weights()))


def _identity(layer, target: keras.Model, have) -> None:
    """Make a layer of a block the source lacks give back its input. Its input is the output
    of its stage's last source block (or of an identity block after it): ReLU of a batch norm,
    whose statistics follow from that norm's gamma and beta (a ReLU'd normal)."""
    stage = int(layer.name[3])  # encS_B_...
    mean, var = _relu_normal_stats(target.get_layer(f"enc{stage}_{have.blocks[stage - 1] - 1}_pw_bn"))
    norm_weights = [np.sqrt(var + likeunet._BN_EPSILON), mean, mean, var]
    if isinstance(layer, likeunet.RepConv):
        for conv in layer.convs:
            kernel = np.zeros_like(conv.get_weights()[0])
            if conv.kernel_size == (3, 3):
                kernel[1, 1] = 1.0
            conv.set_weights([kernel])
        for norm, conv in zip(layer.norms, layer.convs):
            # a zero kernel's norm must add nothing: beta 0
            norm.set_weights(norm_weights if conv.kernel_size == (3, 3) else
                             [np.ones_like(mean), np.zeros_like(mean), np.zeros_like(mean), np.ones_like(var)])
    elif isinstance(layer, keras.layers.Conv2D):
        kernel = np.eye(layer.get_weights()[0].shape[2], dtype=np.float32)[None, None]
        layer.set_weights([kernel])
    else:
        layer.set_weights(norm_weights)


def _relu_normal_stats(norm) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ReLU(x), x ~ N(beta, gamma^2): a batch norm's output in training."""
    gamma, beta = (np.asarray(w, np.float64) for w in norm.get_weights()[:2])
    sigma = np.maximum(np.abs(gamma), 1e-6)
    a = beta / sigma
    pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))
    mean = beta * cdf + sigma * pdf
    second = (beta * beta + sigma * sigma) * cdf + beta * sigma * pdf
    return mean.astype(np.float32), np.maximum(second - mean * mean, 0.0).astype(np.float32)
