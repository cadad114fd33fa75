import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from humanmatting_gui import cli
from humanmatting_gui.errors import InputError, OutputError
from humanmatting_gui.export import Cancelled, ExportRequest, export_video
from humanmatting_gui.segmenter import Segmenter
from humanmatting_gui.stream import STREAM_SETTINGS, StreamRequest
from humanmatting_gui.video_io import VideoReader

from conftest import LeftHalfModel


def _probe(path, decoder=None):
    """(frames as arrays, video stream rate, audio duration in s or None, pixel format)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        if decoder:
            context = av.codec.CodecContext.create(decoder, "r")
            frames = [f for p in container.demux(stream) for f in context.decode(p)]
        else:
            frames = list(container.decode(stream))
        fmt = frames[0].format.name
        audio = None
        if container.streams.audio:
            a = container.streams.audio[0]
            audio = float(a.duration * a.time_base) if a.duration else float(container.duration / 1e6)
    return frames, rate, audio, fmt


def test_mp4_keeps_frames_rate_size_and_audio(models_env, clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = export_video(ExportRequest(str(clip), str(out)))
    frames, rate, audio, _ = _probe(out)
    assert result.frames == 12 and len(frames) == 12
    assert rate == 12
    assert (frames[0].width, frames[0].height) == (96, 64)
    assert audio == pytest.approx(1.0, abs=0.1)  # 12 frames at 12 fps, and the tone as long
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))  # no temp left


@pytest.mark.parametrize("fmt,decoder,pix", [("mov-prores4444", None, "yuva444"),
                                             ("webm-alpha", "libvpx-vp9", "yuva420p")])
def test_alpha_formats_carry_alpha_and_audio(models_env, clip, tmp_path, fmt, decoder, pix):
    out = tmp_path / f"out.{fmt}"
    # a model double that finds a person in the left half: the matte must come out that way
    # (an untrained model's near-uniform output can survive lossy VP9 alpha as a flat plane)
    export_video(ExportRequest(str(clip), str(out), format=fmt, stream=StreamRequest(LeftHalfModel())))
    frames, rate, audio, pix_fmt = _probe(out, decoder)
    assert len(frames) == 12 and rate == 12 and pix_fmt.startswith(pix)
    assert audio == pytest.approx(1.0, abs=0.1)
    alpha = frames[5].to_ndarray(format="rgba")[:, :, 3].astype(int)
    assert alpha[:, :40].min() > 240 and alpha[:, 56:].max() < 15  # the matte, not a plane


def test_png_sequence(models_env, clip, tmp_path):
    out = tmp_path / "frames"
    export_video(ExportRequest(str(clip), str(out), format="png-sequence"))
    pngs = sorted(p for p in os.listdir(out) if p.endswith(".png"))
    assert len(pngs) == 12
    assert cv2.imread(str(out / pngs[0]), cv2.IMREAD_UNCHANGED).shape == (64, 96, 4)
    assert (out / "audio.m4a").is_file()


def test_matte_matches_the_engine(models_env, clip, tmp_path):
    out = tmp_path / "matte.mp4"
    export_video(ExportRequest(str(clip), str(out), format="matte"))
    frames, _, _, _ = _probe(out)
    segmenter = Segmenter("rgb", STREAM_SETTINGS)
    with VideoReader(str(clip)) as reader:
        expected = [segmenter.segment(f) * 255 for f in reader.frames()]
    got = [f.to_ndarray(format="gray").astype(float) for f in frames]
    assert len(got) == len(expected)
    # H.264 at crf 18 on a grey plane: within a few levels
    assert max(np.abs(g - e).mean() for g, e in zip(got, expected)) < 4


def test_cancel_leaves_nothing(models_env, clip, tmp_path):
    out = tmp_path / "out.mp4"
    calls = []
    with pytest.raises(Cancelled):
        export_video(ExportRequest(str(clip), str(out)), cancelled=lambda: len(calls) > 3,
                     progress=lambda done, total: calls.append(done))
    assert os.listdir(tmp_path) == ["clip.mp4"]


def test_existing_output_needs_overwrite(models_env, clip, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="--overwrite"):
        export_video(ExportRequest(str(clip), str(out)))
    assert out.read_bytes() == b"keep me"
    export_video(ExportRequest(str(clip), str(out), overwrite=True))
    assert len(_probe(out)[0]) == 12


def test_bad_inputs(models_env, clip, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InputError, match="notes.mp4"):
        export_video(ExportRequest(str(text), str(tmp_path / "a.mp4")))
    empty = tmp_path / "empty.mkv"
    with av.open(str(empty), "w") as container:  # a video stream, but only sound in it
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=44100)
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 44100), np.float32), format="fltp", layout="mono")
        tone.sample_rate = 44100
        for packet in [*sound.encode(tone), *sound.encode()]:
            container.mux(packet)
    with pytest.raises(InputError, match="no video frames"):
        export_video(ExportRequest(str(empty), str(tmp_path / "b.mp4")))
    with pytest.raises(OutputError, match="does not exist"):
        export_video(ExportRequest(str(clip), str(tmp_path / "no" / "dir" / "c.mp4")))
    with pytest.raises(OutputError, match="unknown format"):
        export_video(ExportRequest(str(clip), str(tmp_path / "d.avi"), format="avi"))
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "empty.mkv", "notes.mp4"]


def test_unwritable_folder(models_env, clip, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):  # root ignores permissions: use a folder no one can write
        folder = Path("/proc")
        if not folder.is_dir():
            pytest.skip("no unwritable folder to try")
    with pytest.raises(OutputError, match="not writable"):
        export_video(ExportRequest(str(clip), str(folder / "a.mp4")))


def test_cli_export(models_env, clip, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    assert cli.main(["export", str(clip), "-o", str(out), "--background", "color:#0000ff"]) == 0
    captured = capsys.readouterr()
    assert "12/12 frames" in captured.err and "wrote" in captured.out
    assert cli.main(["export", str(clip), "-o", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "none.mp4"), "-o", str(out)]) == 2


def _export_threads():
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("export-")]


def test_pipelined_export_keeps_frame_order(clip, tmp_path):
    out = tmp_path / "frames"
    export_video(ExportRequest(str(clip), str(out), format="png-sequence",
                               stream=StreamRequest(LeftHalfModel())))
    with VideoReader(str(clip)) as reader:
        source = list(reader.frames())
    written = [cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED) for name in sorted(os.listdir(out))
               if name.endswith(".png")]
    assert len(written) == len(source) == 12
    for k, frame in enumerate(source):  # transparent output keeps every pixel of its own frame
        np.testing.assert_array_equal(written[k][:, :, :3], frame)
        assert written[k][32, 10, 3] == 255 and written[k][32, 80, 3] == 0
    assert not _export_threads()


class _FailingModel(LeftHalfModel):
    def predict(self, pixels):
        if len(self.shapes) == 4:
            raise RuntimeError("the model broke at frame 5")
        return super().predict(pixels)


def test_an_error_in_any_stage_stops_the_export_and_leaves_nothing(clip, tmp_path, monkeypatch):
    from humanmatting_gui import export as export_module

    out = tmp_path / "out.mp4"
    # the engine's stage
    with pytest.raises(RuntimeError, match="frame 5"):
        export_video(ExportRequest(str(clip), str(out), stream=StreamRequest(_FailingModel())))
    assert os.listdir(tmp_path) == ["clip.mp4"] and not _export_threads()
    # the reading stage: a file that cannot be decoded part way
    real_demux = VideoReader.demux

    def broken_demux(self):
        for k, item in enumerate(real_demux(self)):
            if k == 6:
                raise InputError(f"cannot decode {self.path}: invalid data")
            yield item
    monkeypatch.setattr(VideoReader, "demux", broken_demux)
    with pytest.raises(InputError, match="cannot decode"):
        export_video(ExportRequest(str(clip), str(out), stream=StreamRequest(LeftHalfModel())))
    assert os.listdir(tmp_path) == ["clip.mp4"] and not _export_threads()
    monkeypatch.setattr(VideoReader, "demux", real_demux)
    # the writing stage: the disk fills up
    real_write = export_module.VideoWriter.write

    def full_disk(self, image):
        if self._index == 3:
            raise OSError(28, "No space left on device")
        real_write(self, image)
    monkeypatch.setattr(export_module.VideoWriter, "write", full_disk)
    with pytest.raises(OutputError, match="No space left"):
        export_video(ExportRequest(str(clip), str(out), stream=StreamRequest(LeftHalfModel())))
    assert os.listdir(tmp_path) == ["clip.mp4"] and not _export_threads()


def test_cancel_midway_stops_every_stage(clip, tmp_path):
    calls = []
    with pytest.raises(Cancelled):
        export_video(ExportRequest(str(clip), str(tmp_path / "out.mov"), format="mov-prores4444",
                                   stream=StreamRequest(LeftHalfModel())),
                     progress=lambda done, total: calls.append(done), cancelled=lambda: len(calls) >= 6)
    assert calls == [1, 2, 3, 4, 5, 6]
    assert os.listdir(tmp_path) == ["clip.mp4"] and not _export_threads()
