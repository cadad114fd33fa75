import cv2
import numpy as np
import pytest

from humanmatting_gui import cli
from humanmatting_gui.compositing import alpha_to_uint8
from humanmatting_gui.segmenter import Segmenter, SegmenterSettings

from conftest import person_image


@pytest.fixture
def photos(tmp_path):
    """A folder tree of generated photos, with one file that is not an image."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for k, rel in enumerate(["a.jpg", "b.png", "sub/c.jpg"]):
        cv2.imwrite(str(root / rel), person_image(90 + 10 * k, 120, seed=k)[0])
    return root


def _one_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_cutout_writes_rgba_pngs(models_env, photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["cutout", str(photos), "-o", str(out)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["a.png", "b.png", "sub/c.png"]
    rgba = cv2.imread(str(out / "sub/c.png"), cv2.IMREAD_UNCHANGED)
    source = cv2.imread(str(photos / "sub/c.jpg"))
    assert rgba.shape == (*source.shape[:2], 4)
    # clean edges by default: the person's estimated colour, which is the photo where solid
    from humanmatting_gui.look import estimate_foreground

    alpha = rgba[:, :, 3].astype(np.float32) / 255
    assert np.abs(rgba[:, :, :3].astype(int) - estimate_foreground(source, alpha)).mean() < 1.0
    assert "3/3" in capsys.readouterr().err  # the progress bar
    assert cli.main(["cutout", str(photos / "sub/c.jpg"), "-o", str(tmp_path / "raw"), "--no-clean-edges"]) == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "raw/c.png"), cv2.IMREAD_UNCHANGED)[:, :, :3], source)


def test_cutout_over_a_background(models_env, photos, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["cutout", str(photos / "a.jpg"), "-o", str(out), "--background", "color:#ff0000"]) == 0
    assert cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED).shape[2] == 3


@pytest.mark.parametrize("model", ["rgb", "gray"])
def test_mask_matches_the_engine(models_env, photos, tmp_path, model):
    out = tmp_path / "masks"
    assert cli.main(["mask", str(photos), "-o", str(out), "--model", model]) == 0
    mask = cv2.imread(str(out / "b.png"), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(str(photos / "b.png"))
    expected = alpha_to_uint8(Segmenter(model, SegmenterSettings(flip=True)).segment(image))
    assert mask.dtype == np.uint8 and mask.shape == image.shape[:2]
    np.testing.assert_array_equal(mask, expected)
    assert cli.main(["mask", str(photos), "-o", str(tmp_path / "one"), "--model", model, "--no-flip"]) == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "one" / "b.png"), cv2.IMREAD_UNCHANGED),
                                  alpha_to_uint8(Segmenter(model).segment(image)))


def test_mask_video_smooths_across_frames(models_env, tmp_path):
    frames = tmp_path / "clip"
    frames.mkdir()
    rng = np.random.default_rng(0)
    base, _ = person_image(96, 128)
    for k in range(6):
        noisy = np.clip(base.astype(int) + rng.integers(-25, 25, base.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(frames / f"{k:03d}.png"), noisy)
    still, video = tmp_path / "still", tmp_path / "video"
    assert cli.main(["mask", str(frames), "-o", str(still)]) == 0
    assert cli.main(["mask", str(frames), "-o", str(video), "--video"]) == 0

    def change(folder):
        masks = [cv2.imread(str(folder / f"{k:03d}.png"), 0).astype(float) for k in range(6)]
        return np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])])
    assert change(video) < change(still)


def test_bad_files_are_skipped_and_the_run_fails(models_env, photos, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    assert cli.main(["mask", str(photos), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "1 of 4 files failed" in err
    assert len(list(out.rglob("*.png"))) == 3


def test_missing_input(models_env, tmp_path, capsys):
    assert cli.main(["cutout", str(tmp_path / "nope.jpg"), "-o", str(tmp_path)]) == 1
    assert "input not found" in _one_line(capsys.readouterr().err)


def test_missing_model_explains(tmp_path, photos, monkeypatch, capsys):
    monkeypatch.setenv("HUMANMATTING_MODELS", str(tmp_path))
    assert cli.main(["mask", str(photos), "-o", str(tmp_path / "o")]) == 1
    assert "model is not installed" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["cutout", "x.jpg"], ["mask", "--frobnicate", "x", "-o", "y"],
                                  ["export"], ["nonsense"]])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert _one_line(capsys.readouterr().err).startswith("humanmatting")


def test_bad_background_spec(models_env, photos, tmp_path, capsys):
    assert cli.main(["cutout", str(photos), "-o", str(tmp_path / "o"), "--background", "plaid"]) == 1
    assert "unknown background" in _one_line(capsys.readouterr().err)


def test_a_desktop_without_libxcb_cursor_is_told_which_package_to_install():
    missing = lambda name: None  # noqa: E731
    found = lambda name: "libxcb-cursor.so.0"  # noqa: E731
    problem = cli.display_problem({"DISPLAY": ":0"}, "linux", missing)
    assert "libxcb-cursor0" in problem and "apt install" in problem
    assert cli.display_problem({"DISPLAY": ":0"}, "linux", found) is None
    assert cli.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", missing) is None
    assert cli.display_problem({"DISPLAY": ":0"}, "darwin", missing) is None
    assert "QT_QPA_PLATFORM=offscreen" in cli.display_problem({}, "linux", found)


def test_look_options_on_every_command(capsys):
    from humanmatting_gui.look import Look

    parser = cli.build_parser()
    args = parser.parse_args(["cutout", "a.jpg", "-o", "out", "--just-me", "--light-wrap", "0.3",
                              "--harmonize", "0.5"])
    assert cli.look_of(args) == Look(True, 0.3, 0.5, clean_edges=True)  # clean edges on for cut-outs
    assert cli.look_of(parser.parse_args(["export", "v.mp4", "-o", "o.mp4", "--no-clean-edges"])) == Look()
    assert cli.look_of(parser.parse_args(["gui"])) == Look()  # live: all off by default
    assert cli.look_of(parser.parse_args(["virtualcam", "--harmonize", "1"])) == Look(harmonize=1.0)
    assert cli.look_of(parser.parse_args(["mask", "a.jpg", "-o", "o", "--just-me"])) == Look(just_me=True)
    for bad in (["cutout", "a.jpg", "-o", "o", "--light-wrap", "2"], ["gui", "--harmonize", "x"],
                ["mask", "a.jpg", "-o", "o", "--light-wrap", "0.5"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(bad)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error" in err


def test_mask_just_me_keeps_the_main_person(tmp_path):
    from humanmatting_gui import batch
    from humanmatting_gui.look import Look

    class Bright:
        channels = 3

        def predict(self, pixels):
            return (pixels.mean(axis=2) > 128).astype(np.float32)

    image = np.zeros((120, 160, 3), np.uint8)
    cv2.circle(image, (70, 60), 35, (255, 255, 255), -1)  # the main person
    cv2.circle(image, (140, 60), 12, (255, 255, 255), -1)  # someone small at the side
    cv2.imwrite(str(tmp_path / "two.png"), image)
    assert batch.run("mask", [str(tmp_path / "two.png")], str(tmp_path / "all"), Bright()) == 0
    assert batch.run("mask", [str(tmp_path / "two.png")], str(tmp_path / "me"), Bright(),
                     look=Look(just_me=True)) == 0
    both, me = (cv2.imread(str(tmp_path / d / "two.png"), cv2.IMREAD_GRAYSCALE) for d in ("all", "me"))
    assert both[60, 70] > 200 and both[60, 140] > 200
    assert me[60, 70] > 200 and me[60, 140] < 20


def test_export_zoom_and_flip_reach_the_stream(tmp_path, monkeypatch, capsys):
    from humanmatting_gui import export
    from humanmatting_gui.stream import STREAM_SETTINGS

    seen = []

    def fake_export(request, progress=None, cancelled=None):
        seen.append(request)
        return export.ExportResult(request.output, 1, 1.0)

    monkeypatch.setattr(export, "export_video", fake_export)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    for extra, zoom, flip in (([], False, True), (["--zoom"], True, True), (["--no-flip"], False, False)):
        assert cli.main(["export", str(video), "-o", str(tmp_path / "o.mp4"), *extra]) == 0
        assert seen[-1].stream.settings == STREAM_SETTINGS.with_(zoom=zoom, flip=flip)


def test_cutout_flips_by_default_and_virtualcam_does_not(tmp_path, monkeypatch):
    from humanmatting_gui import batch, virtualcam

    seen = {}
    monkeypatch.setattr(batch, "run", lambda *a: seen.setdefault("batch", []).append(a[-1]) or 0)
    monkeypatch.setattr(virtualcam, "run_cli", lambda *a, flip, **k: seen.setdefault("cam", []).append(flip) or 0)
    for extra in ([], ["--no-flip"]):
        assert cli.main(["cutout", str(tmp_path), "-o", str(tmp_path / "o"), *extra]) == 0
        assert cli.main(["mask", str(tmp_path), "-o", str(tmp_path / "o"), *extra]) == 0
    for extra in ([], ["--flip"]):
        assert cli.main(["virtualcam", *extra]) == 0
    assert seen == {"batch": [True, True, False, False], "cam": [False, True]}
