import cv2
import numpy as np
import pytest

from humanmatting_gui.compositing import (Background, Compositor, alpha_to_uint8, blend, cover, flatten,
                                         parse_background)
from humanmatting_gui.errors import InputError

from conftest import person_image, write_clip


@pytest.fixture
def scene():
    image, mask = person_image(120, 160)
    return image, mask.astype(np.float32) / 255


@pytest.mark.parametrize("spec,expected", [
    ("blur", Background("blur", strength=15)), ("blur:40", Background("blur", strength=40)),
    ("color:#ff8000", Background("color", color=(0, 128, 255))),
    ("colour:00FF00", Background("color", color=(0, 255, 0))),
    ("transparent", Background("transparent"))])
def test_parse_background(spec, expected):
    assert parse_background(spec) == expected


@pytest.mark.parametrize("spec", ["blur:x", "blur:0", "color:#12", "color:", "image:", "image:/no/such.png",
                                  "video:/no/such.mp4", "sparkles", "transparent:1"])
def test_parse_background_rejects_with_a_message(spec):
    with pytest.raises(InputError):
        parse_background(spec)


def test_spec_round_trip():
    for spec in ("blur:20", "color:#102030", "transparent"):
        assert parse_background(spec).spec() == spec


def test_color_background(scene):
    image, alpha = scene
    out = Compositor("color:#00ff00").composite(image, alpha)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out[alpha == 0] == (0, 255, 0)).all()
    assert (out[alpha == 1] == image[alpha == 1]).all()


def test_blur_keeps_the_person_and_blurs_the_rest(scene):
    image, alpha = scene
    out = Compositor("blur:30").composite(image, alpha)
    assert (out[alpha == 1] == image[alpha == 1]).all()
    background = alpha == 0
    # the random-noise background loses most of its pixel-to-pixel variation
    assert np.diff(out.astype(float), axis=1)[background[:, 1:]].std() < \
        0.3 * np.diff(image.astype(float), axis=1)[background[:, 1:]].std()
    # and the bright person does not bleed into the blurred background far from it
    assert out[:, :10].mean() < 60


def test_image_background_covers_the_frame(scene, tmp_path):
    image, alpha = scene
    stripes = np.zeros((50, 300, 3), np.uint8)
    stripes[:, 150:] = 255
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), stripes)
    out = Compositor(f"image:{path}").composite(image, alpha)
    assert out.shape == image.shape
    assert out[0, 0].max() == 0 and out[0, -1].min() == 255


def test_cover_keeps_aspect():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 95:105] = 255  # a centred bar stays centred and keeps its width ratio
    out = cover(image, 100, 100)
    assert out.shape == (100, 100, 3)
    assert out[:, 45:55].min() == 255 and out[:, :40].max() == 0


def test_unreadable_background_image(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png"):
        Compositor(f"image:{path}")


def test_video_background_loops_frame_by_frame(scene, tmp_path):
    image, alpha = scene
    clip = write_clip(tmp_path / "bg.mp4", frames=3, size=(64, 48), audio=False)
    compositor = Compositor(f"video:{clip}")
    zero = np.zeros_like(alpha)
    frames = [compositor.composite(image, zero) for _ in range(7)]
    compositor.close()
    assert all(f.shape == image.shape for f in frames)
    assert not np.array_equal(frames[0], frames[1])  # it moves on every frame
    np.testing.assert_allclose(frames[0].astype(float), frames[3].astype(float), atol=3)  # and loops


def test_transparent_gives_rgba(scene):
    image, alpha = scene
    out = Compositor("transparent").composite(image, alpha)
    assert out.shape == (*image.shape[:2], 4)
    np.testing.assert_array_equal(out[:, :, :3], image)
    np.testing.assert_array_equal(out[:, :, 3], alpha_to_uint8(alpha))


def test_alpha_to_uint8_rounds_to_nearest():
    alpha = np.array([[0.0, 1.0, 0.25, 0.75, 0.2, 2 / 255, 1e-4]], np.float32)
    np.testing.assert_array_equal(alpha_to_uint8(alpha), [[0, 255, 64, 191, 51, 2, 0]])


def test_blend_is_the_alpha_blend_in_8_bit_steps():
    rng = np.random.default_rng(3)
    front, back = (rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.uniform(0, 1, (40, 60)).astype(np.float32)
    alpha[:5], alpha[5:10] = 0.0, 1.0
    out = blend(front, back, alpha)
    weight = alpha_to_uint8(alpha).astype(np.float64)[..., None] / 255
    exact = front * weight + back * (1 - weight)
    assert out.dtype == np.uint8 and out.shape == front.shape
    assert np.abs(out - exact).max() <= 1.0
    np.testing.assert_array_equal(out[:5], back[:5])  # alpha 0: the back, exactly
    np.testing.assert_array_equal(out[5:10], front[5:10])  # alpha 1: the front
    np.testing.assert_array_equal(blend(front, back, alpha_to_uint8(alpha)), out)  # uint8 alpha alike
    np.testing.assert_array_equal(blend(front[:, :, 0], back[:, :, 0], alpha), out[:, :, 0])  # one channel


def test_flatten_puts_a_transparent_composite_over_a_colour(scene):
    image, alpha = scene
    flat = flatten(Compositor("transparent").composite(image, alpha), (0, 177, 64))
    over = Compositor("color:#40b100").composite(image, alpha)  # the same green, as #RRGGBB
    np.testing.assert_array_equal(flat, over)


def test_grey_frames_and_mismatched_alpha(scene):
    image, alpha = scene
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert Compositor("color:#000000").composite(grey, alpha).shape == image.shape
    with pytest.raises(InputError):
        Compositor().composite(image, alpha[:10])
