import cv2
import numpy as np
import pytest

from humanmatting_gui import postprocess

from conftest import person_image


def _noisy_sequence(n=30, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.zeros((48, 64), np.float32)
    truth[10:40, 20:44] = 1.0
    frames = [np.full((48, 64, 3), 100, np.uint8)] * n
    masks = [np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1).astype(np.float32) for _ in range(n)]
    return truth, frames, masks


def _flicker(masks):
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])]))


def test_smoothing_reduces_frame_to_frame_change():
    truth, frames, masks = _noisy_sequence()
    smoother = postprocess.TemporalSmoother(0.7)
    smoothed = [smoother(m, f).copy() for m, f in zip(masks, frames)]
    assert _flicker(smoothed) < 0.6 * _flicker(masks)
    # and the smoothed mask, cut at 0.5, is closer to the truth than the raw one
    def errors(m):
        return int(np.sum((m > 0.5) != (truth > 0.5)))
    assert errors(smoothed[-1]) < errors(masks[-1])


def test_zero_strength_passes_masks_through():
    _, frames, masks = _noisy_sequence(5)
    smoother = postprocess.TemporalSmoother(0.0)
    for m, f in zip(masks, frames):
        np.testing.assert_array_equal(smoother(m, f), m)


def test_scene_cut_resets_the_history():
    smoother = postprocess.TemporalSmoother(0.9)
    ones = np.ones((48, 64), np.float32)
    smoother(ones, np.zeros((48, 64, 3), np.uint8))
    # same scene: a small change is smoothed
    out = smoother(ones * 0.8, np.zeros((48, 64, 3), np.uint8))
    assert out.mean() > 0.9
    cut = smoother(ones * 0.8, np.full((48, 64, 3), 255, np.uint8))
    np.testing.assert_allclose(cut, 0.8)


def test_strength_is_validated():
    with pytest.raises(ValueError):
        postprocess.TemporalSmoother(1.0)


def test_guided_filter_snaps_a_blurry_mask_to_the_image_edge():
    image, mask = person_image(240, 320)
    truth = mask.astype(np.float32) / 255
    # what the model gives: the mask at a quarter of the size, upscaled
    small = cv2.resize(truth, (80, 60), interpolation=cv2.INTER_AREA)
    blurry = cv2.resize(small, (320, 240), interpolation=cv2.INTER_LINEAR)
    refined = postprocess.guided_filter(blurry, image, radius=4)
    assert refined.shape == truth.shape and refined.dtype == np.float32
    assert np.abs(refined - truth).mean() < np.abs(blurry - truth).mean()


def test_threshold_softness():
    alpha = np.linspace(0, 1, 11, dtype=np.float32)
    np.testing.assert_array_equal(postprocess.threshold_softness(alpha), alpha)
    hard = postprocess.threshold_softness(alpha, 0.35, 0.0)
    np.testing.assert_array_equal(hard, (alpha > 0.35).astype(np.float32))
    ramp = postprocess.threshold_softness(alpha, 0.5, 0.2)
    assert ramp[3] == 0.0 and ramp[7] == 1.0 and ramp[5] == pytest.approx(0.5)


def _moving_disc_clip(frames=12, step=4, seed=0):
    """A textured disc moving right over a textured background: frames, true alphas, and
    predictions that flicker (random blotches in and out, and a shaky edge)."""
    rng = np.random.default_rng(seed)
    h, w = 72, 120
    background = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
    skin = rng.integers(140, 255, (h, w, 3), dtype=np.uint8)
    y, x = np.mgrid[:h, :w]
    clip = []
    for k in range(frames):
        truth = (((y - 36) ** 2 + (x - 25 - step * k) ** 2) <= 15 ** 2).astype(np.float32)
        frame = np.where(truth[..., None] > 0, np.roll(skin, step * k, axis=1), background)
        noise = rng.random((h // 8, w // 8)) < 0.08
        blotches = cv2.resize(noise.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
        pred = np.clip(truth + blotches * (1 - 2 * truth) * rng.uniform(0.5, 0.9), 0, 1)
        pred = np.clip(pred + rng.normal(0, 0.08, pred.shape), 0, 1).astype(np.float32)
        clip.append((frame, truth, pred))
    return clip


def test_flow_fusion_flickers_less_and_leaves_no_trail():
    from trainer.evaluate_video import dtssd

    clip = _moving_disc_clip()
    fused = {}
    for name, smoother in (("raw", None), ("ema", postprocess.TemporalSmoother(0.8)),
                           ("flow", postprocess.FlowFusion(0.8))):
        fused[name] = [p if smoother is None else smoother(p, f).copy() for f, _, p in clip]
    truths = [t for _, t, _ in clip]

    def flicker(alphas):
        return np.mean([dtssd(alphas[k], alphas[k - 1], truths[k], truths[k - 1]) for k in range(1, len(alphas))])

    def trail(alphas):  # alpha left where the disc was 3 frames ago and is no more
        gone = [(truths[k - 3] > 0.5) & (truths[k] < 0.5) for k in range(3, len(alphas))]
        return np.mean([alphas[k][g].mean() for k, g in zip(range(3, len(alphas)), gone)])
    assert flicker(fused["flow"]) < 0.8 * flicker(fused["raw"])
    assert trail(fused["flow"]) < trail(fused["ema"])
    assert trail(fused["flow"]) < trail(fused["raw"]) + 0.05
    # strength 0 passes masks through; a cut starts afresh
    passthrough = postprocess.FlowFusion(0.0)
    assert all(np.array_equal(passthrough(p, f), p) for f, _, p in clip[:3])
    fusion = postprocess.FlowFusion(0.8)
    fusion(clip[0][2], clip[0][0])
    cut = np.full_like(clip[1][0], 255)
    np.testing.assert_array_equal(fusion(clip[1][2], cut), clip[1][2])


def test_a_segmenter_with_motion_uses_flow_fusion(models_env):
    from humanmatting_gui.segmenter import Segmenter, SegmenterSettings

    seg = Segmenter("rgb", SegmenterSettings(smoothing=0.5, motion=True))
    assert isinstance(seg._smoother, postprocess.FlowFusion)
    seg.configure(SegmenterSettings(smoothing=0.5))
    assert type(seg._smoother) is postprocess.TemporalSmoother
    frame = np.zeros((48, 64, 3), np.uint8)
    seg.configure(SegmenterSettings(smoothing=0.5, motion=True))
    assert seg.segment(frame).shape == (48, 64) and seg.segment(frame).shape == (48, 64)
