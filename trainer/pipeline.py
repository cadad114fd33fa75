"""tf.data pipelines: augmented training batches of several aspect ratios, fixed validation batches.

Every training sample is a person photo, randomly scaled (from a person small in the frame
to one cropped by it), placed, cropped and flipped. Most keep their own, real surroundings:
where the scaled photo does not fill the frame its edge pixels are repeated, as the engine's
letterbox does, and labelled ``losses.IGNORE``. A share (``COMPOSITE_PROBABILITY``) is
composited by its mask over a random background (a scene photo or a flat/gradient colour).
Optionally, some get bars of scene texture in front (poles, door frames: not person), some a
motion blur of frame and mask alike. Then colour, gamma, blur and noise jitter, and grey conversion
for the grey model.
Inputs are float32 pixels 0..255, targets float32 masks in [0, 1] (or IGNORE).

Why most samples keep their own scene: a model trained mostly on pasted people learns to
find "the thing that was pasted" and, on real photos, takes doors, poles and walls beside a
person for the person (measured: 80% composites gave 1.5x MediaPipe's false positives).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from trainer import losses

COMPOSITE_PROBABILITY = 0.3
GREY_PROBABILITY = 0.1


def train_shapes(size):
    """(height, width) of training crops: square, portrait and landscape, multiples of 32."""
    if size % 32 or size < 64:
        raise ValueError(f"working size must be a multiple of 32, at least 64; got {size}")
    return ((size, size), (size + 32, size - 32), (size - 32, size + 32))


def _stream(images, masks, seed):
    """An endless generator of (image, mask) in a fresh random order every pass."""
    rng = np.random.default_rng(seed)

    def generate():
        while True:
            for k in rng.permutation(len(images)):
                yield images[k], masks[k][:, :, None]
    return generate


def _uniform(low=0.0, high=1.0):
    return tf.random.uniform([], low, high)


def _cover(image, shape, scale=1.0):
    """Resize so that ``image`` covers ``shape`` (times ``scale``)."""
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    factor = tf.reduce_max(tf.constant(shape, tf.float32) / size) * scale
    return tf.image.resize(image, tf.cast(tf.round(size * factor), tf.int32))


def _zoom(image, shape):
    """Resize to a random scale between 0.6x 'fits inside' (person small, framed by background,
    like a webcam shot) and 1.25x 'covers' (person cropped), log-uniform."""
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    ratio = tf.constant(shape, tf.float32) / size
    low, high = tf.math.log(tf.reduce_min(ratio) * 0.6), tf.math.log(tf.reduce_max(ratio) * 1.25)
    factor = tf.exp(_uniform(0.0, 1.0) * (high - low) + low)
    return tf.image.resize(image, tf.cast(tf.round(size * factor), tf.int32), antialias=True)


def _place(stack, shape, bottom=False):
    """Pad (at a random offset) up to ``shape`` where smaller, by repeating the edge pixels,
    then random-crop to ``shape``. One channel is appended, last: 1 on the photo, 0 on the
    padding.

    ``bottom`` (a bool tensor) puts all vertical padding on top, so that a person whose
    mask runs off the photo's lower edge stays cut by the frame's lower edge.
    """
    size = tf.shape(stack)[:2]
    missing = tf.maximum(tf.constant(shape) - size, 0)
    before = tf.cast(tf.floor(tf.cast(missing, tf.float32) * tf.random.uniform([2])), tf.int32)
    before = tf.where(tf.logical_and(bottom, [True, False]), missing, before)
    rows = tf.range(-before[0], size[0] + missing[0] - before[0])
    cols = tf.range(-before[1], size[1] + missing[1] - before[1])
    inside = tf.cast((rows >= 0) & (rows < size[0]), tf.float32)[:, None, None] * \
        tf.cast((cols >= 0) & (cols < size[1]), tf.float32)[None, :, None]
    stack = tf.gather(tf.gather(stack, tf.clip_by_value(rows, 0, size[0] - 1), axis=0),
                      tf.clip_by_value(cols, 0, size[1] - 1), axis=1)
    return tf.image.random_crop(tf.concat([stack, inside], axis=2), [*shape, tf.shape(stack)[2] + 1])


def _background(backgrounds, shape):
    """A random scene crop, or (one time in five, or with no scenes) a flat/gradient colour."""
    def colour():
        top, bottom = tf.random.uniform([3], 0, 255), tf.random.uniform([3], 0, 255)
        ramp = tf.linspace(0.0, 1.0, shape[0])[:, None, None]
        return tf.broadcast_to(top * (1 - ramp) + bottom * ramp, [*shape, 3])

    if backgrounds is None:
        return colour()

    def scene():
        k = tf.random.uniform([], 0, backgrounds.nrows(), tf.int64)
        image = tf.cast(backgrounds[k].to_tensor(), tf.float32)
        image = _place(_cover(image, shape, _uniform(1.0, 1.6)), shape)[:, :, :3]
        return tf.image.random_flip_left_right(image)
    return tf.cond(_uniform() < 0.2, colour, scene)


def _jitter(image, strength):
    image = image * _uniform(1 - 0.25 * strength, 1 + 0.25 * strength)
    image = image + _uniform(-20.0, 20.0) * strength
    mean = tf.reduce_mean(image)
    return (image - mean) * _uniform(1 - 0.3 * strength, 1 + 0.3 * strength) + mean


def _degrade(image, shape):
    """Camera-like degradation of the whole frame: saturation, gamma, blur, noise."""
    image = tf.clip_by_value(image, 0, 255)
    image = tf.image.adjust_saturation(image, _uniform(0.6, 1.4))
    image = 255.0 * tf.pow(image / 255.0, _uniform(0.75, 1.33))
    image = tf.cond(_uniform() < 0.3, lambda: tf.image.resize(
        tf.image.resize(image, tf.cast(tf.constant(shape, tf.float32) * _uniform(0.3, 0.7),
                                       tf.int32), antialias=True), shape), lambda: image)
    noise = tf.random.normal(tf.shape(image), stddev=_uniform(0.0, 6.0))
    return tf.clip_by_value(image + noise, 0, 255)


def motion_kernel(length, angle, size=15):
    """A ``size`` x ``size`` kernel, summing to 1, that smears along a line of ``length``
    pixels (at most ``size``) at ``angle`` radians: one frame of a moving camera or person.
    It is a one-pixel-wide ``bar`` through the centre, at ``angle`` from the horizontal."""
    centre = (size - 1) / 2
    line = bar((size, size), (centre, centre), math.pi / 2 - angle, 0.5, length / 2)[:, :, 0]
    return line / tf.reduce_sum(line)


def _motion_blur(stack):
    """The same random motion blur on every channel of an HxWxC stack (pixels and mask)."""
    size = 15
    kernel = motion_kernel(_uniform(3.0, size), _uniform(0.0, 3.14159), size)
    channels = tf.shape(stack)[2]
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, channels, 1])
    pad = size // 2
    padded = tf.pad(stack[None], [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")[0]


def bar(shape, centre, angle, half_width, half_length):
    """Coverage (HxWx1, 0..1, anti-aliased) of a bar around ``centre`` (y, x), ``angle``
    radians from the vertical."""
    y = tf.range(shape[0], dtype=tf.float32)[:, None] - centre[0]
    x = tf.range(shape[1], dtype=tf.float32)[None, :] - centre[1]
    c, s = tf.cos(angle), tf.sin(angle)
    across = tf.abs(x * c - y * s)
    along = tf.abs(x * s + y * c)
    inside = tf.clip_by_value(half_width - across + 0.5, 0.0, 1.0)
    return (inside * tf.clip_by_value(half_length - along + 0.5, 0.0, 1.0))[:, :, None]


def _occlude(image, mask, backgrounds, shape):
    """One or two bars of scene texture (or flat colour) in front of the person and the
    scene, near vertical, not person: what a model that learnt 'upright and in the middle is a
    person' takes for one."""
    h, w = float(shape[0]), float(shape[1])
    for k in range(2):
        cover = bar(shape, (_uniform(0.0, h), _uniform(0.0, w)), _uniform(-0.5, 0.5),
                    _uniform(0.01, 0.05) * w, _uniform(0.3, 0.8) * h)
        if k:  # the second bar, 70% of the time
            cover = cover * tf.cast(_uniform() < 0.7, tf.float32)
        texture = _jitter(_background(backgrounds, shape), 1.0)
        image = image * (1 - cover) + texture * cover
        mask = mask * (1 - cover)
    return image, mask


def augment(image, mask, shape, backgrounds=None, grey=False, negatives=0.0, occluders=0.0,
            motion_blur=0.0):
    """One training sample ``(pixels HxWxC float32 0..255, mask HxWx1 float32 0..1)``.
    With probability ``negatives`` (given scenes) the sample is a scene alone, mask empty;
    with probability ``occluders`` bars of scene texture stand in front (``_occlude``); with
    probability ``motion_blur`` frame and mask are smeared along a line (``_motion_blur``)."""
    image = tf.cast(image, tf.float32)
    mask = tf.cast(mask, tf.float32) / 255.0
    stack = _zoom(tf.concat([image, mask], axis=2), shape)
    cut_at_bottom = tf.reduce_max(stack[-1, :, 3]) > 0.5
    stack = tf.image.random_flip_left_right(_place(stack, shape, cut_at_bottom))
    person, mask, inside = stack[:, :, :3], stack[:, :, 3:4], stack[:, :, 4:5]
    composite = _uniform() < COMPOSITE_PROBABILITY
    if negatives and backgrounds is not None:  # what is not a person: poles, animals, prams
        empty = _uniform() < negatives
        mask = tf.where(empty, tf.zeros_like(mask), mask)
        composite = tf.logical_or(composite, empty)
    mask = tf.where(composite, mask * inside, mask)  # pasted: the person ends with the photo
    person = tf.cond(composite, lambda: _jitter(person, 0.5), lambda: person)
    mixed = person * mask + _jitter(_background(backgrounds, shape), 1.0) * (1 - mask)
    image = tf.where(composite, mixed, person)
    image, mask = tf.cond(_uniform() < occluders,
                          lambda: _occlude(image, mask, backgrounds, shape), lambda: (image, mask))
    blurred = tf.cond(_uniform() < motion_blur,
                      lambda: _motion_blur(tf.concat([image, mask], axis=2)),
                      lambda: tf.concat([image, mask], axis=2))
    image, mask = blurred[:, :, :3], blurred[:, :, 3:4]
    image = _degrade(_jitter(image, 0.5), shape)
    if grey:
        image = tf.image.rgb_to_grayscale(image)
    else:  # some grey frames keep the RGB model usable on black-and-white footage
        image = tf.cond(_uniform() < GREY_PROBABILITY,
                        lambda: tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image)),
                        lambda: image)
    # kept own scene: the repeated edges are no one's business, as in the engine's letterbox
    mask = tf.where(composite | (inside > 0.5), tf.clip_by_value(mask, 0.0, 1.0), losses.IGNORE)
    return image, mask


def _ragged_backgrounds(backgrounds):
    if not backgrounds:
        return None
    return tf.ragged.stack([tf.constant(b) for b in backgrounds])


def distil(images, masks, teacher, weight, grey=False):
    """Blend the teacher's person probability into the targets of a batch of colour
    ``images``: ``(1 - weight) * mask + weight * teacher``, IGNORE kept. The teacher sees the
    colour frame (or its grey, if it is a grey model), the student what ``grey`` says.

    The targets of a grey student then carry what an RGB model reads from the colour it will
    never see, and soft labels where the masks are hard; with ``weight`` below 0.5 a target
    still falls on the mask's side of 0.5, so the metrics count against the masks."""
    grey_teacher = teacher.inputs[0].shape[-1] == 1
    grey_images = tf.image.rgb_to_grayscale(images) if grey or grey_teacher else None
    seen = grey_images if grey_teacher else images
    blended = (1.0 - weight) * masks + weight * tf.cast(teacher(seen, training=False), tf.float32)
    targets = tf.where(masks == losses.IGNORE, masks, blended)
    return (grey_images if grey else images), targets


def training_dataset(images, masks, backgrounds, batch_size, size=256, grey=False, seed=0,
                     negatives=0.0, teacher=None, teacher_weight=0.3, occluders=0.0,
                     motion_blur=0.0):
    """Endless batches; each has one of ``train_shapes(size)``, chosen at random per batch.
    With a ``teacher`` model, targets are blended with its predictions (``distil``)."""
    if not images:
        raise ValueError("no training pairs could be loaded")
    ragged = _ragged_backgrounds(backgrounds)
    signature = (tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([None, None, 1], tf.uint8))
    per_shape = []
    # with a teacher the samples stay in colour until it has seen them
    sample_grey = grey and teacher is None
    for k, shape in enumerate(train_shapes(size)):
        data = tf.data.Dataset.from_generator(_stream(images, masks, seed + k),
                                              output_signature=signature)
        data = data.map(lambda i, m, s=shape: augment(i, m, s, ragged, sample_grey, negatives,
                                                      occluders, motion_blur),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        per_shape.append(data.batch(batch_size, drop_remainder=True))
    batches = tf.data.Dataset.sample_from_datasets(per_shape, seed=seed)
    if teacher is not None:
        batches = batches.map(lambda x, y: distil(x, y, teacher, teacher_weight, grey))
    return batches.prefetch(tf.data.AUTOTUNE)


def letterbox(image, mask, size=256):
    """Fit (image, mask) inside size x size keeping the aspect ratio, as the engine's Segmenter
    does: scaled, then padded at the bottom and right by repeating the edge pixels (black bars
    are never seen in training and cost the model ~0.15 IoU on them). The mask's padding is
    ``losses.IGNORE``: the engine crops it away, so neither the loss nor the metrics count it
    (counted, the repeated edges of a person cost the figure ~0.06 IoU for nothing)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA).reshape(nh, nw, -1)
    mask = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    out_i = cv2.copyMakeBorder(image, 0, size - nh, 0, size - nw, cv2.BORDER_REPLICATE)
    out_m = np.full((size, size, 1), losses.IGNORE, np.float32)
    out_m[:nh, :nw, 0] = mask.reshape(nh, nw)
    return out_i.reshape(size, size, -1).astype(np.float32), out_m


def validation_dataset(images, masks, batch_size, grey=False, size=256):
    """Validation pairs letterboxed to size x size, in a fixed order."""
    pairs = [letterbox(i, m, size) for i, m in zip(images, masks)]
    x = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, size, size, 3), np.float32)
    y = np.stack([p[1] for p in pairs]) if pairs else np.zeros((0, size, size, 1), np.float32)
    if grey:
        x = x @ np.array([0.2989, 0.5870, 0.1140], np.float32)[:, None]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
