"""`augen import-disfa` (bench/generation/disfa.py): a tiny fake DISFA tree (two subjects, short AVI videos of a posed face
written with PyAV, label files) -> the label rows `augen import` reads (both layouts: videos, extracted frames), the
subject folds, the hostile inputs as one error naming file and row, and one import end to end into a set MAUGen's
trainer reads (12 labelled AUs, the rest masked, captions)."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import DataError, UsageError
from bench.data.aus import AU_INDEX, AUS, subset
from bench.generation.disfa import PARTS, disfa_label_file, fold_subjects
from bench.world.prompts import prompt_from_aus
from tests.helpers.frames import moving_window_frames

SUBJECTS = ("SN001", "SN002")
N_FRAMES = 4


def _value(subject: str, frame: int, au: int) -> int:
    return (frame + au + int(subject[2:])) % 6


def write_avi(path: Path, frames: list[np.ndarray]) -> Path:
    """MPEG-4 Part 2 in AVI at 25 fps (as DISFA's videos), one thread."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"threads": "1", "qscale": "2"}
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def fake_disfa(root: Path, frames: list[np.ndarray], labels: dict | None = None, video_frames: int = N_FRAMES) -> Path:
    """DISFA's layout: ActionUnit_Labels/SNxxx/SNxxx_au{k}.txt (frames 1..N) and Videos_LeftCamera/LeftVideoSNxxx_comp.avi;
    `labels` {(subject, au): text} replaces a label file's text."""
    for subject in SUBJECTS:
        (root / "ActionUnit_Labels" / subject).mkdir(parents=True)
        for au in subset("DISFA12"):
            text = "".join(f"{f},{_value(subject, f, au)}\n" for f in range(1, N_FRAMES + 1))
            (root / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt").write_text(
                (labels or {}).get((subject, au), text))
    (root / "Videos_LeftCamera").mkdir()
    for k, subject in enumerate(SUBJECTS):
        write_avi(root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi",
                  [frames[(i + k) % len(frames)] for i in range(video_frames)])
    return root


@pytest.fixture(scope="module")
def frames(shipped_photos) -> list[np.ndarray]:
    """Four 256 px frames of a posed face (a moving window over one shipped photo)."""
    return moving_window_frames(shipped_photos, N_FRAMES)


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_label_rows_for_videos_and_extracted_frames(tmp_path, frames):
    root = fake_disfa(tmp_path / "DISFA", frames)
    text, info = disfa_label_file(root / "ActionUnit_Labels", root / "Videos_LeftCamera", frame_stride=2)
    rows = _rows(text)
    assert [r["file"] for r in rows] == ["LeftVideoSN001_comp_f000000", "LeftVideoSN001_comp_f000002",
                                         "LeftVideoSN002_comp_f000000", "LeftVideoSN002_comp_f000002"]
    r = rows[1]  # SN001's DISFA frame 3 = decoded frame 2
    want = np.full(len(AUS), np.nan)
    for au in subset("DISFA12"):
        want[AU_INDEX[au]] = _value("SN001", 3, au)
    assert [r[f"AU{a:02d}"] for a in AUS] == ["" if np.isnan(v) else str(int(v)) for v in want]
    assert r["prompt"] == prompt_from_aus(want) and r["prompt"].startswith("a face with")
    assert info["subjects"]["SN002"] == {"source": "LeftVideoSN002_comp.avi", "labelled_frames": 4, "kept": 2}
    # extracted frames, ME-GraphAU's naming (SNxxx/<frame counted from 0>.png), one subject, a cap
    ext = tmp_path / "frames"
    for subject in SUBJECTS:
        (ext / subject).mkdir(parents=True)
        for i in range(N_FRAMES):
            Image.fromarray(frames[i]).save(ext / subject / f"{i}.png")
    text, _ = disfa_label_file(root / "ActionUnit_Labels", ext, subjects=["SN002"], max_frames=3)
    assert [r["file"] for r in _rows(text)] == ["SN002/0.png", "SN002/1.png", "SN002/2.png"]


def test_the_folds_are_the_published_subject_exclusive_parts():
    assert sorted(s for p in PARTS for s in p) == sorted({s for p in PARTS for s in p}) and len(PARTS[0]) == 9
    for fold in (1, 2, 3):
        train, test = fold_subjects(fold, "train"), fold_subjects(fold, "test")
        assert len(train) == 18 and len(test) == 9 and not set(train) & set(test)
    assert fold_subjects(1, "test") == tuple(sorted(PARTS[2])) and fold_subjects(3, "test") == tuple(sorted(PARTS[0]))
    with pytest.raises(UsageError, match="--fold must be 1, 2 or 3"):
        fold_subjects(4, "train")


@pytest.mark.parametrize("case, pattern", [
    ("short AU file", r"SN002_au4.txt: row 4: ends after 3 frames; SN002_au1.txt labels 4"),
    ("video shorter than labels", r"SN001_au1.txt: row 4: labels 4 frames; LeftVideoSN001_comp.avi lists 3"),
    ("out of range", r"SN001_au12.txt: row 2: intensity = 6 outside 0-5"),
    ("gap", r"SN002_au1.txt: row 3: frame 4 where frame 3 comes next"),
    ("no video", r"Videos_LeftCamera: no video \(e.g. LeftVideoSN002_comp.avi\) or frame folder"),
    ("missing subject", r"ActionUnit_Labels: subjects not found: SN003"),
])
def test_hostile_disfa_inputs_are_one_error_naming_file_and_row(tmp_path, frames, case, pattern):
    labels = {"short AU file": {("SN002", 4): "1,0\n2,0\n3,0\n"},
              "out of range": {("SN001", 12): "1,0\n2,6\n3,0\n4,0\n"},
              "gap": {("SN002", au): "1,0\n2,0\n4,0\n5,0\n" for au in subset("DISFA12")}}.get(case)
    root = fake_disfa(tmp_path / "DISFA", frames, labels, video_frames=3 if case.startswith("video") else N_FRAMES)
    if case == "no video":
        (root / "Videos_LeftCamera" / "LeftVideoSN002_comp.avi").unlink()
    with pytest.raises(DataError, match=pattern):
        disfa_label_file(root / "ActionUnit_Labels", root / "Videos_LeftCamera",
                         subjects=["SN003"] if case == "missing subject" else None)


def test_import_disfa_end_to_end_gives_a_set_maugen_trains_on(tmp_path, frames, faceapi_weights, blendshapes_task,
                                                              capsys):
    """`augen import-disfa` through the CLI: every kept frame aligned, its 12 intensities and caption, the rest of the
    AUs unlabelled; LabelledFaces reads it with the DISFA12 mask and the set's own captions; a hostile input is one
    line on stderr, exit 2."""
    from bench.cli import main
    from bench.data.sampleset import SampleSet
    from reference.common.sd15train import LabelledFaces

    root = fake_disfa(tmp_path / "DISFA", frames)
    out = tmp_path / "set"
    assert main(["import-disfa", str(root), "--out", str(out), "--frame-stride", "2", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "{'SN001': 2, 'SN002': 2}" in said and "world grammar" in said
    ss = SampleSet(out)
    assert ss.manifest.labelled_aus == subset("DISFA12") and not ss.manifest.expression_labelled
    assert ss.manifest.generator["name"] == "disfa"
    rows = list(ss.rows())
    assert len(rows) == 4 and {r.identity for r in rows} == {"LeftVideoSN001_comp.avi", "LeftVideoSN002_comp.avi"}
    want = sorted(tuple(_value(s, f, au) for au in subset("DISFA12")) for s in SUBJECTS for f in (1, 3))
    got = sorted(tuple(int(r.intensity[AU_INDEX[au]]) for au in subset("DISFA12")) for r in rows)
    assert got == want and all(r.prompt == prompt_from_aus(r.intensity) for r in rows)
    assert json.loads((out / "head_regions.json").read_text())["count"] == 4  # written by the import
    faces = LabelledFaces(out, 32, any_aus=subset("DISFA12"), captions="dataset", what="MAUGen", head_regions=True)
    wb = faces.batch(0, 4, seed=0)
    assert wb.au_mask[0].tolist() == [a in subset("DISFA12") for a in AUS] and wb.expression.tolist() == [-1] * 4
    assert wb.regions.shape == (4, 1, 32, 32) and 0.2 < float(wb.regions.mean()) < 0.8
    assert faces.describe()["masked_aus"] == [a for a in AUS if a not in subset("DISFA12")]
    (root / "Videos_LeftCamera" / "LeftVideoSN002_comp.avi").unlink()
    assert main(["import-disfa", str(root), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no video (e.g. LeftVideoSN002_comp.avi)" in err[0]
