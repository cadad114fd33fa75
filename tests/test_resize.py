import cv2
import numpy as np
import pytest

from humanmatting_gui.resize import shrink

from conftest import person_image


@pytest.mark.parametrize("source,target", [((854, 480), (320, 180)), ((640, 480), (288, 216)),
                                           ((1920, 1080), (64, 36)), ((480, 360), (320, 240)),
                                           ((200, 150), (288, 216))])
def test_shrink_matches_an_area_resize(source, target):
    image, _ = person_image(source[1], source[0])
    image = cv2.GaussianBlur(image, (0, 0), 1.0)  # a photo's detail, not single-pixel noise
    expected = cv2.resize(image, target, interpolation=cv2.INTER_AREA).astype(float)
    got = shrink(image, target)
    assert got.shape == (target[1], target[0], 3) and got.dtype == np.uint8
    assert np.abs(got - expected).mean() < 1.0
    alpha = (image[:, :, 0] / 255).astype(np.float32)  # float alpha the same way
    got_alpha = shrink(alpha, target)
    assert got_alpha.dtype == np.float32
    assert np.abs(got_alpha - cv2.resize(alpha, target, interpolation=cv2.INTER_AREA)).mean() < 0.005
