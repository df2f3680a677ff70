"""The one rule for archive members a user (or a registry package) hands us: `member_escapes` says whether a name
leaves the archive, `checked_tar_members` reads a tar's member list and refuses, by name, before anything is
extracted: a name that escapes (absolute, `..`, a backslash, a drive colon), a link or device, a name twice, more
members or more unpacked bytes than the caller allows. Used by the submission tars, `augen import`'s image tars and
the pinned registry archives (bench.core.pinned).
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from bench.core.errors import DataError


def member_escapes(name: str) -> bool:
    """True for a member name that is absolute, climbs out with `..`, or holds a backslash or a colon."""
    p = PurePosixPath(name)
    return p.is_absolute() or ".." in p.parts or "\\" in name or ":" in name


def checked_tar_members(path: str | Path, max_members: int, max_bytes: int) -> list[tarfile.TarInfo]:
    """Every member of the tar at `path`, each a regular file or a folder with a name inside the archive."""
    path = Path(path)
    members, names, total = [], set(), 0
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                members.append(m)
                if len(members) > max_members:
                    raise DataError(path, f"holds more than {max_members} members")
                if member_escapes(m.name):
                    raise DataError(path, f"member {m.name!r} escapes the archive (absolute, '..', '\\' or ':')")
                if m.issym() or m.islnk():
                    raise DataError(path, f"member {m.name!r} is a link ({'symbolic' if m.issym() else 'hard'}); "
                                          f"links are refused")
                if not (m.isfile() or m.isdir()):
                    raise DataError(path, f"member {m.name!r} is a device or special file; only files and folders "
                                          f"are allowed")
                key = PurePosixPath(m.name).as_posix().removeprefix("./")
                if key in names and not m.isdir():
                    raise DataError(path, f"member {m.name!r} appears twice")
                names.add(key)
                total += max(m.size, 0)
                if total > max_bytes:
                    raise DataError(path, f"unpacks to more than {max_bytes} bytes")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(path, f"not a readable tar archive ({e})") from None
    if not members:
        raise DataError(path, "empty archive")
    return members
