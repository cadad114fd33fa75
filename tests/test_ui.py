"""The window, driven with pytest-qt offscreen: frames, switches, drops, faults, shutdown."""

import json
import os
import time
from dataclasses import replace

import av
import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from humanmatting_gui import sources  # noqa: E402
from humanmatting_gui.compositing import Background  # noqa: E402
from humanmatting_gui.live import LiveProcessor  # noqa: E402
from humanmatting_gui.look import Look  # noqa: E402
from humanmatting_gui.ui import app as ui_app  # noqa: E402
from humanmatting_gui.ui.cutout_dialog import CutoutDialog  # noqa: E402
from humanmatting_gui.ui.main_window import MainWindow  # noqa: E402

from conftest import person_image, write_clip, write_pairs  # noqa: E402

WAIT = 10000


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Each test its own QSettings store."""
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "settings"))


@pytest.fixture
def window(qtbot, models_env):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.worker.isFinished()


def next_result(qtbot, win):
    with qtbot.waitSignal(win.frame_shown, timeout=WAIT) as blocker:
        pass
    return blocker.args[0]


def drop(win, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    win.dropEvent(event)


def test_window_builds(window):
    assert window.windowTitle() == "humanmatting"
    assert window.view.placeholder.startswith("Choose")
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Help"]
    assert window.worker.isRunning()


def test_a_video_source_gives_composited_frames(qtbot, window, clip):
    assert window.open_source(str(clip))
    results = [next_result(qtbot, window) for _ in range(3)]
    assert all(r.output.shape == (64, 96, 3) and r.alpha.shape == (64, 96) for r in results)
    assert results[-1].index > results[0].index
    assert results[-1].iou_kind == "stability" and 0 <= results[-1].iou <= 1


def test_switching_model_background_and_source_mid_stream(qtbot, window, clip, tmp_path):
    window.open_source(str(clip))
    next_result(qtbot, window)
    window.mask_panel.toggle_model()
    assert window.worker.request.model == "gray"
    next_result(qtbot, window)
    window.background_panel.set_background(Background("transparent"))
    window._request_changed()
    qtbot.waitUntil(lambda: window.last_result is not None and window.last_result.output.shape[2] == 4,
                    timeout=WAIT)
    other = write_clip(tmp_path / "other.mp4", frames=6, size=(64, 48), audio=False)
    window.open_source(str(other))
    qtbot.waitUntil(lambda: window.last_result.output.shape[:2] == (48, 64), timeout=WAIT)
    assert window.worker.request.model == "gray"


def test_capture_starts_once_the_worker_has_its_model(qtbot, models_env, clip, monkeypatch):
    """A camera's first frames do not wait in the slot while the model loads: capture reads
    its first frame only once the worker is ready (here made slow to load)."""
    warm_up = LiveProcessor.warm_up
    loaded = []

    def slow_warm_up(self):
        time.sleep(0.5)
        warm_up(self)
        loaded.append(time.perf_counter())

    monkeypatch.setattr(LiveProcessor, "warm_up", slow_warm_up)
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.show()
    win.open_source(str(clip), paced=False)  # opened at once, while the model still loads
    source = win.capture.source
    read = source.read
    first_read = []
    monkeypatch.setattr(source, "read", lambda: first_read.append(time.perf_counter()) or read())
    next_result(qtbot, win)
    assert loaded and first_read and first_read[0] >= loaded[0]
    win.close()
    assert win.worker.isFinished()


def test_stale_frames_are_dropped_under_a_slow_worker(qtbot, window, clip, monkeypatch):
    process = LiveProcessor.show

    def slow(self, frame, request):
        time.sleep(0.05)
        return process(self, frame, request)

    monkeypatch.setattr(LiveProcessor, "show", slow)
    window.open_source(str(clip), paced=False)  # the source runs far ahead of the worker
    results = [next_result(qtbot, window) for _ in range(4)]
    assert window.slot.dropped > 0
    assert any(b.index - a.index > 1 for a, b in zip(results, results[1:]))


def test_drop_an_image_to_cut_it_out(qtbot, window, tmp_path):
    image, _ = person_image(90, 120)
    path = tmp_path / "person.png"
    cv2.imwrite(str(path), image)
    with qtbot.waitSignal(window.cutout_shown, timeout=WAIT) as shown:
        drop(window, path)  # the cut-out is made off the GUI thread
    dialog = shown.args[0]
    assert isinstance(dialog, CutoutDialog) and dialog in window.dialogs
    target = tmp_path / "out.png"
    assert dialog.save(dialog.rgba, str(target))
    saved = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert saved.shape == (90, 120, 4)
    np.testing.assert_array_equal(saved, dialog.rgba)
    # cut-outs carry the person's estimated colour at soft edges, not the photo's mix
    from humanmatting_gui.look import estimate_foreground

    alpha = shown.args[0].rgba[:, :, 3].astype(np.float32) / 255
    assert np.abs(saved[:, :, :3].astype(int) - estimate_foreground(image, alpha)).mean() < 1.0
    assert dialog.save(dialog.composited, str(tmp_path / "comp.png"))
    assert cv2.imread(str(tmp_path / "comp.png")).shape == (90, 120, 3)


def test_the_view_draws_a_transparent_frame_over_a_checkerboard(qtbot):
    from humanmatting_gui.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(320, 240)  # the frame below fills it exactly
    frame = np.zeros((240, 320, 4), np.uint8)
    frame[:, :160] = (0, 0, 255, 255)  # left half opaque red, right half fully transparent
    view.show_frame(frame)
    shot = view.grab().toImage()
    assert shot.pixelColor(40, 120).getRgb()[:3] == (255, 0, 0)
    board = {shot.pixelColor(x, y).getRgb()[:3] for x in range(160, 320, 8) for y in range(0, 240, 8)}
    assert board == {(153, 153, 153), (102, 102, 102)}  # both squares, nothing else
    view.show_frame(frame[:, :, :3].copy())  # an opaque frame: no board behind it
    assert view.grab().toImage().pixelColor(240, 120).getRgb()[:3] == (0, 0, 0)


def test_drop_a_video_makes_it_the_source(qtbot, window, clip):
    drop(window, clip)
    assert window.source_spec == str(clip)
    next_result(qtbot, window)


def test_drop_anything_else_says_so(window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    drop(window, notes)
    assert "notes.txt" in window.message.text and "image or a video" in window.message.text


class FakeCapture:
    """Stands in for cv2.VideoCapture: ``frames`` good reads, then the device is gone."""

    def __init__(self, opened=True, frames=3):
        self.opened, self.frames = opened, frames

    def __call__(self, index):
        return self

    def isOpened(self):
        return self.opened

    def set(self, *args):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, person_image(48, 64)[0]

    def release(self):
        pass


def test_no_camera_or_busy_camera(window, monkeypatch):
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture(opened=False))
    assert not window.open_source("0")
    assert "no camera" in window.message.text and "busy" in window.message.text
    assert window.worker.isRunning()


def test_camera_unplugged_mid_stream(qtbot, window, monkeypatch):
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture(frames=3))
    assert window.open_source("0")
    qtbot.waitUntil(lambda: "unplugged" in window.message.text, timeout=WAIT)
    assert window.worker.isRunning()


def test_video_that_ends_or_fails(qtbot, window, clip, tmp_path):
    window.source_panel.loop.setChecked(False)
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: "has ended" in window.message.text, timeout=WAIT)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    assert not window.open_source(str(broken))
    assert "broken.mp4" in window.message.text


def test_missing_model_keeps_the_previous_one(qtbot, window, clip, models_env):
    os.rename(models_env / "likeunet-gray.tflite", models_env / "away.tflite")
    os.rename(models_env / "likeunet-gray.keras", models_env / "away.keras")
    try:
        window.open_source(str(clip))
        next_result(qtbot, window)
        window.mask_panel.toggle_model()
        qtbot.waitUntil(lambda: "gray model is not installed" in window.message.text, timeout=WAIT)
        qtbot.waitUntil(lambda: window.mask_panel.model == "rgb", timeout=WAIT)
        next_result(qtbot, window)  # and frames keep coming
    finally:
        os.rename(models_env / "away.tflite", models_env / "likeunet-gray.tflite")
        os.rename(models_env / "away.keras", models_env / "likeunet-gray.keras")


def test_unreadable_background_image(qtbot, window, clip, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    window.open_source(str(clip))
    next_result(qtbot, window)
    window.apply_background_spec(f"image:{bad}")
    qtbot.waitUntil(lambda: "bad.png" in window.message.text, timeout=WAIT)
    assert window.background_panel.background.kind == "blur"
    next_result(qtbot, window)


def test_snapshot_saves_the_composite(qtbot, window, clip, tmp_path):
    assert window.snapshot(str(tmp_path / "none.png")) is None
    window.open_source(str(clip))
    next_result(qtbot, window)
    path = window.snapshot(str(tmp_path / "snap.png"))
    assert cv2.imread(path).shape == (64, 96, 3)


def test_settings_are_remembered(qtbot, models_env, clip):
    first = MainWindow(remember=True)
    qtbot.addWidget(first)
    first.mask_panel.set_model("gray")
    first.apply_background_spec("color:#123456")
    first.mask_panel.threshold.setValue(30)
    assert not first.mask_panel.settings().flip  # live: one pass by default, for speed
    first.mask_panel.flip.setChecked(True)
    assert first.worker.request.settings.flip  # reaches the worker at once
    first.look_panel.just_me.setChecked(True)
    first.look_panel.light_wrap.setValue(40)
    first.look_panel.harmonize.setValue(25)
    # a look setting reaches the worker at once (the live view shows it on the next frame)
    assert first.worker.request.look == Look(True, 0.4, 0.25, False)
    first.open_source(str(clip))
    first.close()
    second = MainWindow(remember=True)
    qtbot.addWidget(second)
    assert second.mask_panel.model == "gray"
    assert second.background_panel.background.spec() == "color:#123456"
    assert second.mask_panel.settings().threshold == pytest.approx(0.3)
    assert second.mask_panel.settings().flip
    assert second.last_saved_source == str(clip)
    assert second.look_panel.look() == Look(True, 0.4, 0.25, False)
    second.close()


def test_export_dialog_runs_and_cancels(qtbot, window, clip, tmp_path):
    window.background_panel.set_background(Background("color", color=(255, 0, 0)))
    window.mask_panel.set_settings(window.mask_panel.settings().with_(threshold=0.6))
    dialog = window.open_export_dialog()
    # the window's model, mask settings and background, as objects
    wanted = window.current_request()
    assert dialog.request().stream == replace(wanted, look=replace(wanted.look, clean_edges=True))
    dialog.clean_edges.setChecked(False)  # on by default for exports; the window's otherwise
    assert dialog.request().stream == wanted
    dialog.clean_edges.setChecked(True)
    assert dialog.request().stream.settings.threshold == pytest.approx(0.6)
    dialog.source.setText(str(clip))
    dialog.output.setText(str(tmp_path / "exported.mp4"))
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.thread is None, timeout=30000)
    assert "Wrote" in dialog.status.text() and (tmp_path / "exported.mp4").is_file()
    with av.open(str(tmp_path / "exported.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert first[..., 0].mean() > first[..., 2].mean() + 40  # over the window's blue, not a blur
    dialog.output.setText(str(tmp_path / "cancelled.mp4"))
    dialog.begin()
    dialog.stop()
    qtbot.waitUntil(lambda: dialog.thread is None, timeout=30000)
    assert not (tmp_path / "cancelled.mp4").exists()
    dialog.close()


def test_headless_run_prints_figures_and_a_screenshot(qtbot, models_env, clip, tmp_path, capsys):
    shot = tmp_path / "shot.png"
    assert ui_app.run(str(clip), "blur:20", "rgb", 8, str(shot)) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["frames"] == 8 and figures["fps_median"] > 0 and figures["latency_median_ms"] > 0
    assert 0 <= figures["stability_mean"] <= 1
    assert cv2.imread(str(shot)).shape[0] > 100


def test_headless_run_measures_iou_against_ground_truth(qtbot, models_env, tmp_path, capsys):
    folder = write_pairs(tmp_path / "set", 3, 60, 80, ext="png")
    assert ui_app.run(str(folder), None, None, 4, None) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "iou_mean" in figures and 0 <= figures["iou_mean"] <= 1


def test_keyboard_shortcuts(qtbot, window, clip):
    from PySide6.QtTest import QTest

    window.open_source(str(clip))
    next_result(qtbot, window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    QTest.keyClick(window, Qt.Key.Key_M)
    assert window.mask_panel.model == "gray"
    kind = window.background_panel.background.kind
    QTest.keyClick(window, Qt.Key.Key_B)
    assert window.background_panel.background.kind != kind
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert window.paused and "paused" in window.statusBar().currentMessage()
    QTest.keyClick(window, Qt.Key.Key_Space)
    assert not window.paused
    shortcuts = {a.shortcut().toString() for a in window.actions()}
    assert {"Space", "M", "B", "F", "Ctrl+S"} <= shortcuts


def test_cycling_backgrounds_reaches_our_default_image(window):
    seen = {}
    for _ in range(5):
        window.background_panel.cycle()
        background = window.background_panel.background
        seen[background.kind] = background
    assert {"blur", "color", "image", "transparent"} <= set(seen)
    assert os.path.isfile(seen["image"].path)  # one of resources/backgrounds


def test_virtual_camera_toggle(qtbot, window, clip, monkeypatch):
    import pyvirtualcam

    from test_virtualcam import FakeDevice

    window.open_source(str(clip))
    next_result(qtbot, window)
    window.virtualcam.setChecked(True)  # no device on this machine: say so, untick, keep going
    qtbot.waitUntil(lambda: "virtual camera" in window.message.text, timeout=WAIT)
    qtbot.waitUntil(lambda: not window.virtualcam.isChecked(), timeout=WAIT)
    FakeDevice.opened = []
    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "fake", FakeDevice)
    window.virtualcam.setChecked(True)
    qtbot.waitUntil(lambda: bool(FakeDevice.opened) and len(FakeDevice.opened[-1].frames) >= 3, timeout=WAIT)
    assert (FakeDevice.opened[-1].width, FakeDevice.opened[-1].height) == (96, 64)
    window.virtualcam.setChecked(False)


def test_headless_run_on_a_missing_source_ends_with_an_error(qtbot, models_env, tmp_path, capsys):
    assert ui_app.run(str(tmp_path / "missing.mp4"), None, None, 10, str(tmp_path / "s.png")) == 1
    assert "missing.mp4" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_headless_run_on_a_folder_of_unreadable_images_ends(qtbot, models_env, tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    for k in range(3):
        (folder / f"{k}.jpg").write_bytes(b"\xff\xd8 not really")
    assert ui_app.run(str(folder), None, None, 10, None, paced=False) == 1
    assert "none of the images" in capsys.readouterr().err


def test_a_missing_source_is_a_message_in_the_window(window, tmp_path):
    assert not window.open_source(str(tmp_path / "missing.mp4"))
    assert "missing.mp4" in window.message.text


def test_a_model_file_is_used_and_a_bad_one_is_a_message(qtbot, window, clip, models_env, tmp_path):
    window.mask_panel.set_model(str(models_env / "likeunet-gray.tflite"))
    window._request_changed()
    assert window.worker.request.model == str(models_env / "likeunet-gray.tflite")
    assert "likeunet-gray.tflite" in window.mask_panel.file.text()
    assert "model likeunet-gray.tflite" in window.statusBar().currentMessage()
    window.open_source(str(clip))
    next_result(qtbot, window)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    window.mask_panel.set_model(str(bad))
    window._request_changed()
    qtbot.waitUntil(lambda: "bad.tflite" in window.message.text, timeout=WAIT)
    qtbot.waitUntil(lambda: window.worker.request.model == str(models_env / "likeunet-gray.tflite"),
                    timeout=WAIT)
    next_result(qtbot, window)  # frames keep coming with the model that worked


def test_headless_run_takes_a_model_path(qtbot, models_env, clip, tmp_path, capsys, monkeypatch):
    seen = []
    from humanmatting_gui import live

    process = live.LiveProcessor.show

    def spy(self, frame, request):
        seen.append(request.model)
        return process(self, frame, request)
    monkeypatch.setattr(live.LiveProcessor, "show", spy)
    path = str(models_env / "likeunet-gray.tflite")
    assert ui_app.run(str(clip), None, path, 3, None) == 0
    assert seen and set(seen) == {path}


def test_an_unexpected_error_in_the_worker_is_a_message_and_frames_go_on(qtbot, window, clip, monkeypatch):
    process = LiveProcessor.show
    calls = {"n": 0}

    def flaky(self, frame, request):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("device went away")
        return process(self, frame, request)
    monkeypatch.setattr(LiveProcessor, "show", flaky)
    window.open_source(str(clip))
    qtbot.waitUntil(lambda: "device went away" in window.message.text, timeout=WAIT)
    next_result(qtbot, window)
    assert window.worker.isRunning()


def test_a_rejected_request_never_undoes_a_newer_one(qtbot, window, models_env, tmp_path):
    """The worker reports a rejection; if the user has chosen again meanwhile, that stands."""
    from humanmatting_gui.stream import StreamRequest

    newer = StreamRequest(model="gray")
    window.worker.request = newer
    window._request_rejected("bad model", StreamRequest(model=str(tmp_path / "x.tflite")), StreamRequest())
    assert window.worker.request is newer and "bad model" in window.message.text


def test_export_dialog_reports_any_error_and_can_start_again(qtbot, window, clip, tmp_path, monkeypatch):
    from humanmatting_gui.ui import export_dialog

    def boom(*args, **kwargs):
        raise RuntimeError("encoder crashed")
    monkeypatch.setattr(export_dialog, "export_video", boom)
    dialog = window.open_export_dialog()
    dialog.source.setText(str(clip))
    dialog.output.setText(str(tmp_path / "x.mp4"))
    dialog.begin()
    qtbot.waitUntil(lambda: dialog.thread is None, timeout=WAIT)
    assert "encoder crashed" in dialog.status.text() and dialog.start.isEnabled()
    dialog.close()


def test_closed_dialogs_are_let_go(qtbot, window, tmp_path):
    image, _ = person_image(60, 80)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), image)
    with qtbot.waitSignal(window.cutout_shown, timeout=WAIT) as shown:
        window.cut_out(str(path))
    export = window.open_export_dialog()
    assert len(window.dialogs) == 2
    shown.args[0].close()
    export.close()
    qtbot.waitUntil(lambda: not window.dialogs, timeout=WAIT)


def test_a_bad_dropped_image_is_a_message(qtbot, window, tmp_path):
    path = tmp_path / "half.jpg"
    cv2.imwrite(str(path), person_image(60, 80)[0])
    path.write_bytes(path.read_bytes()[:300])
    drop(window, path)
    qtbot.waitUntil(lambda: "half.jpg" in window.message.text, timeout=WAIT)


def test_readouts_are_stamped_when_the_frame_is_painted(qtbot, window, clip):
    window.open_source(str(clip))
    with qtbot.waitSignal(window.view.painted, timeout=WAIT):
        pass
    with qtbot.waitSignal(window.frame_shown, timeout=WAIT) as blocker:
        pass
    result, shown_at = blocker.args
    assert shown_at >= result.captured
    # a frame handed over but not yet painted is not counted as shown
    window._unpainted = None
    window._painted(shown_at + 1)
    assert window.plots is not None
