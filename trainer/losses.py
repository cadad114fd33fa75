"""Loss and metrics for soft person masks: BCE + Dice + edge-weighted BCE, and the agreement of
two views of one sample; person IoU and mIoU."""

from __future__ import annotations

import keras
from keras import ops

EDGE_WEIGHT = 4.0
EDGE_WINDOW = 5
# A mask value that counts nowhere: the letterbox padding of validation pairs.
IGNORE = -1.0


def split_targets(y_true):
    """(mask, consistency weight per image or None) of a batch of targets: training batches
    of view pairs (``pipeline.training_dataset``) carry the weight as a second channel."""
    y_true = ops.cast(y_true, "float32")
    if y_true.shape[-1] == 2:
        return y_true[..., :1], y_true[:, 0, 0, 1]
    return y_true, None


@keras.saving.register_keras_serializable(package="humanmatting")
def matting_loss(y_true, y_pred):
    """Per-image loss: BCE weighted up to 1 + EDGE_WEIGHT on the mask's edges, plus soft Dice.
    Pixels labelled IGNORE count in neither term. In a batch of view pairs (images 2k and
    2k+1 the same sample), plus the weighted mean squared difference of the pair's
    predictions over the counted pixels: what differs between them is only the camera's
    colour and noise, as between two frames of a still person, so this is flicker."""
    y_true, consistency = split_targets(y_true)
    valid = ops.cast(y_true != IGNORE, "float32")
    y_true = y_true * valid
    y_pred = ops.clip(ops.cast(y_pred, "float32"), 1e-6, 1 - 1e-6)
    bce = -(y_true * ops.log(y_pred) + (1 - y_true) * ops.log(1 - y_pred))
    dilated = ops.max_pool(y_true, EDGE_WINDOW, strides=1, padding="same")
    eroded = -ops.max_pool(-y_true, EDGE_WINDOW, strides=1, padding="same")
    weight = (1.0 + EDGE_WEIGHT * (dilated - eroded)) * valid
    weighted = ops.sum(weight * bce, axis=(1, 2, 3)) / ops.maximum(ops.sum(weight, axis=(1, 2, 3)), 1.0)
    overlap = ops.sum(y_true * y_pred, axis=(1, 2, 3))
    total = ops.sum(y_true, axis=(1, 2, 3)) + ops.sum(y_pred * valid, axis=(1, 2, 3))
    dice = 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)
    if consistency is None:
        return weighted + dice
    return weighted + dice + consistency * ops.repeat(pair_difference(y_pred, valid), 2)


def pair_difference(y_pred, valid):
    """Per pair (images 2k, 2k+1), the mean squared difference of the two predictions over
    the pixels the first's targets count."""
    first, second, counted = y_pred[0::2], y_pred[1::2], valid[0::2]
    return (ops.sum(counted * ops.square(first - second), axis=(1, 2, 3)) /
            ops.maximum(ops.sum(counted, axis=(1, 2, 3)), 1.0))


@keras.saving.register_keras_serializable(package="humanmatting")
class PersonIoU(keras.metrics.Metric):
    """Intersection over union of person pixels (both masks cut at 0.5), over the whole set.

    With ``mean=True`` it is the seed's 2-class mIoU: the mean of person and background IoU.
    Pixels labelled IGNORE count for neither class.
    """

    def __init__(self, mean=False, name=None, **kwargs):
        super().__init__(name=name or ("miou" if mean else "person_iou"), **kwargs)
        self.mean = mean
        self.counts = self.add_variable((4,), initializer="zeros", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = split_targets(y_true)[0]
        valid = ops.cast(y_true != IGNORE, "float32")
        t = ops.cast(y_true > 0.5, "float32")
        p = ops.cast(y_pred > 0.5, "float32") * valid
        both = ops.sum(t * p)
        self.counts.assign_add(ops.stack([both, ops.sum(t) + ops.sum(p) - both,
                                          ops.sum((1 - t) * (1 - p) * valid),
                                          ops.sum((1 - t * p) * valid)]))

    def result(self):
        c = self.counts
        person = c[0] / ops.maximum(c[1], 1.0)
        background = c[2] / ops.maximum(c[3], 1.0)
        return (person + background) / 2 if self.mean else person

    def reset_state(self):
        self.counts.assign(ops.zeros((4,)))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean}
