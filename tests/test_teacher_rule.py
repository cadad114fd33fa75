import numpy as np
import pytest

from trainer.teacher_rule import IGNORE_VALUE, combine, encode


def _disc(shape, centre, radius, value=1.0):
    y, x = np.mgrid[:shape[0], :shape[1]]
    return np.where((y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius ** 2, value, 0.0).astype(np.float32)


def test_pose_body_and_confident_selfie_edges_are_joined():
    pose = _disc((60, 80), (30, 30), 10)  # the body the pose model follows
    selfie = _disc((60, 80), (30, 38), 10, 0.9)  # overlaps it, and adds hair on one side
    selfie[25:35, 14:17] = 0.4  # unsure and near: not person, and not ignored
    label, ignore = combine(pose, selfie)
    assert label[30, 30] == 1.0 and label[30, 45] == pytest.approx(0.9)
    assert label[30, 15] == 0.0 and not ignore[13:48, 13:56].any() and ignore[5, 5]
    # pose says person where the selfie model does not: the pose model (full-body) wins
    limb = pose.copy()
    limb[28:32, 40:75] = 1.0
    label, _ = combine(limb, np.zeros_like(selfie))
    assert label[30, 70] == 1.0


def test_a_selfie_region_apart_from_the_pose_person_is_ignored():
    pose = _disc((60, 80), (30, 20), 8)
    selfie = np.maximum(_disc((60, 80), (30, 20), 8, 0.95), _disc((60, 80), (30, 65), 6, 0.9))
    label, ignore = combine(pose, selfie)
    assert ignore[30, 65] and ignore[[24, 36], [65, 65]].all()  # the other person (or a pole)
    assert not ignore[30, 20] and not ignore[30, 30]  # the followed person, next to them
    assert label[30, 20] == 1.0


def test_only_the_surroundings_of_the_posed_person_count():
    """Far from the person both teachers may miss someone (a crowd, a child beside): ignored.
    The box of the person (rows 20-40, columns 40-50) grows by a quarter of its longer side."""
    pose = np.zeros((100, 120), np.float32)
    pose[20:41, 40:51] = 1.0
    label, ignore = combine(pose, np.zeros_like(pose))
    grown = np.zeros_like(ignore)
    grown[15:46, 35:56] = True  # 21 rows high: grown by 5 each way
    np.testing.assert_array_equal(ignore, ~grown)
    assert label[30, 45] == 1.0 and label[16, 36] == 0.0


def test_without_a_pose_only_an_empty_frame_is_labelled():
    someone = np.array([[0.0, 0.3, 0.95]], np.float32)
    assert combine(None, someone) is None  # small or crowded people: not labelled at all
    empty, nothing = combine(None, np.full((4, 4), 0.01, np.float32))
    assert not empty.any() and not nothing.any()  # a frame with nobody: a negative
    with pytest.raises(ValueError, match="differ"):
        combine(np.zeros((4, 4), np.float32), np.zeros((5, 4), np.float32))


def test_encoded_labels_keep_the_ignore_value_for_ignored_pixels_only():
    label = np.array([[0.0, 128 / 255, 1.0, 0.3]], np.float32)
    ignore = np.array([[False, False, False, True]])
    encoded = encode(label, ignore)
    assert encoded.tolist() == [[0, IGNORE_VALUE - 1, 255, IGNORE_VALUE]]
