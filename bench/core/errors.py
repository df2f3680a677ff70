"""The project's own error types. `augen` prints these as one line (file, row, what is wrong); anything else is a
bug and keeps its traceback."""

from __future__ import annotations

import os
import sys


class AugenError(Exception):
    """Base of the errors a user can cause and fix (bad input, a wrong option, a missing file)."""


class DataError(AugenError, ValueError):
    """Bad input: the message names the file (and row, when there is one) and what is wrong."""

    def __init__(self, path: str | os.PathLike, message: str, row: int | None = None):
        self.path, self.row, self.reason = str(path), row, message
        where = f"{self.path}" if row is None else f"{self.path}: row {row}"
        super().__init__(f"{where}: {message}")


class UsageError(AugenError, ValueError):
    """A command, option or name the user gave that does not exist or does not fit (the message lists what does)."""


class AlreadyExists(AugenError, FileExistsError):
    """An output that exists where the command would write; the message says how to replace it."""


class MissingWeights(AugenError, FileNotFoundError):
    """Model weights that are not where they should be; the message says what to put where (nothing downloads)."""


class NotWritable(AugenError, PermissionError):
    """An output folder the command cannot write to, found before any work starts."""


def check_writable(path: str | os.PathLike, what: str = "output") -> None:
    """Refuse (NotWritable, one line) when `path` cannot be created or written: its nearest existing folder must
    allow writing (a read-only mount, a folder without write permission, a file where a folder is needed).
    Called before a command's work, so that it never computes for minutes and fails at the write."""
    if not os.fspath(path).strip():
        raise NotWritable(f"the {what} is an empty path: name a file or folder")
    long = next((c for c in os.fspath(path).split(os.sep) if len(os.fsencode(c)) > 255), None)
    if long is not None:
        raise NotWritable(f"{long[:40]}...: cannot write the {what}: a name of {len(os.fsencode(long))} bytes "
                          "(at most 255)")
    p = os.path.abspath(os.fspath(path))
    probe = p
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    shown = (lambda f: f) if os.path.isabs(os.fspath(path)) else os.path.relpath  # as the user gave `path`
    if os.path.exists(probe) and not os.path.isdir(probe) and probe != p:
        raise NotWritable(f"{path}: cannot write the {what}: {shown(probe)} is a file, not a folder")
    folder = probe if os.path.isdir(probe) else os.path.dirname(probe)
    if not os.access(folder, os.W_OK | os.X_OK) or _read_only_mount(folder):
        raise NotWritable(f"{path}: cannot write the {what}: {shown(folder)} is not writable; choose another folder")


def _read_only_mount(folder: str) -> bool:
    """os.access says yes to root on a read-only mount; statvfs's ST_RDONLY flag says no."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


# ------------------------------------------------------------------------------ Ctrl-C: what was kept

_ON_INTERRUPT: list[on_interrupt] = []


class on_interrupt:
    """`with on_interrupt("kept: ...; rerun the same command to resume"):` — the line `augen` prints when Ctrl-C
    stops the command inside the block (the innermost block's message wins; a block may update `.message` as its
    work progresses). The message travels on the KeyboardInterrupt itself, since the blocks have exited by the time
    `augen` catches it."""

    def __init__(self, message: str):
        self.message = message

    def __enter__(self):
        _ON_INTERRUPT.append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _ON_INTERRUPT.remove(self)
        if isinstance(exc, KeyboardInterrupt) and not hasattr(exc, "augen_kept"):
            exc.augen_kept = self.message
        return False


def interrupt_message() -> str:
    """What the innermost block Ctrl-C stopped said was kept (`on_interrupt`; called where the KeyboardInterrupt is
    handled), else that nothing was written."""
    exc = sys.exc_info()[1]
    if isinstance(exc, KeyboardInterrupt) and hasattr(exc, "augen_kept"):
        return exc.augen_kept
    return _ON_INTERRUPT[-1].message if _ON_INTERRUPT else "nothing was written"
