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
