"""`augen weights fetch face-api`: the pins agree with the research notes and the Node lock file, the fetch is
idempotent, a corrupted or tampered file is refused by name, nothing half-written appears, and a missing folder or
npm gets a message saying what to run or where to put which file.

The first test session on a machine fetches the weights once into AUGEN_CACHE with npm (a missing npm fails)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from bench.core.errors import DataError, MissingWeights
from bench.judges.faceapi import fetch
from bench.judges.faceapi.fetch import (
    FETCH_COMMAND,
    PINS,
    faceapi_dir,
    faceapi_folder,
    fetch_faceapi,
    install_tarball,
    tarball_integrity,
)

ROOT = Path(__file__).resolve().parent.parent

# Written down from the research notes (face-api port NOTES.md §0), independently of bench/judges/faceapi/fetch.py.
NOTES_TABLE = """
| `model/age_gender_model-weights_manifest.json` | 8392 | `74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f` |
| `model/age_gender_model.bin` | 429708 | `49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa` |
| `model/face_expression_model-weights_manifest.json` | 6980 | `5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8` |
| `model/face_expression_model.bin` | 329468 | `9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d` |
| `model/face_landmark_68_model-weights_manifest.json` | 8485 | `ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9` |
| `model/face_landmark_68_model.bin` | 356840 | `4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b` |
| `model/face_landmark_68_tiny_model-weights_manifest.json` | 4806 | `9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4` |
| `model/face_landmark_68_tiny_model.bin` | 77224 | `b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc` |
| `model/face_recognition_model-weights_manifest.json` | 19615 | `cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b` |
| `model/face_recognition_model.bin` | 6444032 | `b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589` |
| `model/ssd_mobilenetv1_model-weights_manifest.json` | 28233 | `888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955` |
| `model/ssd_mobilenetv1_model.bin` | 5616957 | `2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8` |
| `model/tiny_face_detector_model-weights_manifest.json` | 3219 | `5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5` |
| `model/tiny_face_detector_model.bin` | 193321 | `b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871` |
| `demo/sample1.jpg` | 144516 | `8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51` |
| `demo/sample2.jpg` | 181758 | `7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691` |
| `demo/sample3.jpg` | 221049 | `8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936` |
| `demo/sample4.jpg` | 210824 | `729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc` |
| `demo/sample5.jpg` | 166400 | `6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938` |
| `demo/sample6.jpg` | 302445 | `9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87` |
"""
NOTES_INTEGRITY = "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw=="


def notes_rows() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in NOTES_TABLE.strip().splitlines():
        rel, size, sha = (cell.strip().strip("`") for cell in line.strip("|").split("|"))
        rows[rel] = (int(size), sha)
    return rows


def fake_tarball(path: Path, source: Path, tamper: str | None = None) -> Path:
    """An npm-style tarball of `source`'s files under package/ (plus files the fetch must skip); `tamper` flips a
    byte of that file."""
    with tarfile.open(path, "w:gz") as tar:
        extra = {"package/README.md": b"readme", "package/demo/screenshot.png": b"png", "package/model/sub/x": b"x"}
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for rel in sorted(PINS["files"]):
            data = bytearray((source / rel).read_bytes())
            if rel == tamper:
                data[len(data) // 2] ^= 0xFF
            info = tarfile.TarInfo(f"package/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(bytes(data)))
    return path


def test_pins_match_the_notes():
    rows = notes_rows()
    assert {rel: sha for rel, (_, sha) in rows.items()} == PINS["files"]
    assert PINS["version"] == "1.7.15" and PINS["integrity"] == NOTES_INTEGRITY
    assert PINS["package"] == "@vladmandic/face-api"


def test_pins_match_the_node_lock_file():
    lock = json.loads((ROOT / "tools" / "faceapi-node" / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/@vladmandic/face-api"]
    assert (entry["version"], entry["integrity"]) == (PINS["version"], PINS["integrity"])
    deps = json.loads((ROOT / "tools" / "faceapi-node" / "package.json").read_text())["dependencies"]
    assert deps == {"@vladmandic/face-api": "1.7.15", "@tensorflow/tfjs": "4.22.0",
                    "@tensorflow/tfjs-backend-wasm": "4.22.0", "jpeg-js": "0.4.4"}  # exact, no ranges


def test_fetched_folder_verifies_and_has_the_notes_sizes(faceapi_weights):
    assert faceapi_dir() == faceapi_weights == faceapi_folder()
    files = sorted(p.relative_to(faceapi_weights).as_posix() for p in faceapi_weights.rglob("*") if p.is_file())
    assert files == sorted(PINS["files"])  # only model/* and demo/*.jpg
    for rel, (size, _) in notes_rows().items():
        assert (faceapi_weights / rel).stat().st_size == size, rel


def test_fetch_is_idempotent(faceapi_weights, monkeypatch):
    def no_npm(*args):
        raise AssertionError("npm must not run when the folder verifies")

    monkeypatch.setattr(fetch, "_npm_pack", no_npm)
    assert fetch_faceapi(log=lambda m: None) == faceapi_weights


def test_missing_folder_says_what_to_run_and_what_to_put_where(tmp_path):
    with pytest.raises(MissingWeights) as e:
        faceapi_dir(tmp_path)
    msg = str(e.value)
    assert FETCH_COMMAND in msg and str(faceapi_folder(tmp_path)) in msg
    assert all(rel in msg for rel in PINS["files"]) and "@vladmandic/face-api@1.7.15" in msg


def test_missing_npm_fails_with_the_manual_way(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    with pytest.raises(MissingWeights, match="npm is not on PATH") as e:
        fetch_faceapi(tmp_path, log=lambda m: None)
    assert str(faceapi_folder(tmp_path)) in str(e.value) and "model/face_expression_model.bin" in str(e.value)


def test_corrupted_or_missing_file_is_refused_by_name(faceapi_weights, tmp_path):
    copy = faceapi_folder(tmp_path)
    shutil.copytree(faceapi_weights, copy)
    target = copy / "model" / "face_expression_model.bin"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match="face_expression_model.bin: sha256") as e:
        faceapi_dir(tmp_path)
    assert FETCH_COMMAND in str(e.value)
    (copy / "demo" / "sample3.jpg").unlink()
    target.unlink()
    with pytest.raises(MissingWeights, match="demo/sample3.jpg is missing"):
        faceapi_dir(tmp_path)


def test_tarball_install_is_checked_and_atomic(faceapi_weights, tmp_path):
    folder = tmp_path / "cache" / "face-api"
    bad = fake_tarball(tmp_path / "bad.tgz", faceapi_weights, tamper="model/face_expression_model.bin")
    # 1. the pinned integrity refuses any other tarball
    with pytest.raises(DataError, match="integrity"):
        install_tarball(bad, folder)
    # 2. a tarball that passes its integrity check but holds a different file is refused by that file's name
    pins = dict(PINS, integrity=tarball_integrity(bad))
    with pytest.raises(DataError, match="package/model/face_expression_model.bin: sha256"):
        install_tarball(bad, folder, pins)
    assert not folder.exists() and list(folder.parent.iterdir()) == []  # nothing appeared, no temp folder left
    # 3. a good one installs only the pinned files (README, png, sub-folders skipped)
    good = fake_tarball(tmp_path / "good.tgz", faceapi_weights)
    install_tarball(good, folder, dict(PINS, integrity=tarball_integrity(good)))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(PINS["files"])


def test_fetch_replaces_a_corrupted_folder(faceapi_weights, tmp_path, monkeypatch):
    copy = faceapi_folder(tmp_path / "cache")
    shutil.copytree(faceapi_weights, copy)
    (copy / "model" / "age_gender_model.bin").write_bytes(b"broken")
    good = fake_tarball(tmp_path / "good.tgz", faceapi_weights)
    monkeypatch.setattr(fetch, "PINS", dict(PINS, integrity=tarball_integrity(good)))
    monkeypatch.setattr(fetch, "_npm_pack", lambda workdir, folder: Path(shutil.copy(good, workdir / "x.tgz")))
    logs = []
    assert fetch_faceapi(tmp_path / "cache", log=logs.append) == copy
    assert "age_gender_model.bin" in logs[0]
    faceapi_dir(tmp_path / "cache")


def test_cli_fetch_verifies_the_present_folder(faceapi_weights, capsys):
    from bench.cli import main

    assert main(["weights", "fetch", "face-api"]) == 0
    assert str(faceapi_weights) in capsys.readouterr().out
