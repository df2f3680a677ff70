"""Submissions and the leaderboard: every malformed submission is refused with one clear error and writes
nothing (hypothesis draws the defect and where it sits); a good one is scored, filed and ranked."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.core.errors import AlreadyExists, DataError
from bench.data.safeio import sha256_file
from bench.generation.base import get_generator, write_generated
from bench.publish.leaderboard import build, rank, win_rates
from bench.publish.submit import submit
from bench.world.conditions import world_conditions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.protocols import MINI_WORLD, control_set, mini_protocol  # noqa: E402

N = 20
WORLD = MINI_WORLD


@pytest.fixture(scope="module")
def proto_path(tmp_path_factory) -> str:
    return mini_protocol(tmp_path_factory.mktemp("proto"), N)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return control_set(tmp_path_factory.mktemp("good") / "set", N)


# -- defects: each takes a copy of a valid set and a row index, and returns (path to submit, file the error names)

def _rows(root: Path) -> list[list[str]]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.reader(f))


def _write_rows(root: Path, rows: list[list[str]], fix_hash: bool = True) -> None:
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    if fix_hash:  # so the defect itself is what is caught, not the hash
        _edit_manifest(root, labels_sha256=sha256_file(root / "labels.csv"))


def _edit_manifest(root: Path, **kv) -> None:
    m = yaml.safe_load((root / "manifest.yaml").read_text())
    m.update(kv)
    (root / "manifest.yaml").write_text(yaml.safe_dump(m))


def _cell(root: Path, row: int, col: str, value: str) -> tuple[Path, str]:
    rows = _rows(root)
    rows[row + 1][rows[0].index(col)] = value
    _write_rows(root, rows)
    return root, "labels.csv"


def _image(root: Path, row: int) -> Path:
    return root / "images" / f"{row:08d}.png"


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def d_manifest_missing(r, i):
    (r / "manifest.yaml").unlink()
    return r, "manifest.yaml"


def d_manifest_not_yaml(r, i):
    (r / "manifest.yaml").write_text("name: [unclosed\n")
    return r, "manifest.yaml"


def d_count_lies(r, i):
    _edit_manifest(r, count=N + 1 + i)
    return r, "manifest.yaml"


def d_hash_lies(r, i):
    _edit_manifest(r, labels_sha256="0" * 64)
    return r, "manifest.yaml"


def d_wrong_protocol(r, i):
    _edit_manifest(r, protocol="world-v0")
    return r, "manifest.yaml"


def d_manifest_unknown_key(r, i):
    _edit_manifest(r, surprise=i)
    return r, "manifest.yaml"


def d_too_few(r, i):
    rows = _rows(r)
    k = i + 1  # drop the last k rows and their images
    for row in rows[-k:]:
        (r / "images" / row[0]).unlink()
    _write_rows(r, rows[:-k])
    _edit_manifest(r, count=N - k)
    return r, "manifest.yaml"


def d_out_of_order_names(r, i):
    rows = _rows(r)
    old = rows[i + 1][0]
    new = f"{N + 50:08d}.png"
    (r / "images" / old).rename(r / "images" / new)
    rows[i + 1][0] = new
    rows = [rows[0]] + sorted(rows[1:], key=lambda x: x[0])
    _write_rows(r, rows)
    return r, "labels.csv"


def d_truncated_png(r, i):
    p = _image(r, i)
    p.write_bytes(p.read_bytes()[: max(8, len(p.read_bytes()) // 3)])
    return r, p.name


def d_garbage_png(r, i):
    _image(r, i).write_bytes(np.random.default_rng(i).bytes(500))
    return r, _image(r, i).name


def d_grayscale(r, i):
    _image(r, i).write_bytes(_png(np.zeros((64, 64), np.uint8), "L"))
    return r, _image(r, i).name


def d_wrong_size(r, i):
    _image(r, i).write_bytes(_png(np.zeros((32, 32, 3), np.uint8)))
    return r, _image(r, i).name


def d_bomb(r, i):
    _image(r, i).write_bytes(_png(np.zeros((5000, 5000), np.uint8), "L"))  # 25 MP, a few KB on disk
    return r, _image(r, i).name


def d_jpeg_named_png(r, i):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="JPEG")
    _image(r, i).write_bytes(buf.getvalue())
    return r, _image(r, i).name


def d_au_out_of_range(r, i):
    return _cell(r, i, "AU12", "7.5")


def d_au_nan(r, i):
    return _cell(r, i, "AU04", "nan")


def d_au_not_a_number(r, i):
    return _cell(r, i, "AU01", "high")


def d_expression_out_of_range(r, i):
    return _cell(r, i, "expression", "9")


def d_negative_seed(r, i):
    return _cell(r, i, "seed", "-3")


def d_missing_column(r, i):
    rows = _rows(r)
    k = rows[0].index("AU06")
    _write_rows(r, [row[:k] + row[k + 1:] for row in rows])
    return r, "labels.csv"


def d_unknown_column(r, i):
    rows = _rows(r)
    _write_rows(r, [rows[0] + ["AU99"]] + [row + ["1"] for row in rows[1:]])
    return r, "labels.csv"


def d_short_row(r, i):
    rows = _rows(r)
    rows[i + 1] = rows[i + 1][:-2]
    _write_rows(r, rows)
    return r, "labels.csv"


def d_duplicate_row(r, i):
    rows = _rows(r)
    j = min(i + 1, N - 1)
    rows[j + 1] = list(rows[j])
    _write_rows(r, rows)
    return r, "labels.csv"


def d_path_escape(r, i):
    return _cell(r, i, "file", "../../etc/passwd.png")


def d_absolute_path(r, i):
    return _cell(r, i, "file", "/etc/x.png")


def d_symlinked_image(r, i):
    p = _image(r, i)
    p.unlink()
    p.symlink_to(_image(r, (i + 1) % N))
    return r, p.name


def d_extra_image(r, i):
    shutil.copy(_image(r, i), r / "images" / "zzz.png")
    return r, "images"


def d_labels_missing(r, i):
    (r / "labels.csv").unlink()
    return r, "labels.csv"


def _tar(r: Path, add) -> tuple[Path, str]:
    out = r.parent / "sub.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.add(r, arcname="set")
        add(tf)
    return out, "sub.tar.gz"


def d_tar_dotdot(r, i):
    def add(tf):
        info = tarfile.TarInfo("set/../../evil.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    return _tar(r, add)


def d_tar_absolute(r, i):
    def add(tf):
        info = tarfile.TarInfo("/abs/evil.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    return _tar(r, add)


def d_tar_symlink(r, i):
    def add(tf):
        info = tarfile.TarInfo("set/images/link.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    return _tar(r, add)


def d_tar_two_sets(r, i):
    return _tar(r, lambda tf: tf.add(r, arcname="again"))


def d_not_a_tar(r, i):
    out = r.parent / "sub.tar.gz"
    out.write_bytes(b"\x1f\x8b" + np.random.default_rng(i).bytes(300))
    return out, "sub.tar.gz"


def d_bad_name(r, i):
    return r, "name"


DEFECTS = [v for k, v in sorted(globals().items()) if k.startswith("d_")]


def test_there_are_at_least_twenty_distinct_defects():
    assert len(DEFECTS) >= 20


def _refused(defect, row, good, proto_path):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        copy = d / "work" / "set"
        shutil.copytree(good, copy)
        src, names = defect(copy, row)
        results = d / "results"
        name = "../evil" if defect is d_bad_name else None
        with pytest.raises(DataError) as e:
            submit(str(src), proto_path, name=name, results_dir=results, downstream=False)
        assert names in str(e.value), str(e.value)
        assert not results.exists() or not any(results.rglob("*"))


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda f: f.__name__[2:])
def test_each_defect_is_refused(defect, good, proto_path):
    _refused(defect, 3, good, proto_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(defect=st.sampled_from(DEFECTS), row=st.integers(0, N - 1))
def test_malformed_anywhere_is_refused_and_nothing_is_written(defect, row, good, proto_path):
    _refused(defect, row, good, proto_path)


def test_good_submissions_are_filed_and_ranked(good, proto_path, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    out = submit(str(good), proto_path, name="real-faces", results_dir=results, downstream=False)
    assert out == results / "world-mini" / "real-faces.json"
    with pytest.raises(AlreadyExists, match="pass --replace"):
        submit(str(good), proto_path, name="real-faces", results_dir=results, downstream=False)
    noise = tmp_path / "noise"
    write_generated(get_generator("noise", world=WORLD), world_conditions(WORLD, "val", N), noise, protocol="world-mini")
    with tarfile.open(tmp_path / "noise.tar", "w") as tf:
        tf.add(noise, arcname="noise")
    submit(str(tmp_path / "noise.tar"), proto_path, name="noise", results_dir=results, downstream=False)  # a control's
    # name is given, not taken from the set (tests/test_hygiene.py)
    stale = json.loads(out.read_text())
    stale["protocol"]["hash"] = "f" * 64
    (results / "world-mini" / "old.json").write_text(json.dumps(stale))
    md, page = build(proto_path, results, tmp_path / "LB.md", tmp_path / "lb.html",
                     current_hash=json.loads(out.read_text())["protocol"]["hash"])
    text = md.read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("| 1 ") or ln.startswith("| 2 ")]
    assert lines[0].startswith("| 1 | real-faces |") and lines[1].startswith("| 2 | noise |")
    assert "old (`ffffffffffff`)" in text
    assert 'data-name="real-faces"' in page.read_text() and "addEventListener" in page.read_text()


def test_cli_submits_several_sources_in_one_process(good, proto_path, tmp_path, monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    noise = tmp_path / "noise"
    write_generated(get_generator("noise", world=WORLD), world_conditions(WORLD, "val", N), noise, protocol="world-mini")
    common = ["--protocol", proto_path, "--results-dir", str(results), "--no-downstream", "--quiet"]
    real = shutil.copytree(good, tmp_path / "real")
    for root, gen in ((real, "real-copy"), (noise, "noise-gen")):  # not named like a control (tests/test_hygiene.py)
        _edit_manifest(root, generator={**yaml.safe_load((root / "manifest.yaml").read_text())["generator"], "name": gen})
    assert main(["submit", str(real), str(noise), *common]) == 0
    assert sorted(p.name for p in (results / "world-mini").iterdir()) == [
        "noise-gen.json", "noise-gen.samples.csv.gz", "real-copy.json", "real-copy.samples.csv.gz"]  # + readings
    assert capsys.readouterr().out.count("filed: ") == 2
    assert main(["submit", str(good), str(noise), "--name", "x", *common]) == 2  # one line: --name needs one source
    assert main(["submit", "generator:no-such-generator", *common]) == 2  # unknown name: one clear error
    assert "unknown generator 'no-such-generator'" in capsys.readouterr().err


def test_win_rate_known_values():
    def e(fd, f1):
        return {"metrics": {"fd_world": {"value": fd, "higher_is_better": False},
                            "au_f1": {"value": f1, "higher_is_better": True}}}
    w = win_rates([e(1.0, 0.9), e(2.0, 0.9), e(3.0, None)], ["fd_world", "au_f1"])
    assert w.tolist() == pytest.approx([(1.0 + 0.5) / 2, (0.5 + 0.5) / 2, 0.0])
    fam = [{"metrics": {"a": {"value": v, "higher_is_better": True, "family": "x"},
                        "b": {"value": v, "higher_is_better": True, "family": "x"},
                        "c": {"value": -v, "higher_is_better": True, "family": "y"}}} for v in (1.0, 0.0)]
    assert win_rates(fam, ["a", "b", "c"]).tolist() == [0.5, 0.5]  # two metrics of family x count as one
    rows, stale = rank([("a", {**e(1.0, 0.5), "protocol": {"hash": "h"}, "generator": {"name": "a"},
                               "sampleset": {"n": 1}})], "h", [("fd_world", "FD"), ("au_f1", "AU F1")])
    assert rows[0]["rank"] == 1 and not stale
