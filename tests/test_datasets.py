"""Readers of real formats: fixtures written in each format read back as the canonical labels, exactly;
malformed files get one clear error naming the file and row."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, EXPRESSIONS, N_AUS, SUBSETS, occurrence, subset, subset_indices
from bench.data.datasets import (
    AFFECTNET_COLUMNS,
    load_dataset_image,
    read_affectnet,
    read_bp4d,
    read_disfa,
    read_openface,
    read_rafdb,
)


def _canon(mapping: dict[int, float]) -> np.ndarray:
    v = np.full(N_AUS, np.nan, np.float32)
    for au, x in mapping.items():
        v[AU_INDEX[au]] = x
    return v


# ----------------------------------------------------------------------------------------- AffectNet


def _affectnet(tmp_path, rows: list[list[str]], header=AFFECTNET_COLUMNS):
    p = tmp_path / "training.csv"
    p.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return p


def _an_row(path="1/a.jpg", expr="1", valence="0.5", arousal="-0.25"):
    return [path, "10", "12", "200", "210", '"1.0;2.0;3.0"', expr, valence, arousal]


def test_affectnet_round_trip(tmp_path):
    rows = [_an_row("1/a.jpg", "1"), _an_row("2/b.png", "7", "-2", "-2"), _an_row("3/c.jpg", "9"), _an_row("4/d.jpg", "0")]
    got = list(read_affectnet(_affectnet(tmp_path, rows)))
    assert [(s.file, s.expression) for s in got] == [("1/a.jpg", 1), ("2/b.png", 7), ("4/d.jpg", 0)]
    assert got[0].meta["face_box"] == [10, 12, 200, 210]
    assert (got[0].meta["valence"], got[0].meta["arousal"]) == (0.5, -0.25)
    assert np.isnan(got[1].meta["valence"])  # -2 = not annotated
    assert all(np.isnan(s.intensity).all() for s in got)
    kept = list(read_affectnet(_affectnet(tmp_path, rows), keep_non_faces=True))
    assert [s.expression for s in kept] == [1, 7, -1, 0] and kept[2].meta["affectnet_code"] == 9


@pytest.mark.parametrize("row, pattern", [
    (_an_row(expr="11"), r"row 2: expression = 11 outside 0-10"),
    (_an_row(expr="happy"), r"row 2: expression = 'happy' is not an integer"),
    (_an_row(valence="1.5"), r"row 2: valence = 1.5 outside"),
    (_an_row(arousal="-1.5"), r"row 2: arousal = -1.5 outside -1-1"),
    (_an_row(path="../../etc/passwd"), r"row 2: path '../../etc/passwd' escapes its folder"),
    (_an_row(path="/etc/passwd"), r"row 2: path '/etc/passwd' is absolute"),
    (_an_row()[:-1], r"row 2: has 8 fields"),
])
def test_affectnet_bad_rows(tmp_path, row, pattern):
    with pytest.raises(DataError, match=pattern):
        list(read_affectnet(_affectnet(tmp_path, [_an_row(), row][1:])))


def test_affectnet_bad_header(tmp_path):
    with pytest.raises(DataError, match="are not AffectNet's"):
        list(read_affectnet(_affectnet(tmp_path, [_an_row()], header=AFFECTNET_COLUMNS[:-1] + ("mood",))))


def test_dataset_images_stay_inside_the_root(tmp_path):
    root = tmp_path / "images"
    (root / "1").mkdir(parents=True)
    Image.new("L", (40, 30), 128).save(root / "1" / "a.jpg")
    (tmp_path / "secret.jpg").write_bytes((root / "1" / "a.jpg").read_bytes())
    (root / "1" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    rows = [_an_row("1/a.jpg"), _an_row("1/link.jpg")]
    a, link = read_affectnet(_affectnet(tmp_path, rows))
    img = load_dataset_image(root, a)
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8  # grayscale JPEG converted to RGB
    with pytest.raises(DataError, match="row 3: path '1/link.jpg' goes through a symlink"):
        load_dataset_image(root, link)
    with pytest.raises(DataError, match="row 3: path '1/link.jpg' goes through a symlink"):
        list(read_affectnet(_affectnet(tmp_path, rows), image_root=root))


# ------------------------------------------------------------------------------------------- RAF-DB


def test_rafdb_round_trip(tmp_path):
    p = tmp_path / "list_patition_label.txt"
    p.write_text("train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 4\n".replace("test_0001", "test_00001")
                 + "test_00002.jpg 7\n")
    got = list(read_rafdb(p))
    # RAF-DB 5 = sadness, 1 = surprise, 4 = happiness, 7 = neutral
    assert [(s.file, EXPRESSIONS[s.expression]) for s in got] == [
        ("train_00001_aligned.jpg", "sad"), ("train_00002_aligned.jpg", "surprise"),
        ("test_00001_aligned.jpg", "happy"), ("test_00002_aligned.jpg", "neutral")]
    assert [s.file for s in read_rafdb(p, split="test", aligned=False)] == ["test_00001.jpg", "test_00002.jpg"]


@pytest.mark.parametrize("text, pattern", [
    ("train_00001.jpg 8\n", r"row 1: label = 8 outside 1-7"),
    ("train_00001.jpg\n", r"row 1: expected 'name label'"),
    ("../train_00001.jpg 1\n", r"row 1: image name '../train_00001.jpg' is not"),
    ("train_00001.jpg 1\ntrain_00001.jpg 2\n", r"row 2: duplicate image name"),
])
def test_rafdb_bad_lines(tmp_path, text, pattern):
    p = tmp_path / "list.txt"
    p.write_text(text)
    with pytest.raises(DataError, match=pattern):
        list(read_rafdb(p))


# -------------------------------------------------------------------------------------------- DISFA


def _disfa(tmp_path, frames=3, override=None):
    root = tmp_path / "ActionUnit_Labels"
    truth = {}
    for k, subject in enumerate(("SN001", "SN002")):
        (root / subject).mkdir(parents=True)
        for j, au in enumerate(subset("DISFA12")):
            vals = [(f + j + k) % 6 for f in range(frames)]
            truth.update({(subject, f + 1, au): v for f, v in enumerate(vals)})
            text = "".join(f"{f + 1},{v}\n" for f, v in enumerate(vals))
            if override and override[0] == (subject, au):
                text = override[1]
            (root / subject / f"{subject}_au{au}.txt").write_text(text)
    return root, truth


def test_disfa_round_trip(tmp_path):
    root, truth = _disfa(tmp_path)
    got = list(read_disfa(root))
    assert len(got) == 6 and got[0].file == "SN001/1.png" and got[0].identity == "SN001"
    for s in got:
        expect = _canon({au: truth[(s.meta["subject"], s.meta["frame"], au)] for au in SUBSETS["DISFA12"]})
        np.testing.assert_array_equal(s.intensity, expect)  # non-DISFA AUs stay NaN
    assert [s.meta["subject"] for s in read_disfa(root, subjects=["SN002"])] == ["SN002"] * 3
    occ = occurrence(got[0].intensity, threshold=2.0)  # DISFA convention
    assert np.isnan(occ[AU_INDEX[7]]) and occ[AU_INDEX[1]] == (got[0].intensity[AU_INDEX[1]] >= 2)


@pytest.mark.parametrize("override, pattern", [
    ((("SN001", 12), "1,0\n2,6\n3,0\n"), r"SN001_au12.txt: row 2: intensity = 6 outside 0-5"),
    ((("SN002", 4), "1,0\n2,1\n"), r"SN002_au4.txt: row 3: ends after 2 frames; SN002_au1.txt labels 3 \(its next "
                                   r"frame 3 is missing here\)"),
    ((("SN002", 5), "1,0\n2,1\n4,0\n"), r"SN002_au5.txt: row 3: frame 4 where SN002_au1.txt has frame 3 \(row 3\)"),
    ((("SN001", 9), "1,0\n1,1\n3,0\n"), r"SN001_au9.txt: row 2: duplicate frame 1"),
    ((("SN001", 1), "1;0\n"), r"SN001_au1.txt: row 1: expected 'frame,intensity'"),
])
def test_disfa_bad_files(tmp_path, override, pattern):
    root, _ = _disfa(tmp_path, override=override)
    with pytest.raises(DataError, match=pattern):
        list(read_disfa(root))


def test_disfa_missing_au_file(tmp_path):
    root, _ = _disfa(tmp_path)
    (root / "SN002" / "SN002_au26.txt").unlink()
    with pytest.raises(DataError, match="label file for AU26 of SN002 is missing"):
        list(read_disfa(root))


# --------------------------------------------------------------------------------------------- BP4D


def _bp4d(tmp_path, body: str | None = None):
    root = tmp_path / "AU_OCC"
    root.mkdir()
    header = ",".join(str(i) for i in range(40))
    rows = []
    for frame, on in ((1, {1, 12}), (2, {4, 24}), (3, set())):
        vals = ["1" if au in on else "0" for au in range(1, 40)]
        vals[7 - 1] = "9" if frame == 3 else vals[7 - 1]  # AU7 unknown on frame 3
        rows.append(",".join([str(frame), *vals]))
    (root / "F001_T1.csv").write_text(header + "\n" + (body if body is not None else "\n".join(rows) + "\n"))
    return root


def test_bp4d_round_trip(tmp_path):
    got = list(read_bp4d(_bp4d(tmp_path)))
    assert [s.file for s in got] == ["F001/T1/0001.jpg", "F001/T1/0002.jpg", "F001/T1/0003.jpg"]
    bp = subset_indices("BP4D12")
    expect = np.zeros((3, len(bp)), np.float32)
    for r, on in enumerate(({1, 12}, {4, 24}, set())):
        for j, au in enumerate(SUBSETS["BP4D12"]):
            expect[r, j] = 1.0 if au in on else 0.0
    expect[2, SUBSETS["BP4D12"].index(7)] = np.nan
    np.testing.assert_array_equal(np.stack([s.prob[bp] for s in got]), expect)
    others = [i for i in range(N_AUS) if i not in bp]
    assert all(np.isnan(s.prob[others]).all() and np.isnan(s.intensity).all() for s in got)


@pytest.mark.parametrize("body, pattern", [
    ("1," + ",".join(["2"] * 39) + "\n", r"F001_T1.csv: row 2: AU1 = '2'; BP4D occurrence must be 0, 1 or 9"),
    ("1,0\n", r"row 2: has 2 fields, header has 40"),
    ("1," + ",".join(["0"] * 39) + "\n1," + ",".join(["0"] * 39) + "\n", r"row 3: duplicate frame 1"),
])
def test_bp4d_bad_rows(tmp_path, body, pattern):
    with pytest.raises(DataError, match=pattern):
        list(read_bp4d(_bp4d(tmp_path, body)))


# ----------------------------------------------------------------------------------------- OpenFace


def _openface(tmp_path, rows, spaced=True, extra_cols=()):
    r_aus = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
    c_aus = (*r_aus[:-1], 28, 45)
    cols = ["frame", "face_id", "timestamp", "confidence", "success", *[f"AU{a:02d}_r" for a in r_aus],
            *[f"AU{a:02d}_c" for a in c_aus], *extra_cols]
    sep = ", " if spaced else ","
    lines = [sep.join(cols)]
    for frame, success, r, c in rows:
        lines.append(sep.join([str(frame), "0", f"{frame / 30:.3f}", "0.98", str(success),
                               *[str(r.get(a, 0.0)) for a in r_aus], *[str(c.get(a, 0)) for a in c_aus],
                               *["0"] * len(extra_cols)]))
    p = tmp_path / "video.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.mark.parametrize("spaced", [True, False])
def test_openface_round_trip(tmp_path, spaced):
    p = _openface(tmp_path, [(1, 1, {12: 2.31, 6: 1.5, 45: 3.0}, {12: 1, 6: 1, 28: 1}), (2, 0, {12: 4.0}, {12: 1})],
                  spaced=spaced)
    a, b = read_openface(p)
    expect_r = _canon({au: 0.0 for au in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26)} | {12: 2.31, 6: 1.5})
    np.testing.assert_array_equal(a.intensity, expect_r)  # AU24 NaN (OpenFace has none), AU45 dropped
    assert np.isnan(a.intensity[AU_INDEX[24]])
    assert a.prob[AU_INDEX[12]] == 1.0 and a.prob[AU_INDEX[1]] == 0.0 and np.isnan(a.prob[AU_INDEX[24]])
    assert a.meta["frame"] == 1 and b.meta["success"] == 0 and np.isnan(b.intensity).all()  # failed frame


@pytest.mark.parametrize("rows, extra, pattern", [
    ([(1, 1, {12: 5.2}, {})], (), r"video.csv: row 2: AU12_r = 5.2 outside 0-5"),
    ([(1, 1, {}, {6: 0.5})], (), r"row 2: AU06_c = 0.5; presence must be 0 or 1"),
    ([(1, 1, {}, {})], ("AU99_r",), r"AU columns OpenFace does not write: AU99_r"),
])
def test_openface_bad_input(tmp_path, rows, extra, pattern):
    with pytest.raises(DataError, match=pattern):
        list(read_openface(_openface(tmp_path, rows, extra_cols=extra)))


def test_missing_files_are_named(tmp_path):
    for fn in (read_affectnet, read_openface, read_rafdb):
        with pytest.raises(DataError, match="nope"):
            list(fn(tmp_path / "nope.csv"))
    for fn in (read_disfa, read_bp4d):
        with pytest.raises(DataError, match="nope"):
            list(fn(tmp_path / "nope"))


def test_dataset_root_bad_images(tmp_path):
    from test_sampleset import _bomb_png

    root = tmp_path / "images"
    (root / "1").mkdir(parents=True)
    Image.new("RGB", (64, 64), (200, 10, 10)).save(root / "1" / "ok.jpg", quality=90)
    (root / "1" / "cut.jpg").write_bytes((root / "1" / "ok.jpg").read_bytes()[:300])
    (root / "1" / "bomb.png").write_bytes(_bomb_png(6000, 6000))
    rows = [_an_row("1/ok.jpg"), _an_row("1/cut.jpg"), _an_row("1/bomb.png")]
    ok, cut, bomb = read_affectnet(_affectnet(tmp_path, rows))
    assert load_dataset_image(root, ok).shape == (64, 64, 3)
    with pytest.raises(DataError, match=r"training.csv: row 3: cut.jpg: corrupt or truncated"):
        load_dataset_image(root, cut)
    with pytest.raises(DataError, match=r"training.csv: row 4: bomb.png: image is 6000x6000, over the .* pixel limit"):
        load_dataset_image(root, bomb)
