"""Keras 3's ``fit`` under ``tf.distribute.MultiWorkerMirroredStrategy``: two upstream bugs
worked around here, and nowhere else (keras-team/keras#20585, open as of Keras 3.15):

1. ``fit`` all-reduces a first input batch across the workers to build the model; that
   fails ("Attempt to convert a value (PerReplica...)"). Our model is built before ``fit``,
   so it is told no strategy of its own and takes the one of the scope ``fit`` runs in.
2. Each step's scalar results (loss, metrics) are reduced across workers with
   ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar ("Invalid reduction
   dimension 0 for input with 0 dimensions"); a scalar is reduced with ``axis=None``.

And one choice: batch norms use the statistics of the global batch (``synchronized``), so
that their moving averages, like every other weight, are the same on every worker.

All are checked by tests/test_multiworker.py, which trains on two worker processes.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

_reduce = tf_trainer.reduce_per_replica


def _reduce_per_replica(values, strategy, reduction):
    if reduction == "auto" and tf_trainer._collective_all_reduce_multi_worker(strategy):
        def mean(v):
            if isinstance(v, tf.distribute.DistributedValues):
                return strategy.reduce("MEAN", v, axis=0 if v.values[0].shape.rank else None)
            return v
        return tf.nest.map_structure(mean, values)
    return _reduce(values, strategy, reduction)


def prepare(net: keras.Model) -> None:
    """Make ``net.fit`` work on several workers; call it inside ``strategy.scope()``, then
    call ``fit`` inside the same scope."""
    tf_trainer.reduce_per_replica = _reduce_per_replica
    net._distribute_strategy = None
    for layer in net._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
