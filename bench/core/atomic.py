"""Atomic writes: a temp file (or folder) in the same folder + rename, so readers never see half a file and a
crash leaves the old version or nothing. Every file the project writes goes through here."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.core.errors import AlreadyExists, DataError

_UMASK = os.umask(0)  # read the process umask once (mkstemp/mkdtemp create 0600/0700; we honour it)
os.umask(_UMASK)



def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder + rename: readers never see half a file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "is a folder: name a file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it is renamed to `final`, on error removed.

    Nothing appears at `final` unless the block completes. With `overwrite`, an existing `final` is
    replaced only after the new content is complete.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise AlreadyExists(f"{final} already exists (pass overwrite to replace it)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
