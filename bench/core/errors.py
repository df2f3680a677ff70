"""The project's own error types. `augen` prints these as one line (file, row, what is wrong); anything else is a
bug and keeps its traceback."""

from __future__ import annotations

import os


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
