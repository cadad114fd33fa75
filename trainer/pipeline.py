"""tf.data pipelines: augmented training batches of several aspect ratios, fixed validation batches.

Every training sample is a person photo, randomly scaled (from a person small in the frame
to one cropped by it), placed, cropped and flipped. Most keep their own, real surroundings:
where the scaled photo does not fill the frame its edge pixels are repeated, as the engine's
letterbox does, and labelled ``losses.IGNORE``. A share (``Augmentation.composite``) is
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
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from humanmatting_gui.segmenter import working_shape
from trainer import losses

GREY_PROBABILITY = 0.1


@dataclass(frozen=True)
class Augmentation:
    """What the training samples go through; each field a share of samples, 0 = never.

    ``composite``: pasted by the mask over a scene or colour (the rest keep their own scene).
    ``negatives``: a scene alone, mask empty (given scenes). ``occluders``: bars of scene
    texture in front, not person. ``motion_blur``: frame and mask smeared along a line.
    ``rotate``: turned by up to ``max_angle`` degrees, one in ten of them upside down.
    ``small``: the person shrunk to 10-30% of the frame's height, composited.
    ``textures``: of the composites, those over a colourful synthetic texture.
    The last five are the motion augmentation: a sample's ``motion`` (``augment``) scales them.
    The defaults reproduce the shipped models' training."""

    composite: float = 0.3
    negatives: float = 0.0
    occluders: float = 0.0
    motion_blur: float = 0.0
    rotate: float = 0.0
    max_angle: float = 60.0
    small: float = 0.0
    textures: float = 0.0

    def __post_init__(self):
        for name, value in vars(self).items():
            if name != "max_angle" and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a share between 0 and 1, got {value}")


def train_shapes(size):
    """(height, width) of training crops: square, portrait and landscape, multiples of 32."""
    if size % 32 or size < 64:
        raise ValueError(f"working size must be a multiple of 32, at least 64; got {size}")
    return ((size, size), (size + 32, size - 32), (size - 32, size + 32))


def _stream(images, masks, weights, motions, seed):
    """An endless generator of (image, mask, teacher weight, motion share) in a fresh random
    order every pass."""
    rng = np.random.default_rng(seed)

    def generate():
        while True:
            for k in rng.permutation(len(images)):
                yield images[k], with_validity(masks[k]), weights[k], motions[k]
    return generate


def with_validity(mask: np.ndarray) -> np.ndarray:
    """uint8 HxWx2 (label, validity 255 = counted) from an HxW mask (all counted) or HxWx2."""
    if mask.ndim == 3:
        return mask
    return np.stack([mask, np.full_like(mask, 255)], axis=2)


def _uniform(low=0.0, high=1.0):
    return tf.random.uniform([], low, high)


def _cover(image, shape, scale=1.0):
    """Resize so that ``image`` covers ``shape`` (times ``scale``)."""
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    factor = tf.reduce_max(tf.constant(shape, tf.float32) / size) * scale
    return tf.image.resize(image, tf.cast(tf.round(size * factor), tf.int32))


def _zoom(image, shape, small=False):
    """Resize to a random scale between 0.6x 'fits inside' (person small, framed by background,
    like a webcam shot) and 1.25x 'covers' (person cropped), log-uniform; if ``small`` (a bool
    tensor), between 0.12x and 0.35x 'fits inside' (a whole body 10-30% of the frame high)."""
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    ratio = tf.constant(shape, tf.float32) / size
    low = tf.reduce_min(ratio) * tf.where(small, 0.12, 0.6)
    high = tf.where(small, tf.reduce_min(ratio) * 0.35, tf.reduce_max(ratio) * 1.25)
    low, high = tf.math.log(low), tf.math.log(high)
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


def colour_texture(shape):
    """A colourful synthetic scene (HxWx3 float32 0..255): smooth blobs of saturated colour
    crossed by stripes, what wall paintings, posters and stage sets put behind people."""
    cells = tf.random.uniform([2], 2, 9, tf.int32)
    blobs = tf.image.resize(tf.random.uniform([cells[0], cells[1], 3], 0, 255), shape)
    y = tf.range(shape[0], dtype=tf.float32)[:, None]
    x = tf.range(shape[1], dtype=tf.float32)[None, :]
    angle, period = _uniform(0.0, math.pi), _uniform(6.0, 40.0)
    stripes = tf.cast(tf.sin((x * tf.cos(angle) + y * tf.sin(angle)) * 2 * math.pi / period) > 0,
                      tf.float32)[:, :, None]
    ink = tf.random.uniform([3], 0, 255)
    share = _uniform(0.0, 0.7)
    return blobs * (1 - share * stripes) + ink * share * stripes


def _background(backgrounds, shape, textures):
    """A random scene crop, or (one time in five, or with no scenes) a flat/gradient colour;
    a share ``textures`` of them a colourful synthetic texture instead."""
    return tf.cond(_uniform() < textures, lambda: colour_texture(shape),
                   lambda: _plain_background(backgrounds, shape))


def _plain_background(backgrounds, shape):
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
        texture = _jitter(_plain_background(backgrounds, shape), 1.0)
        image = image * (1 - cover) + texture * cover
        mask = mask * (1 - cover)
    return image, mask


def rotate(stack, angle):
    """``stack`` (HxWxC) turned by ``angle`` radians about its centre, edge pixels repeated
    beyond the photo, and one channel appended, last: 1 where the photo was, 0 beyond it."""
    h, w = tf.cast(tf.shape(stack)[0], tf.float32), tf.cast(tf.shape(stack)[1], tf.float32)
    c, s = tf.cos(angle), tf.sin(angle)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # output (x, y) -> input (c x - s y + ..., s x + c y + ...): a turn about the centre
    transform = tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0.0, 0.0])[None]
    ones = tf.ones_like(stack[:, :, :1])

    def turn(image, mode):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=image[None], transforms=transform, output_shape=tf.shape(stack)[:2],
            fill_value=0.0, interpolation="BILINEAR", fill_mode=mode)[0]
    return tf.concat([turn(stack, "NEAREST"), turn(ones, "CONSTANT")], axis=2)


def _turn_angle(max_angle):
    """Radians: within +-``max_angle`` degrees, or one time in ten upside down (180 +- 30)."""
    angle = _uniform(-max_angle, max_angle)
    angle = tf.where(_uniform() < 0.1, 180.0 + _uniform(-30.0, 30.0), angle)
    return angle * (math.pi / 180.0)


def _split_mask(mask):
    """(mask HxWx1 0..1, valid HxWx1 0/1) from a uint8 mask of one channel (all valid) or two
    (the label and its validity, 255 = counted; ``data.load_pair`` writes it for ignore values)."""
    mask = tf.cast(mask, tf.float32) / 255.0
    if mask.shape[-1] == 2:
        return mask[:, :, :1], mask[:, :, 1:2]
    return mask, tf.ones_like(mask)


def augment(image, mask, shape, backgrounds=None, grey=False, augmentation=Augmentation(),
            motion=1.0):
    """One training sample ``(pixels HxWxC float32 0..255, mask HxWx1 float32 0..1 or
    IGNORE)`` from an RGB uint8 photo and its uint8 mask (see ``_split_mask``), put through
    ``augmentation`` (see ``Augmentation``), its motion augmentation's shares times
    ``motion`` (0: the shipped models' augmentation only)."""
    scene, mask = _stage(image, mask, shape, backgrounds, augmentation, motion)
    return _camera(scene, shape, grey), mask


def augment_pair(image, mask, shape, backgrounds=None, grey=False, augmentation=Augmentation(),
                 motion=1.0):
    """Two views of one training sample, ``(pixels 2xHxWxC, masks 2xHxWx1)``: the same scene,
    person and geometry, seen through two independent draws of the camera's colour, blur and
    noise (as two frames of a still person differ), so their masks are equal."""
    scene, mask = _stage(image, mask, shape, backgrounds, augmentation, motion)
    return tf.stack([_camera(scene, shape, grey), _camera(scene, shape, grey)]), tf.stack([mask, mask])


def _stage(image, mask, shape, backgrounds, a, motion=1.0):
    """The scene of a sample before the camera: geometry, pasting, occluders, motion blur."""
    image = tf.cast(image, tf.float32)
    mask, valid = _split_mask(mask)
    motion = tf.cast(motion, tf.float32)
    small = _uniform() < a.small * motion
    stack = tf.concat([image, mask, valid], axis=2)
    if a.rotate:
        stack = tf.cond(_uniform() < a.rotate * motion, lambda: rotate(stack, _turn_angle(a.max_angle)),
                        lambda: tf.concat([stack, tf.ones_like(mask)], axis=2))
        # beyond the turned photo nothing is known: not valid, unless pasted
        stack = tf.concat([stack[:, :, :4], stack[:, :, 4:5] * stack[:, :, 5:6]], axis=2)
    stack = _zoom(stack, shape, small)
    cut_at_bottom = tf.reduce_max(stack[-1, :, 3]) > 0.5
    stack = tf.image.random_flip_left_right(_place(stack, shape, cut_at_bottom))
    person, mask, valid, inside = stack[:, :, :3], stack[:, :, 3:4], stack[:, :, 4:5], stack[:, :, 5:6]
    composite = (_uniform() < a.composite) | small
    if a.negatives and backgrounds is not None:  # what is not a person: poles, animals, prams
        empty = _uniform() < a.negatives
        mask = tf.where(empty, tf.zeros_like(mask), mask)
        composite = tf.logical_or(composite, empty)
    # pasted: the person ends with the photo, and what was not known is pasted over
    mask = tf.where(composite, mask * inside * tf.cast(valid > 0.5, tf.float32), mask)
    person = tf.cond(composite, lambda: _jitter(person, 0.5), lambda: person)
    scene = (_background(backgrounds, shape, a.textures * motion) if a.textures
             else _plain_background(backgrounds, shape))
    mixed = person * mask + _jitter(scene, 1.0) * (1 - mask)
    image = tf.where(composite, mixed, person)
    image, mask = tf.cond(_uniform() < a.occluders * motion,
                          lambda: _occlude(image, mask, backgrounds, shape), lambda: (image, mask))
    blurred = tf.cond(_uniform() < a.motion_blur * motion,
                      lambda: _motion_blur(tf.concat([image, mask], axis=2)),
                      lambda: tf.concat([image, mask], axis=2))
    image, mask = blurred[:, :, :3], blurred[:, :, 3:4]
    # kept own scene: the repeated edges are no one's business, as in the engine's letterbox,
    # and neither is what the labels mark unknown
    counted = composite | ((inside > 0.5) & (valid > 0.5))
    return image, tf.where(counted, tf.clip_by_value(mask, 0.0, 1.0), losses.IGNORE)


def _camera(image, shape, grey):
    """What the camera does to a scene: colour, gamma, blur and noise; grey where asked."""
    image = _degrade(_jitter(image, 0.5), shape)
    if grey:
        return tf.image.rgb_to_grayscale(image)
    # some grey frames keep the RGB model usable on black-and-white footage
    return tf.cond(_uniform() < GREY_PROBABILITY,
                   lambda: tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image)),
                   lambda: image)


def _ragged_backgrounds(backgrounds):
    if not backgrounds:
        return None
    return tf.ragged.stack([tf.constant(b) for b in backgrounds])


def distil(images, masks, teacher, weight, grey=False):
    """Blend the teacher's person probability into the targets of a batch of colour
    ``images``: ``(1 - weight) * mask + weight * teacher``, IGNORE kept. The teacher sees the
    colour frame (or its grey, if it is a grey model), the student what ``grey`` says.
    ``weight``: one for the batch, or one per image (0: the image keeps its own targets).

    The targets of a grey student then carry what an RGB model reads from the colour it will
    never see, and soft labels where the masks are hard; with ``weight`` below 0.5 a target
    still falls on the mask's side of 0.5, so the metrics count against the masks."""
    grey_teacher = teacher.inputs[0].shape[-1] == 1
    grey_images = tf.image.rgb_to_grayscale(images) if grey or grey_teacher else None
    seen = grey_images if grey_teacher else images
    weight = tf.reshape(tf.cast(weight, tf.float32), [-1, 1, 1, 1])
    blended = (1.0 - weight) * masks + weight * tf.cast(teacher(seen, training=False), tf.float32)
    targets = tf.where(masks == losses.IGNORE, masks, blended)
    return (grey_images if grey else images), targets


def training_dataset(images, masks, backgrounds, batch_size, size=256, grey=False, seed=0,
                     augmentation=Augmentation(), teacher=None, teacher_weight=0.3,
                     consistency=0.0, motion=1.0):
    """Endless batches; each has one of ``train_shapes(size)``, chosen at random per batch.
    ``masks``: uint8, HxW, or HxWx2 with a validity channel (``data.load_pair``).
    With a ``teacher`` model, targets are blended with its predictions (``distil``) at
    ``teacher_weight``: one for all pairs or one per pair (0: that pair keeps its own targets).
    ``motion``: the share of ``augmentation``'s motion augmentation, one for all pairs or one
    per pair (0: that pair gets the shipped models' augmentation only, see ``augment``).
    With ``consistency`` > 0 a batch holds ``batch_size / 2`` samples, each as two views
    (``augment_pair``: images 2k and 2k+1), and the targets get a second channel holding
    ``consistency``, the weight ``losses.matting_loss`` gives their agreement."""
    if not images:
        raise ValueError("no training pairs could be loaded")
    if consistency and (batch_size % 2 or teacher is not None):
        raise ValueError("consistency pairs need an even batch and no teacher")
    ragged = _ragged_backgrounds(backgrounds)
    signature = (tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([None, None, 2], tf.uint8),
                 tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32))
    weights = np.broadcast_to(np.asarray(teacher_weight, np.float32), len(images))
    motions = np.broadcast_to(np.asarray(motion, np.float32), len(images))
    per_shape = []
    # with a teacher the samples stay in colour until it has seen them
    sample_grey = grey and teacher is None
    sample = augment_pair if consistency else augment
    for k, shape in enumerate(train_shapes(size)):
        data = tf.data.Dataset.from_generator(_stream(images, masks, weights, motions, seed + k),
                                              output_signature=signature)
        data = data.map(lambda i, m, w, v, s=shape: (*sample(i, m, s, ragged, sample_grey,
                                                             augmentation, v), w),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        if consistency:
            data = data.batch(batch_size // 2, drop_remainder=True).map(
                lambda x, y, w: _interleave_pairs(x, y, consistency))
        elif teacher is None:
            data = data.batch(batch_size, drop_remainder=True).map(lambda x, y, w: (x, y))
        else:
            data = data.batch(batch_size, drop_remainder=True)
        per_shape.append(data)
    batches = tf.data.Dataset.sample_from_datasets(per_shape, seed=seed)
    if teacher is not None:
        batches = batches.map(lambda x, y, w: distil(x, y, teacher, w, grey))
    return batches.prefetch(tf.data.AUTOTUNE)


def _interleave_pairs(images, masks, weight):
    """Nx2xHxWxC pairs as 2N images, the two views of a sample side by side; the targets
    with the consistency weight as a second channel."""
    flat = lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], axis=0))
    masks = flat(masks)
    return flat(images), tf.concat([masks, tf.fill(tf.shape(masks), float(weight))], axis=-1)


def letterbox(image, mask, size=256):
    """Fit (image, mask) into the engine's working shape for ``size`` (``working_shape``: at
    most size x size pixels, aspect kept, sides multiples of 32, e.g. 288x224 for 4:3), as its
    Segmenter does: scaled, then padded at the bottom and right by repeating the edge pixels
    (black bars are never seen in training and cost the model ~0.15 IoU on them). The mask's
    padding, and what a two-channel mask marks not valid, is ``losses.IGNORE``: the engine
    crops the padding away, so neither the loss nor the metrics count it."""
    h, w = image.shape[:2]
    nh, nw, ph, pw = working_shape(h, w, size)
    image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA).reshape(nh, nw, -1)
    mask = cv2.resize(with_validity(mask), (nw, nh), interpolation=cv2.INTER_AREA)
    mask = mask.reshape(nh, nw, 2).astype(np.float32) / 255.0
    out_i = cv2.copyMakeBorder(image, 0, ph - nh, 0, pw - nw, cv2.BORDER_REPLICATE)
    out_m = np.full((ph, pw, 1), losses.IGNORE, np.float32)
    out_m[:nh, :nw, 0] = np.where(mask[:, :, 1] > 0.5, mask[:, :, 0], losses.IGNORE)
    return out_i.reshape(ph, pw, -1).astype(np.float32), out_m


def validation_dataset(images, masks, batch_size, grey=False, size=256):
    """Validation pairs letterboxed as the engine does (``letterbox``), in a fixed order
    within each working shape, batched by shape (a batch holds one shape)."""
    by_shape: dict = {}
    for i, m in zip(images, masks):
        x, y = letterbox(i, m, size)
        by_shape.setdefault(x.shape[:2], []).append((x, y))
    sets = []
    for shape in sorted(by_shape):
        x = np.stack([p[0] for p in by_shape[shape]])
        if grey:
            x = x @ np.array([0.2989, 0.5870, 0.1140], np.float32)[:, None]
        y = np.stack([p[1] for p in by_shape[shape]])
        sets.append(tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size))
    if not sets:
        channels = 1 if grey else 3
        return tf.data.Dataset.from_tensor_slices(
            (np.zeros((0, size, size, channels), np.float32),
             np.zeros((0, size, size, 1), np.float32))).batch(batch_size)
    out = sets[0]
    for more in sets[1:]:
        out = out.concatenate(more)
    return out
