"""`augen import` (bench/generation/importer.py, bench/data/labelfiles.py, bench/data/imagesource.py) on the photos
public packages ship (7 photos: 4 posed one-face portraits, one five-face photo, one illustration without a face and
scikit-image's astronaut).

    formats     MAUGen JSON records (folder with a subfolder), a SynFER-style CSV (from a tar), AffectNet's CSV: the
                set validates; labels, prompts and labelled AUs carried over; faces.csv has every source image
    faces       `largest` keeps 6 of 7 (the illustration has no face), `skip` 5, `fail` stops at the illustration, then
                (without it) at the five-face photo, naming each with its label row; face yield 5/7 with its Wilson
                interval (against scipy's `binomtest(...).proportion_ci(method="wilson")`)
    resume      interrupted after the first shard, a rerun says it resumes and finishes with the same set (content
                hash) as one run; two workers write the same set as one
    hostile     a name twice, a path escaping the folder, a tar member escaping, a tar member that is a link: one
                DataError each, naming the file (and row), and nothing written (no set, no work folder); a
                truncated image is refused by name in import_log.csv while the others are imported
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pytest
from scipy.stats import binomtest

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, subset
from bench.data.sampleset import SampleSet, validate
from bench.generation import importer
from bench.generation.importer import ImportConfig, import_images
from bench.metrics.faces import face_yield, wilson_interval
from tests.helpers.interrupt import stop_importer_at

PICK = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "multi_face.jpg",
        "free-mountain-vector-01.jpg", "astronaut.png")
DISFA = subset("DISFA12")


@pytest.fixture(scope="module")
def photo_folder(shipped_photos, tmp_path_factory):
    """The 7 photos, the posed ones in a subfolder: {relative path: source path}."""
    root = tmp_path_factory.mktemp("photos")
    paths = {}
    for p in shipped_photos:
        if p.path.name in PICK:
            rel = f"posed/{p.path.name}" if "-ph" in p.path.name else p.path.name
            (root / rel).parent.mkdir(exist_ok=True)
            shutil.copy(p.path, root / rel)
            paths[rel] = root / rel
    assert len(paths) == len(PICK)
    return root, sorted(paths)


def _records(names: list[str]) -> list[dict]:
    return [{"image": n, "prompt": f"a face {i}", "intensity": [round((i + k) % 6 * 0.8, 1) for k in range(12)]}
            for i, n in enumerate(names)]


def _dump(records: list[dict]) -> str:
    """A JSON list with one record per line: record i (from 0) is on line i + 2."""
    return "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"


def _nothing_written(out):
    assert not out.exists() and not (out.parent / f".{out.name}.partial").exists()


def test_maugen_records(photo_folder, tmp_path):
    root, names = photo_folder
    (tmp_path / "sample_data.json").write_text(_dump(_records(names)))
    stats = import_images(root, tmp_path / "sample_data.json", tmp_path / "set", ImportConfig(size=128, shard_size=3))
    assert {k: stats[k] for k in ("images", "kept", "no_face", "one_face", "several_faces", "face_yield", "policy",
                                  "files", "imported", "skipped", "refused")} == {
        "images": 7, "kept": 6, "no_face": 1, "one_face": 5, "several_faces": 1, "face_yield": pytest.approx(5 / 7),
        "policy": "largest", "files": 7, "imported": 6, "skipped": {"no face": 1}, "refused": 0}
    m = validate(tmp_path / "set")
    assert m.count == 6 and m.image_size == (128, 128) and m.labelled_aus == DISFA
    assert not m.expression_labelled and m.generator["stats"]["import"]["kept"] == 6
    rows = {s.prompt: s for s in SampleSet(tmp_path / "set").rows()}
    for rec in _records(names):
        if rec["image"].startswith("free-mountain"):
            assert rec["prompt"] not in rows
            continue
        got = rows[rec["prompt"]].intensity
        assert np.allclose([got[AU_INDEX[a]] for a in DISFA], rec["intensity"]) and np.isnan(got[AU_INDEX[7]])
    faces = (tmp_path / "set" / "faces.csv").read_text().splitlines()
    assert len(faces) == 8 and any(line.startswith("multi_face.jpg,") and ",5," in line for line in faces)
    assert json.loads((tmp_path / "set" / "import.json").read_text())["stats"]["kept"] == 6


def test_synfer_csv_from_a_tar_with_skip(photo_folder, tmp_path):
    root, names = photo_folder
    with tarfile.open(tmp_path / "images.tar", "w") as tf:
        for n in names:
            tf.add(root / n, arcname=n)
    lines = ["file,expression,prompt,AU06,AU12"] + [f"{n},{'happy' if i % 2 else 3},smile {i},{i % 5},2.5"
                                                    for i, n in enumerate(names)]
    (tmp_path / "synfer.csv").write_text("\n".join(lines) + "\n")
    stats = import_images(tmp_path / "images.tar", tmp_path / "synfer.csv", tmp_path / "set",
                          ImportConfig(size=96, faces="skip"))
    assert stats["kept"] == 5 and stats["several_faces"] == 1
    ss = SampleSet(tmp_path / "set")
    assert ss.manifest.labelled_aus == (6, 12) and ss.manifest.expression_labelled
    assert {s.expression for s in ss.rows()} <= {1, 3}


def test_affectnet_csv(photo_folder, tmp_path):
    root, names = photo_folder
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    lines = [header] + [f"{n},0,0,10,10,,{i % 7},0.1,-0.2" for i, n in enumerate(names)]
    (tmp_path / "affectnet.csv").write_text("\n".join(lines) + "\n")
    import_images(root, tmp_path / "affectnet.csv", tmp_path / "set", ImportConfig(size=64))
    m = validate(tmp_path / "set")
    assert m.labelled_aus == () and m.expression_labelled and m.generator["config"]["label_format"] == "affectnet"


def test_fail_policy_names_the_photo(photo_folder, tmp_path):
    root, names = photo_folder
    (tmp_path / "r.json").write_text(_dump(_records(names)))
    with pytest.raises(DataError, match="r.json: row 3: free-mountain-vector-01.jpg: 0 faces found"):
        import_images(root, tmp_path / "r.json", tmp_path / "set", ImportConfig(size=64, faces="fail"))
    _nothing_written(tmp_path / "set")
    folder = tmp_path / "faces-only"
    shutil.copytree(root, folder)
    (folder / "free-mountain-vector-01.jpg").unlink()
    (tmp_path / "r.json").write_text(_dump(_records([n for n in names if "mountain" not in n])))
    with pytest.raises(DataError, match="multi_face.jpg: 5 faces found"):
        import_images(folder, tmp_path / "r.json", tmp_path / "set", ImportConfig(size=64, faces="fail"))
    _nothing_written(tmp_path / "set")


def test_face_yield_and_wilson():
    out = face_yield(np.array([1, 1, 0, 2, 1, 1, 1]))
    assert out["value"] == pytest.approx(5 / 7) and (out["none"], out["several"], out["n"]) == (1, 1, 7)
    # scipy's own Wilson interval (binomtest(...).proportion_ci(method="wilson")) is the independent check
    for k, n in ((5, 7), (0, 10), (10, 10), (37, 120)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert out["ci95"] == pytest.approx(list(wilson_interval(5, 7)))
    with pytest.raises(ValueError):
        face_yield(np.array([1.0, 2.0]))


@pytest.mark.multiprocess
def test_resume_after_an_interruption_and_workers(photo_folder, tmp_path, monkeypatch):
    root, names = photo_folder
    (tmp_path / "r.json").write_text(_dump(_records(names)))
    cfg = ImportConfig(size=64, shard_size=2)
    import_images(root, tmp_path / "r.json", tmp_path / "once", cfg)
    real_shard = importer._shard
    stop_importer_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        import_images(root, tmp_path / "r.json", tmp_path / "resumed", cfg)
    assert (tmp_path / ".resumed.partial" / "shard-00000" / "manifest.yaml").is_file()
    monkeypatch.setattr(importer, "_shard", real_shard)
    said = []
    import_images(root, tmp_path / "r.json", tmp_path / "resumed", cfg, log=said.append)
    assert said == [f"augen import: resuming in {tmp_path / '.resumed.partial'}: 1 of 4 shards already written"]
    assert SampleSet(tmp_path / "resumed").content_hash() == SampleSet(tmp_path / "once").content_hash()
    # workers run 1 torch thread each (2 cores / 2 workers); the same in one process gives the same bytes. (torch's
    # float sums depend on the thread count, which can move a crop pixel by a level: docs/photographs.md)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        import_images(root, tmp_path / "r.json", tmp_path / "one-thread", cfg)
    finally:
        torch.set_num_threads(threads)
    import_images(root, tmp_path / "r.json", tmp_path / "two", cfg, workers=2)
    assert SampleSet(tmp_path / "two").content_hash() == SampleSet(tmp_path / "one-thread").content_hash()
    a = np.stack([s.image for s in SampleSet(tmp_path / "two")]).astype(int)
    b = np.stack([s.image for s in SampleSet(tmp_path / "once")]).astype(int)
    assert np.abs(a - b).max() <= 2 and (a != b).mean() < 1e-3  # and nearly the same as with 2 threads


def _tar_with(tmp_path, name: str, member: tarfile.TarInfo, data: bytes = b"") -> str:
    path = tmp_path / name
    with tarfile.open(path, "w") as tf:
        tf.addfile(member, io.BytesIO(data) if data else None)
    return path


@pytest.mark.parametrize("case", ["twice", "escape"])
def test_bad_inputs_write_nothing(photo_folder, tmp_path, case):
    root, names = photo_folder
    folder = tmp_path / "imgs"
    shutil.copytree(root, folder)
    recs = _records(names)
    expect = {"twice": "labelled twice", "escape": "escapes its folder"}[case]
    if case == "twice":
        recs.append(dict(recs[0]))
    else:
        recs[0]["image"] = "../imgs/" + recs[0]["image"]
    (tmp_path / "r.json").write_text(_dump(recs))
    with pytest.raises(DataError, match=expect) as err:
        import_images(folder, tmp_path / "r.json", tmp_path / "set", ImportConfig(size=64, shard_size=2))
    assert "r.json" in str(err.value)
    _nothing_written(tmp_path / "set")


def test_a_truncated_image_is_refused_by_name(photo_folder, tmp_path):
    root, names = photo_folder
    folder = tmp_path / "imgs"
    shutil.copytree(root, folder)
    data = (folder / "astronaut.png").read_bytes()
    (folder / "astronaut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "r.json").write_text(_dump(_records(names)))
    stats = import_images(folder, tmp_path / "r.json", tmp_path / "set", ImportConfig(size=64, shard_size=2))
    assert stats["refused"] == 1 and stats["imported"] == 5
    log = (tmp_path / "set" / "import_log.csv").read_text().splitlines()
    assert any(line.startswith("astronaut.png,2,refused,unreadable,corrupt or truncated") for line in log), log


def test_tar_members_that_escape_or_link(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps([{"image": "a.jpg", "intensity": [0] * 12}]))
    escape = tarfile.TarInfo("../a.jpg")
    escape.size = 3
    link = tarfile.TarInfo("a.jpg")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    for name, member, data, msg in (("escape.tar", escape, b"abc", "escapes the archive"),
                                    ("link.tar", link, b"", "is a link")):
        with pytest.raises(DataError, match=msg):
            import_images(_tar_with(tmp_path, name, member, data), tmp_path / "r.json", tmp_path / "set")
        _nothing_written(tmp_path / "set")
