"""SampleSet: round trips, atomic writes, sharding, streaming memory, and every kind of bad input."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SMALL, write_world
from PIL import Image

from bench.core.errors import DataError
from bench.data.aus import AU_COLUMNS, N_AUS
from bench.data.safeio import sha256_file
from bench.data.sampleset import Manifest, Sample, SampleSet, SampleSetWriter, finalize_shards, validate
from bench.world.make import world_batches


def _rewrite_labels(root: Path, edit) -> None:
    """Apply edit(rows) to labels.csv (rows include the header) and fix the manifest hash to match."""
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows = edit(rows)
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    m = yaml.safe_load((root / "manifest.yaml").read_text())
    m["labels_sha256"] = sha256_file(root / "labels.csv")
    m["columns"] = rows[0]
    (root / "manifest.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


def _set_cell(col: str, value: str, row: int = 2):
    def edit(rows):
        rows[row][rows[0].index(col)] = value
        return rows
    return edit


# ------------------------------------------------------------------------------------ round trips


def test_round_trip_labels_and_pixels(world_set):
    expected = [s for b in world_batches(SMALL, "train", 0, 6) for s in b]
    ss = SampleSet(world_set)
    got = list(ss)
    assert len(ss) == len(got) == 6
    for e, g in zip(expected, got):
        assert g.file == e.file
        np.testing.assert_array_equal(g.intensity, e.intensity)  # float32 text round trip is exact
        np.testing.assert_array_equal(g.image, e.image)  # PNG is lossless
        assert (g.expression, g.prompt, g.identity, g.seed, g.attributes) == (
            e.expression, e.prompt, e.identity, e.seed, e.attributes)
    assert validate(world_set).count == 6


def test_batches_stack(world_set):
    batches = list(SampleSet(world_set).batches(4))
    assert [b["image"].shape for b in batches] == [(4, 32, 32, 3), (2, 32, 32, 3)]
    assert batches[0]["intensity"].shape == (4, N_AUS)


def test_partial_labels_and_probabilities(tmp_path):
    """A generator that labels only some AUs (MAUGen: DISFA12) with occurrence probabilities."""
    img = np.zeros((16, 16, 3), np.uint8)
    inten = np.full(N_AUS, np.nan, np.float32)
    inten[:2] = [1.5, 0.0]
    prob = np.full(N_AUS, np.nan, np.float32)
    prob[:2] = [0.9, 0.1]
    with SampleSetWriter(tmp_path / "p", name="p", generator={"name": "x"}, image_size=(16, 16),
                         labelled_aus=(1, 2), expression_labelled=False, with_prob=True) as w:
        w.add(Sample(image=img, intensity=inten, prob=prob))
    (s,) = SampleSet(tmp_path / "p").rows()
    np.testing.assert_array_equal(s.intensity[:2], [1.5, 0.0])
    assert np.isnan(s.intensity[2:]).all() and s.expression == -1
    np.testing.assert_allclose(s.prob[:2], [0.9, 0.1])


def test_sharded_set_reads_in_order(tmp_path):
    root = tmp_path / "sharded"
    root.mkdir()
    write_world(root / "shard-00000", n=3)
    write_world(root / "shard-00001", n=2)
    finalize_shards(root, name="s", generator={"name": "world"})
    files = [s.file for s in SampleSet(root)]
    assert len(files) == 5 and len(SampleSet(root)) == 5


# ------------------------------------------------------------------------------------ atomic writes


def test_writer_leaves_nothing_on_bad_sample(tmp_path):
    out = tmp_path / "out"
    bad = np.zeros(N_AUS, np.float32)
    bad[3] = 7.0
    with pytest.raises(DataError, match=r"row 2.*AU05 = 7.0 outside 0-5"):
        with SampleSetWriter(out, name="x", generator={"name": "x"}, image_size=(8, 8)) as w:
            w.add(Sample(image=np.zeros((8, 8, 3), np.uint8), intensity=np.zeros(N_AUS, np.float32), expression=0))
            w.add(Sample(image=np.zeros((8, 8, 3), np.uint8), intensity=bad, expression=0))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temp folder left either


@pytest.mark.parametrize("sample_kw, message", [
    ({"image": np.zeros((8, 9, 3), np.uint8)}, "is not uint8"),
    ({"image": np.zeros((8, 8, 3), np.float32)}, "is not uint8"),
    ({"intensity": np.full(N_AUS, np.nan, np.float32)}, "NaN but the set labels it"),
    ({"expression": 8}, "expression 8 outside"),
    ({"file": "../x.png"}, "not a bare file name"),
    ({"attributes": {"skin_tone": 6}}, "attribute 'skin_tone' is not a column"),
])
def test_writer_refuses_bad_samples(tmp_path, sample_kw, message):
    kw = {"image": np.zeros((8, 8, 3), np.uint8), "intensity": np.zeros(N_AUS, np.float32), "expression": 0}
    kw.update(sample_kw)
    with pytest.raises(DataError, match=message):
        with SampleSetWriter(tmp_path / "o", name="x", generator={}, image_size=(8, 8)) as w:
            w.add(Sample(**kw))
    assert not (tmp_path / "o").exists()


def test_writer_refuses_existing_folder(world_set):
    with pytest.raises(FileExistsError):
        with SampleSetWriter(world_set, name="x", generator={}, image_size=(8, 8)):
            pass
    assert validate(world_set).count == 6  # untouched


# ------------------------------------------------------------------------------------ streaming


def _big_set(root: Path, n: int) -> None:
    """n rows with empty image files (rows() never decodes images; this measures the row stream)."""
    (root / "images").mkdir(parents=True)
    header = ["file", *AU_COLUMNS, "expression", "prompt", "identity", "seed"]
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(n):
            name = f"{i:08d}.png"
            os.close(os.open(root / "images" / name, os.O_CREAT | os.O_WRONLY))
            w.writerow([name, *(["1.5"] * N_AUS), str(i % 8), "a face", f"id{i % 100}", str(i)])
    m = Manifest(name="big", generator={"name": "x"}, count=n, image_size=(8, 8),
                 labels_sha256=sha256_file(root / "labels.csv"), columns=tuple(header))
    (root / "manifest.yaml").write_text(m.to_yaml())


def _peak_bytes(root: Path) -> int:
    tracemalloc.start()
    ss = SampleSet(root)
    n = sum(1 for _ in ss.rows())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == len(ss)
    return peak


def test_reader_memory_is_compact_in_rows(tmp_path):
    """An opened set keeps its claims (parsed once: file names and label arrays, bench.data.sampleset.Claims), never
    the rows' Sample objects: memory grows by a compact ~130 bytes a row, and streaming rows() adds nothing."""
    _big_set(tmp_path / "small", 10_000)
    _big_set(tmp_path / "big", 100_000)
    small, big = _peak_bytes(tmp_path / "small"), _peak_bytes(tmp_path / "big")
    per_row = (big - small) / 90_000
    assert per_row < 250, f"{per_row:.0f} bytes a row (peak {big} bytes for 100k rows)"
    assert big < 100_000 * 250 + 4_000_000, big  # 1 MiB of the constant is the hashing buffer


# ------------------------------------------------------------------------------------ bad input


def _png_bytes(w: int, h: int, mode: str = "RGB") -> bytes:
    import io
    buf = io.BytesIO()
    Image.new(mode, (w, h)).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _break_image(data_fn):
    def act(root: Path):
        (root / "images" / "00000001.png").write_bytes(data_fn(root / "images" / "00000001.png"))
    return act


BAD_SETS = {
    "corrupt image": (_break_image(lambda p: b"not a png at all"), r"row 2: 00000001.png: corrupt or truncated"),
    "truncated image": (_break_image(lambda p: p.read_bytes()[:60]), r"row 2: 00000001.png: corrupt or truncated"),
    "grayscale image": (_break_image(lambda p: _png_bytes(32, 32, "L")), r"row 2: 00000001.png: image mode is L"),
    "RGBA image": (_break_image(lambda p: _png_bytes(32, 32, "RGBA")), r"row 2: 00000001.png: image mode is RGBA"),
    "wrong size": (_break_image(lambda p: _png_bytes(33, 32)), r"row 2: 00000001.png: image is 32x33, expected 32x32"),
    "decompression bomb": (_break_image(lambda p: _bomb_png(100_000, 100_000)), r"row 2: 00000001.png: (decompression bomb refused|image is 100000x100000)"),
    "jpeg in png clothing": (_break_image(lambda p: (lambda b: b)(_jpeg_bytes())), r"row 2: 00000001.png: image format JPEG"),
    "label above 5": (lambda r: _rewrite_labels(r, _set_cell("AU12", "5.5")), r"row 2: 00000001.png: AU12 = 5.5 outside 0-5"),
    "negative label": (lambda r: _rewrite_labels(r, _set_cell("AU01", "-0.1")), r"row 2: 00000001.png: AU01 = -0.1 outside"),
    "infinite label": (lambda r: _rewrite_labels(r, _set_cell("AU01", "inf")), r"AU01 = inf outside"),
    "text label": (lambda r: _rewrite_labels(r, _set_cell("AU04", "high")), r"row 2: 00000001.png: AU04 = 'high' is not a number"),
    "NaN where required": (lambda r: _rewrite_labels(r, _set_cell("AU26", "nan")), r"row 2: 00000001.png: AU26 is empty/NaN but the set labels it"),
    "missing expression": (lambda r: _rewrite_labels(r, _set_cell("expression", "")), r"row 2: 00000001.png: expression is empty"),
    "expression out of range": (lambda r: _rewrite_labels(r, _set_cell("expression", "9")), r"expression = 9 outside 0-7"),
    "demographic out of range": (lambda r: _rewrite_labels(r, _set_cell("skin_tone", "6")), r"skin_tone = 6 outside 0-5"),
    "unknown AU column": (lambda r: _rewrite_labels(r, lambda rows: [row + (["AU03"] if i == 0 else ["1"]) for i, row in enumerate(rows)]),
                          r"unknown columns: AU03"),
    "missing AU column": (lambda r: _rewrite_labels(r, lambda rows: [row[:5] + row[6:] for row in rows]), r"missing columns: AU06"),
    "duplicate file name": (lambda r: _rewrite_labels(r, _set_cell("file", "00000000.png")), r"row 2: duplicate file name: '00000000.png'"),
    "unsorted rows": (lambda r: _rewrite_labels(r, lambda rows: [rows[0], rows[2], rows[1], *rows[3:]]), r"row 2: rows are not sorted"),
    "dotdot path": (lambda r: _rewrite_labels(r, _set_cell("file", "../00000001.png")), r"row 2: file name '../00000001.png' is not a bare"),
    "absolute path": (lambda r: _rewrite_labels(r, _set_cell("file", "/etc/passwd")), r"row 2: file name '/etc/passwd' is not a bare"),
    "symlinked image": (lambda r: _symlink_image(r), r"row 2: 00000001.png: image is a symlink"),
    "missing image": (lambda r: (r / "images" / "00000001.png").unlink() or (r / "images" / "extra.png").write_bytes(b""),
                      r"row 2: 00000001.png: image file is missing"),
    "extra image": (lambda r: (r / "images" / "zzz.png").write_bytes(_png_bytes(32, 32)), r"holds 7 entries but labels.csv lists 6"),
    "ragged row": (lambda r: _rewrite_labels(r, lambda rows: [*rows[:2], rows[2][:-1], *rows[3:]]), r"row 2: has \d+ fields"),
    "manifest count lies": (lambda r: _edit_manifest(r, count=7), r"count is 7 but labels.csv has 6 rows"),
    "manifest hash lies": (lambda r: _edit_manifest(r, labels_sha256="0" * 64), r"labels_sha256 0000.* does not match"),
    "labels edited after manifest": (lambda r: (r / "labels.csv").write_text((r / "labels.csv").read_text().replace("w", "v", 1)),
                                     r"does not match labels.csv"),
    "missing manifest": (lambda r: (r / "manifest.yaml").unlink(), r"manifest.yaml is missing"),
    "manifest not yaml": (lambda r: (r / "manifest.yaml").write_text("{: ["), r"manifest is not valid YAML"),
    "manifest wrong format": (lambda r: _edit_manifest(r, format="other/9"), r"format is 'other/9'"),
    "manifest unknown key": (lambda r: _edit_manifest(r, surprise=1), r"unknown manifest keys: surprise"),
    "manifest huge size": (lambda r: _edit_manifest(r, image_size=[100000, 100000]), r"image_size .* out of range"),
    "labels.csv missing": (lambda r: (r / "labels.csv").unlink(), r"labels.csv is missing"),
}


def _jpeg_bytes() -> bytes:
    import io
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, format="JPEG")
    return buf.getvalue()


def _symlink_image(root: Path) -> None:
    target = root.parent / "outside.png"
    target.write_bytes(_png_bytes(32, 32))
    (root / "images" / "00000001.png").unlink()
    (root / "images" / "00000001.png").symlink_to(target)


def _edit_manifest(root: Path, **changes) -> None:
    m = yaml.safe_load((root / "manifest.yaml").read_text())
    m.update(changes)
    (root / "manifest.yaml").write_text(yaml.safe_dump(m))


@pytest.mark.parametrize("case", sorted(BAD_SETS))
def test_bad_sampleset_gets_one_clear_error(tmp_path, case):
    root = write_world(tmp_path / "set")
    act, pattern = BAD_SETS[case]
    act(root)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(DataError, match=pattern) as err:
        validate(root)
    assert str(root) in str(err.value)  # names the file
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_shard_manifest_lies(tmp_path):
    root = tmp_path / "sharded"
    root.mkdir()
    write_world(root / "shard-00000", n=3)
    write_world(root / "shard-00001", n=2)
    finalize_shards(root, name="s", generator={})
    _edit_manifest(root, shards=[{"dir": "shard-00000", "count": 3, "labels_sha256": "x"},
                                 {"dir": "../escape", "count": 2, "labels_sha256": "y"}])
    with pytest.raises(DataError, match="not a bare file name"):
        SampleSet(root)
    shutil.rmtree(root / "shard-00001")
    _edit_manifest(root, shards=[{"dir": "shard-00000", "count": 4,
                                  "labels_sha256": Manifest.load(root / "shard-00000" / "manifest.yaml").labels_sha256}])
    with pytest.raises(DataError, match="count/sha256 differ"):
        SampleSet(root)


def test_sha256_helper_matches_hashlib(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc" * 100_000)
    assert sha256_file(p) == hashlib.sha256(b"abc" * 100_000).hexdigest()


def test_atomic_writes_honour_the_umask(tmp_path):
    from bench.core.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        root = write_world(tmp_path / "s", n=1)
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert root.stat().st_mode & 0o777 == 0o755 and (root / "manifest.yaml").stat().st_mode & 0o777 == 0o644
