"""Issue 15: nothing a user gave is replaced or deleted, interruptions leave nothing behind,
every failure is one line naming the file, and headless runs always end."""

import os
import signal
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest

from humanmatting_gui import cli, export as export_module
from humanmatting_gui.errors import InputError, OutputError
from humanmatting_gui.export import ExportRequest, export_video

from conftest import person_image, write_clip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _one_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def _listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["cutout", "mask"])
def test_a_result_never_replaces_its_input(models_env, tmp_path, capsys, command):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), person_image(40, 50)[0])
    before = photo.read_bytes()
    assert cli.main([command, str(photo), "-o", str(tmp_path)]) == 1
    assert "would replace" in _one_line(capsys.readouterr().err)
    assert photo.read_bytes() == before and _listing(tmp_path) == ["photo.png"]


def test_two_inputs_for_one_output_name_are_refused_before_anything_is_written(models_env, tmp_path, capsys):
    for rel in ("a/p.jpg", "b/p.jpg", "c/person.jpg", "c/person.png"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), person_image(40, 50)[0])
    out = tmp_path / "out"
    assert cli.main(["cutout", str(tmp_path / "a/p.jpg"), str(tmp_path / "b/p.jpg"), "-o", str(out)]) == 1
    assert "would both be written" in _one_line(capsys.readouterr().err)
    assert cli.main(["mask", str(tmp_path / "c"), "-o", str(out)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "person.jpg" in line and "person.png" in line
    assert not out.exists()


def test_an_output_under_a_file_is_one_line(models_env, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), person_image(40, 50)[0])
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    assert cli.main(["cutout", str(photo), "-o", str(blocker)]) == 1
    assert "is a file" in _one_line(capsys.readouterr().err)
    assert cli.main(["mask", str(photo), "-o", str(blocker / "sub")]) == 1
    assert "lies under a file" in _one_line(capsys.readouterr().err)
    assert blocker.read_text() == "mine"


def test_a_truncated_photo_is_reported_not_processed(models_env, tmp_path, capsys):
    good, cut, cut_png = tmp_path / "in" / "good.jpg", tmp_path / "in" / "cut.jpg", tmp_path / "in" / "cut2.png"
    good.parent.mkdir()
    cv2.imwrite(str(good), person_image(80, 100)[0])
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    cv2.imwrite(str(cut_png), person_image(80, 100)[0])
    cut_png.write_bytes(cut_png.read_bytes()[:-30])
    out = tmp_path / "out"
    assert cli.main(["mask", str(good.parent), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "cut.jpg is cut short" in err and "cut2.png is cut short" in err
    assert _listing(out) == ["good.png"]


def test_overwrite_never_deletes_a_folder_or_other_files(models_env, clip, tmp_path):
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    with pytest.raises(OutputError, match="is a folder"):
        export_video(ExportRequest(str(clip), str(folder), overwrite=True))
    with pytest.raises(OutputError, match="not an earlier export"):
        export_video(ExportRequest(str(clip), str(folder), format="png-sequence", overwrite=True))
    assert _listing(folder) == ["thesis.txt"]
    # an earlier sequence is replaced whole by the new one
    seq = tmp_path / "seq"
    export_video(ExportRequest(str(clip), str(seq), format="png-sequence"))
    (seq / "frame_999999.png").write_bytes(b"stale")
    export_video(ExportRequest(str(clip), str(seq), format="png-sequence", overwrite=True))
    assert "frame_999999.png" not in _listing(seq) and "frame_000001.png" in _listing(seq)
    # a file is never replaced by a folder
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(b"mine")
    with pytest.raises(OutputError, match="is a file"):
        export_video(ExportRequest(str(clip), str(plain), format="png-sequence", overwrite=True))
    assert plain.read_bytes() == b"mine"


def test_a_leftover_from_a_killed_export_does_not_block_the_next(models_env, clip, tmp_path):
    (tmp_path / ".out.part.mp4").mkdir()  # what an earlier version's kill left
    (tmp_path / ".seq.part").mkdir()
    export_video(ExportRequest(str(clip), str(tmp_path / "out.mp4")))
    export_video(ExportRequest(str(clip), str(tmp_path / "seq"), format="png-sequence"))
    assert (tmp_path / "out.mp4").is_file() and (tmp_path / "seq" / "frame_000001.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp4", "png-sequence"])
def test_sigterm_during_an_export_leaves_nothing(models_env, tmp_path, fmt):
    source = write_clip(tmp_path / "long.mp4", frames=400, size=(320, 240), audio=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / ("result.mp4" if fmt == "mp4" else "result")
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, "-m", "humanmatting_gui.cli", "export", str(source),
                             "-o", str(target), "--format", fmt], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".result.") for p in out_dir.iterdir()) or \
                not any(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err
    assert _listing(out_dir) == []


def _faststart_clip(path, frames=40, size=(96, 64)):
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        video = out.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        for k in range(frames):
            image = np.roll(person_image(size[1], size[0], seed=k)[0], k, axis=1)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return path


def test_a_half_downloaded_video_is_an_error_and_writes_nothing(models_env, tmp_path, capsys):
    whole = _faststart_clip(tmp_path / "whole.mp4")
    half = tmp_path / "half.mp4"
    data = whole.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.mp4"
    assert cli.main(["export", str(half), "-o", str(out)]) == 1
    line = _one_line(capsys.readouterr().err.replace("\r", "\n").split("humanmatting: error:")[-1])
    assert "half.mp4 ends after" in line and "of its 40 frames" in line
    assert not out.exists() and _listing(tmp_path) == ["half.mp4", "whole.mp4"]


def test_odd_sides_are_said_when_a_format_needs_even_ones(models_env, tmp_path, capsys):
    odd = tmp_path / "odd.mkv"
    with av.open(str(odd), "w") as out:
        video = out.add_stream("ffv1", rate=12)
        video.width, video.height, video.pix_fmt = 65, 47, "yuv444p"
        for k in range(4):
            for packet in video.encode(av.VideoFrame.from_ndarray(person_image(47, 65, seed=k)[0], format="bgr24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    assert cli.main(["export", str(odd), "-o", str(tmp_path / "o.mp4")]) == 0
    assert "65x47 was written as 64x46" in capsys.readouterr().err
    assert cli.main(["export", str(odd), "-o", str(tmp_path / "o"), "--format", "png-sequence"]) == 0
    assert "needs even sides" not in capsys.readouterr().err
    assert cv2.imread(str(tmp_path / "o" / "frame_000001.png")).shape == (47, 65, 3)


def test_a_full_disk_is_one_line_and_leaves_nothing(models_env, clip, tmp_path, capsys, monkeypatch):
    def full(self, image):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(export_module.VideoWriter, "write", full)
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["export", str(clip), "-o", str(out / "x.mp4")]) == 1
    line = _one_line(capsys.readouterr().err.replace("\r", "\n").split("humanmatting: error:")[-1])
    assert "x.mp4" in line and "No space left on device" in line
    assert _listing(out) == []


def test_an_encoder_error_is_an_output_error(models_env, clip, tmp_path, monkeypatch):
    def broken(self, image):
        raise av.ExternalError(-1, "Generic error in an external library")
    monkeypatch.setattr(export_module.VideoWriter, "write", broken)
    with pytest.raises(OutputError, match="cannot write .*y.mp4"):
        export_video(ExportRequest(str(clip), str(tmp_path / "y.mp4")))
    assert _listing(tmp_path) == ["clip.mp4"]


def test_a_missing_input_video_is_still_an_input_error(models_env, tmp_path):
    with pytest.raises(InputError):
        export_video(ExportRequest(str(tmp_path / "none.mp4"), str(tmp_path / "o.mp4")))
