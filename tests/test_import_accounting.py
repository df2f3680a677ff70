"""`augen import` accounts for every input file (docs/photographs.md): one summary line, `import_log.csv` in the set
with each file's label row, outcome, reason and detection score, and one line for each mistake it refuses.

    mistakes     IMPORT_MISTAKES: what a newcomer typed, what it printed before, the one line it prints now (exit 2,
                 nothing written); the lead merges the table into docs/errors.md
    labels       spreadsheet exports read (UTF-8 BOM, CRLF, blank lines, ';'); rows are line numbers (header = 1)
    accounting   a folder mixing a face, a cat (skipped as "not a face"), a .txt, a labelled .HEIC, a 1x1 PNG, an image without a label, a label
                 without an image and a duplicate: the summary line and the per-file record, exactly
    Ctrl-C       interrupted after the first shard: one line saying what was kept (exit 130); the rerun says it
                 resumes
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.cli import main
from bench.core.errors import DataError
from bench.data.hostile import HUGE_VIDEO_SIDE, write_hostile_videos, write_video
from bench.data.labelfiles import read_labels
from bench.generation import importer
from tests.helpers.interrupt import stop_importer_at
from tests.helpers.mistakes import run_row


def _png(path: Path, side: int = 48, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _labels(work: Path, *rows: str, header: str = "file,expression") -> None:
    _write(work / "labels.csv", "\n".join([header, *rows]) + "\n")


def _video(work: Path) -> None:
    (work / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    _labels(work, "clip.mp4,happy")


def _clip(work: Path, n: int = 6, side: int = 64) -> Path:
    rng = np.random.default_rng(0)
    return write_video(work / "clip.mp4", [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)])


def _text_video(work: Path) -> None:
    (work / "clip.mp4").write_text("<html>404 Not Found</html>\n")
    _labels(work, "clip.mp4,happy")


def _cut_short(work: Path, faststart: bool = False) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(12)]
    data = write_video(work / "whole.mp4", frames, faststart=faststart).read_bytes()
    (work / "whole.mp4").unlink()
    (work / "clip.mp4").write_bytes(data[: len(data) // 2])
    _labels(work, "clip.mp4,happy")


def _no_frames(work: Path) -> None:
    write_hostile_videos(work / "h", [np.zeros((64, 64, 3), np.uint8)])  # no_frames.mp4: a muxer given no frame
    (work / "h" / "no_frames.mp4").rename(work / "clip.mp4")
    shutil.rmtree(work / "h")
    _labels(work, "clip.mp4,happy")


def _huge_video(work: Path) -> None:
    write_video(work / "clip.mp4", [np.zeros((HUGE_VIDEO_SIDE, HUGE_VIDEO_SIDE, 3), np.uint8)])
    _labels(work, "clip.mp4,happy")


def _video_labels_name_photos(work: Path) -> None:
    _clip(work)
    _labels(work, "photo_1.png,happy")


def _heic_only(work: Path) -> None:
    for name in ("IMG_0001.HEIC", "IMG_0002.HEIC"):
        (work / "photos").mkdir(exist_ok=True)
        (work / "photos" / name).write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    _labels(work, "IMG_0001.HEIC,happy", "IMG_0002.HEIC,sad")


def _same_photo_two_labels(work: Path) -> None:
    _png(work / "photos" / "a.png")
    shutil.copy(work / "photos" / "a.png", work / "photos" / "b.png")
    _labels(work, "a.png,surprise", "b.png,happy")


def _out_under_a_file(work: Path) -> None:
    _png(work / "photos" / "a.png")
    _labels(work, "a.png,happy")
    (work / "results").write_text("my notes\n")


def _no_expression_column(work: Path) -> None:
    _png(work / "photos" / "a.png")
    _labels(work, "a.png,2.5", header="file,AU06")


def _names_match_nothing(work: Path) -> None:
    _png(work / "photos" / "photo_1.png")
    _labels(work, "img_1.png,happy")


# (what the newcomer typed, how the folder was prepared, what it used to print, the one line it prints now)
IMPORT_MISTAKES = [
    ("augen import clip.mp4 --labels labels.csv --out set  # an MP4 header, then zeros", _video,
     "augen: error: clip.mp4: is not a folder or a tar archive; IMAGES must be a folder of PNG/JPEG/WebP images or a "
     "tar archive of them (before that: not a readable tar archive)",
     "augen: error: clip.mp4: cannot be read as a video (Invalid data found when processing input): a damaged or "
     "truncated file, or not a video"),
    ("augen import clip.mp4 --labels labels.csv --out set  # a web page saved as clip.mp4", _text_video,
     "augen: error: clip.mp4: is not a folder or a tar archive; IMAGES must be a folder of PNG/JPEG/WebP images or a "
     "tar archive of them",
     "augen: error: clip.mp4: cannot be read as a video (Invalid data found when processing input): a damaged or "
     "truncated file, or not a video"),
    ("augen import clip.mp4 --labels labels.csv --out set  # a download cut short (its index, written last, lost)",
     _cut_short,
     "as above: is not a folder or a tar archive",
     "augen: error: clip.mp4: cannot be read as a video (Invalid data found when processing input): a damaged or "
     "truncated file, or not a video"),
    ("augen import clip.mp4 --labels labels.csv --out set  # cut short, its index first (faststart)",
     lambda w: _cut_short(w, faststart=True),
     "as above: is not a folder or a tar archive",
     "augen: error: clip.mp4: is damaged or truncated: packet 6 is incomplete (after 5 frames)"),
    ("augen import clip.mp4 --labels labels.csv --out set  # no frame was ever encoded", _no_frames,
     "as above: is not a folder or a tar archive",
     "augen: error: clip.mp4: holds no video frames (no video stream; no stream)"),
    ("augen import clip.mp4 --labels labels.csv --out set  # 8192 x 8192 frames", _huge_video,
     "as above: is not a folder or a tar archive",
     "augen: error: clip.mp4: frames are 8192x8192, over the 50000000 pixel limit (refused from the header)"),
    ("augen import clip.mp4 --labels labels.csv --out set  # the labels name the photos, not the video",
     _video_labels_name_photos,
     "as above: is not a folder or a tar archive",
     "augen: error: labels.csv: row 2: no label names clip.mp4 or one of its frames (clip_f000000, ...; this row "
     "names photo_1.png)"),
    ("augen import clip.mp4 --labels labels.csv --out set --frame-stride 0",
     lambda w: (_clip(w), _labels(w, "clip.mp4,happy")),
     "augen import: error: unrecognized arguments: --frame-stride 0",
     "augen: error: --frame-stride must be a positive number of frames, not 0"),
    ("augen import photos --labels labels.csv --out set  # iPhone photos (.HEIC)", _heic_only,
     "augen: error: photos: holds no images (.png, .jpg, .jpeg, .webp)",
     "augen: error: photos: holds no PNG, JPEG or WebP image, only 2 HEIC files: HEIC is not supported (convert to "
     "PNG or JPEG)"),
    ("augen import photos --labels labels.csv --out set  # one photo under two names, labelled surprise and happy",
     _same_photo_two_labels,
     "(accepted: both copies imported with their contradictory labels)",
     "augen: error: labels.csv: row 3: b.png is the same image as a.png (row 2; same bytes) but labelled "
     "differently (expression surprise vs happy); keep one of them"),
    ("augen import photos --labels labels.csv --out results/set  # results is a file", _out_under_a_file,
     "a NotADirectoryError traceback",
     "augen: error: results/set: cannot write the --out output: results is a file, not a folder"),
    ("augen import photos --labels labels.csv --out set --format synfer  # no expression column",
     _no_expression_column,
     "augen: error: labels.csv: row 0: no expression column (a SynFER-style CSV has file, expression, prompt, AU "
     "columns)",
     "augen: error: labels.csv: row 1: no expression column (a SynFER-style CSV has file, expression, prompt, AU "
     "columns)"),
    ("augen import photos --labels labels.csv --out set  # the labels name img_1.png, the folder holds photo_1.png",
     _names_match_nothing,
     "augen: error: labels.csv: row 2: labels img_1.png, which is not an image in photos",
     "augen: error: labels.csv: row 2: no label names an image in photos (this row names img_1.png; label keys are "
     "paths relative to IMAGES)"),
]


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command, setup, before, after", IMPORT_MISTAKES, ids=[m[0] for m in IMPORT_MISTAKES])
def test_each_import_mistake_is_one_line(work, capsys, command, setup, before, after):
    run_row(work, capsys, command, setup, after)


# ------------------------------------------------------------------------------------------------ label files


def test_spreadsheet_exports_are_read(tmp_path):
    rows = ["file,expression,AU06", "a.png,happy,2.5", "", "b.png,3,0"]
    (tmp_path / "bom.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n\r\n").encode())
    (tmp_path / "semi.csv").write_text("\n".join(r.replace(",", ";") for r in rows) + "\n")
    for name in ("bom.csv", "semi.csv"):
        for fmt in ("auto", "synfer"):
            got, labels, aus, _ = read_labels(tmp_path / name, fmt)
            assert got == "synfer" and aus == (6,), name
            assert [(r.key, r.row, r.expression) for r in labels] == [("a.png", 2, 1), ("b.png", 4, 3)], name


def test_rows_are_line_numbers(tmp_path):
    (tmp_path / "bad.csv").write_text('file,expression,prompt\na.png,happy,"two\nlines"\n\nb.png,smirk,x\n')
    with pytest.raises(DataError, match=r"bad.csv: row 5: expression 'smirk'"):
        read_labels(tmp_path / "bad.csv")
    (tmp_path / "hdr.csv").write_text("file,expression,AU6,AU99\na.png,happy,1,2\n")
    with pytest.raises(DataError, match=r"hdr.csv: row 1: column 'AU99'"):
        read_labels(tmp_path / "hdr.csv", "synfer")
    ok = {"image": "a.png", "intensity": [0] * 12}
    (tmp_path / "r.json").write_text(f"[\n {json.dumps(ok)},\n {json.dumps({**ok, 'intensity': [9] + [0] * 11})}\n]")
    with pytest.raises(DataError, match=r"r.json: row 3: AU1 intensity 9"):
        read_labels(tmp_path / "r.json")
    (tmp_path / "one.json").write_text(json.dumps([ok, {**ok, "image": "b.png", "intensity": [1]}]))
    with pytest.raises(DataError, match=r"one.json: row 1: record 2: intensity has 1 values"):
        read_labels(tmp_path / "one.json")


# ------------------------------------------------------------------------------------------------ accounting


def _face(shipped_photos, name: str) -> Path:
    return next(p.path for p in shipped_photos if p.path.name == name)


def test_every_file_is_accounted_for(shipped_photos, work, capsys):
    photos = work / "photos"
    photos.mkdir()
    shutil.copy(_face(shipped_photos, "0-f1-su-ph.jpg"), photos / "face.jpg")
    shutil.copy(photos / "face.jpg", photos / "face_copy.jpg")
    shutil.copy(_face(shipped_photos, "chelsea.png"), photos / "cat.png")
    shutil.copy(_face(shipped_photos, "0-f15-hao-ph.jpg"), photos / "unlabelled.jpg")
    (photos / "notes.txt").write_text("prompts used\n")
    (photos / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    _png(photos / "tiny.png", side=1)
    (work / "labels.csv").write_bytes("\ufefffile,expression\r\nface.jpg,surprise\r\nface_copy.jpg,surprise\r\n"
                                      "cat.png,happy\r\nIMG_0001.HEIC,happy\r\ntiny.png,sad\r\nmissing.jpg,sad\r\n"
                                      .encode())
    assert main(["import", "photos", "--labels", "labels.csv", "--out", "set", "--size", "64", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == (
        "set: imported 1, skipped 7 (1 unsupported format, 1 not an image, 1 no label, 1 no image, 1 duplicate, "
        "1 too small, 1 not a face), refused 0; face yield 0.500 (1 of 2 images with one face, policy largest); 0 "
        "imported with a face score under 0.8 (uncertain); per file: set/import_log.csv")
    with open(work / "set" / "import_log.csv", newline="") as f:
        log = list(csv.reader(f))
    assert log[0] == ["file", "label_row", "outcome", "reason", "detail", "score", "output"]
    scores = {row[0]: row.pop(5) for row in log[1:]}  # float sums: the 4th decimal may move
    scores = {k: float(v) for k, v in scores.items() if v}
    assert scores == {"cat.png": pytest.approx(0.931, abs=2e-3), "face.jpg": pytest.approx(0.960, abs=2e-3)}
    assert log[1:] == [
        ["IMG_0001.HEIC", "5", "skipped", "unsupported format", "HEIC is not supported (convert to PNG or JPEG)", ""],
        # a cat: a face to face-api's SSD, none to MediaPipe's Face Landmarker in its aligned crop (docs/photographs.md)
        ["cat.png", "4", "skipped", "not a face", "face-api's SSD scores it 0.93, MediaPipe's Face Landmarker finds no "
         "face in its aligned crop", ""],
        ["face.jpg", "2", "imported", "", "", "00000001.png"],
        ["face_copy.jpg", "3", "skipped", "duplicate", "same bytes and labels as face.jpg (row 2)", ""],
        ["missing.jpg", "7", "skipped", "no image", "no such file in photos", ""],
        ["notes.txt", "", "skipped", "not an image", "not an image (.txt; images are .png, .jpg, .jpeg, .webp)", ""],
        ["tiny.png", "6", "skipped", "too small", "1x1 px; an image needs at least 32 px a side", ""],
        ["unlabelled.jpg", "", "skipped", "no label", "no row of the label file names it", ""],
    ]
    stats = json.loads((work / "set" / "import.json").read_text())["stats"]
    assert stats["files"] == 8 and stats["imported"] == 1 and stats["refused"] == 0
    # --no-face-check keeps what face-api's SSD finds, the cat included
    assert main(["import", "photos", "--labels", "labels.csv", "--out", "set2", "--size", "64", "--quiet",
                 "--no-face-check"]) == 0
    assert "imported 2," in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ Ctrl-C


def test_ctrl_c_says_what_was_kept_and_the_rerun_resumes(shipped_photos, work, capsys, monkeypatch):
    (work / "photos").mkdir()
    for name in ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg"):
        shutil.copy(_face(shipped_photos, name), work / "photos" / name)
    _labels(work, "0-f1-su-ph.jpg,surprise", "0-f15-hao-ph.jpg,happy")
    argv = ["import", "photos", "--labels", "labels.csv", "--out", "set", "--size", "64", "--shard-size", "1",
            "--quiet"]
    real_shard = importer._shard
    stop_importer_at(monkeypatch, 2)
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == ("augen: interrupted: kept 1 of 2 shards in .set.partial; rerun the "
                                               "same command to resume")
    monkeypatch.setattr(importer, "_shard", real_shard)
    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.err.strip() == "augen import: resuming in .set.partial: 1 of 2 shards already written"
    assert out.out.startswith("set: imported 2, skipped 0, refused 0;") and not (work / ".set.partial").exists()
