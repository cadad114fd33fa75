import cv2
import numpy as np
import pytest

from humanmatting_gui.compositing import Background, Compositor
from humanmatting_gui.look import HARMONY_SHIFT, Harmonizer, Look, estimate_foreground, light_wrap
from humanmatting_gui.main_person import SWITCH_FRAMES, MainPerson


def _people(big=(120, 90, 40), small=(250, 90, 20), size=(180, 320)):
    """An alpha with two people (discs at (x, y, radius)): a large one and a smaller one."""
    alpha = np.zeros(size, np.float32)
    for x, y, r in (big, small):
        cv2.circle(alpha, (x, y), r, 1.0, -1)
    return alpha


def test_just_me_keeps_the_main_person_and_holds_on_to_them():
    main = MainPerson()
    kept = main(_people())
    assert kept[90, 120] == 1.0 and kept[90, 250] == 0.0  # the larger one, the other gone
    # the other comes closer (bigger) for one frame: the choice does not jump
    kept = main(_people(small=(250, 90, 55)))
    assert kept[90, 120] == 1.0 and kept[90, 250] == 0.0
    kept = main(_people())
    assert kept[90, 120] == 1.0 and kept[90, 250] == 0.0
    # they stay much bigger: after SWITCH_FRAMES frames the main person changes
    for _ in range(SWITCH_FRAMES):
        kept = main(_people(small=(250, 90, 70)))
    assert kept[90, 250] == 1.0 and kept[90, 120] == 0.0
    # off, nothing changes; one person alone is kept whole
    alone = _people(small=(0, 0, 0))
    np.testing.assert_array_equal(MainPerson()(alone), alone)


def test_just_me_prefers_the_central_person_of_two_alike():
    alpha = _people(big=(60, 90, 35), small=(165, 90, 33))  # the second is central, a bit smaller
    kept = MainPerson(stream=False)(alpha)
    assert kept[90, 165] == 1.0 and kept[90, 60] == 0.0


def _soft_person(size=(120, 160)):
    alpha = np.zeros(size, np.float32)
    cv2.circle(alpha, (80, 60), 40, 1.0, -1)
    return cv2.GaussianBlur(alpha, (0, 0), 2.0)


def test_light_wrap_moves_the_edge_toward_the_background_and_leaves_the_interior():
    alpha = _soft_person()
    person = np.full((120, 160, 3), (40, 40, 40), np.uint8)
    back = np.full((120, 160, 3), (0, 0, 255), np.uint8)  # red light behind
    wrapped = light_wrap(person, back, alpha, 1.0)
    edge = (alpha > 0.6) & (alpha < 0.95)
    assert wrapped[edge][:, 2].mean() > person[edge][:, 2].mean() + 40  # redder at the edge
    np.testing.assert_array_equal(wrapped[60, 80], person[60, 80])  # the interior unchanged
    assert np.array_equal(light_wrap(person, back, alpha, 0.0), person)
    # in the composite: outside the person, the background stays the background
    look = Compositor(Background("color", color=(0, 0, 255)), Look(light_wrap=1.0))
    out = look.composite(person, alpha)
    assert tuple(out[2, 2]) == (0, 0, 255)


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_harmony_moves_the_person_mean_toward_the_background_by_the_strength(strength):
    alpha = _soft_person()
    rng = np.random.default_rng(0)
    person = np.clip(rng.normal((100, 100, 100), 20, (120, 160, 3)), 0, 255).astype(np.uint8)
    back = np.clip(rng.normal((120, 90, 200), 20, (120, 160, 3)), 0, 255).astype(np.uint8)
    out = Harmonizer()(person, back, alpha, strength, stream=False)
    inside = alpha > 0.99
    before, after = person[inside].mean(0), out[inside].mean(0)
    wanted = np.clip(back.mean((0, 1)) - before, -HARMONY_SHIFT, HARMONY_SHIFT) * strength
    np.testing.assert_allclose(after - before, wanted, atol=2.5)
    assert abs(after[2] - before[2]) <= HARMONY_SHIFT * strength + 1  # the red gap is clamped
    assert np.array_equal(Harmonizer()(person, back, alpha, 0.0), person)


def test_harmony_in_a_stream_changes_slowly():
    alpha = _soft_person()
    person = np.full((120, 160, 3), 100, np.uint8)
    dark, bright = (np.full((120, 160, 3), v, np.uint8) for v in (60, 140))
    harmony = Harmonizer()
    first = harmony(person, dark, alpha, 1.0)[60, 80, 0]
    jumped = harmony(person, bright, alpha, 1.0)[60, 80, 0]  # the background changes at once
    assert first == pytest.approx(60, abs=2) and jumped < 80  # the person follows over frames
    for _ in range(40):
        settled = harmony(person, bright, alpha, 1.0)[60, 80, 0]
    assert settled == pytest.approx(140, abs=3)


def test_clean_edges_recover_the_person_colour_at_soft_edges():
    alpha = _soft_person()
    true_fg = np.zeros((120, 160, 3), np.float32)
    true_fg[:] = (40, 60, 200)  # a red-haired person
    old_bg = np.zeros_like(true_fg)
    old_bg[:] = (30, 200, 30)  # in front of a green wall
    a = alpha[:, :, None]
    frame = (a * true_fg + (1 - a) * old_bg + 0.5).astype(np.uint8)
    fg = estimate_foreground(frame, alpha).astype(np.float32)
    soft = (alpha > 0.1) & (alpha < 0.9)
    error_frame = np.abs(frame[soft].astype(np.float32) - true_fg[soft]).mean()
    error_fg = np.abs(fg[soft] - true_fg[soft]).mean()
    assert error_fg < 0.25 * error_frame  # the green spill is gone
    np.testing.assert_allclose(fg[alpha > 0.999], frame[alpha > 0.999], atol=2)
    # in the cut-out (transparent), the soft edge carries the person's colour, not the wall's
    rgba = Compositor("transparent", Look(clean_edges=True)).composite(frame, alpha)
    assert rgba[soft][:, 1].mean() < frame[soft][:, 1].mean() - 30


def test_look_strengths_are_checked():
    with pytest.raises(ValueError, match="light wrap"):
        Look(light_wrap=1.5)
    with pytest.raises(ValueError, match="harmonize"):
        Look(harmonize=-0.1)


@pytest.mark.parametrize("box", [(10, 90, 20, 150), (0, 120, 0, 160), (37, 41, 101, 159)])
def test_a_smooth_field_scaled_up_only_in_a_box_matches_scaling_it_all(box):
    from humanmatting_gui.look import _upsampled_crop

    ys, xs = np.mgrid[0:30, 0:40].astype(np.float32)
    small = cv2.merge([np.sin(xs / 6) + np.cos(ys / 5)] * 3)
    top, bottom, left, right = box
    whole = cv2.resize(small, (160, 120), interpolation=cv2.INTER_LINEAR)[top:bottom, left:right]
    part = _upsampled_crop(small, (120, 160), box)
    assert part.shape == whole.shape
    assert np.abs(part - whole).max() < 0.08  # within a small pixel's change of the field
