"""Decoded pixels on disk, read a batch at a time: how the downstream harness trains on AffectNet's 287k images
and millions of synthetic ones with flat memory.

A split (real rows, a SampleSet's first n samples, world faces) is decoded once into one raw file of
(N, 3, S, S) uint8 rows under the cache (`<cache>/pixels/<key>.u8`, with `<key>.json` saying what it holds), named
by what was decoded (labels, selection and image files; a set's content hash; the world's settings), so later
runs and other submissions read it instead of decoding again. `PixelFile` is a view of rows [start, start + n) of
such a file: indexing it with a LongTensor of rows or a slice returns a uint8 tensor read with `os.pread` (no
mapping, so the rows read do not stay in the process's memory), it pickles as its path (a spawned training
process opens the same file), and `head(n)` is a view. `PixelConcat` joins views (real + synthetic) without
copying. Files are written in chunks to `<key>.u8.partial` and renamed when complete, so a killed decode leaves
nothing that looks finished, and resumes where it stopped when run again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError

_FDS: dict[tuple[str, int], int] = {}  # (path, inode) -> read-only descriptor, one per process
_FDS_LOCK = threading.Lock()  # the read-ahead thread and the training thread open files too


def _fd(path: str, inode: int) -> int:
    """A descriptor of the file `path` was when the view was made (a file decoded again is a new inode; the
    descriptors of its earlier versions are closed, so their disk space is freed)."""
    with _FDS_LOCK:
        fd = _FDS.get((path, inode))
        if fd is None:
            for key in [k for k in _FDS if k[0] == path]:
                os.close(_FDS.pop(key))
            fd = os.open(path, os.O_RDONLY)
            if os.fstat(fd).st_ino != inode:
                os.close(fd)
                raise DataError(path, "pixel file was replaced after it was opened; run again")
            _FDS[(path, inode)] = fd
        return fd


@dataclass(frozen=True)
class PixelFile:
    """Rows [start, start + n) of a (N, 3, size, size) uint8 file; x[idx] / x[lo:hi] -> (B, 3, S, S) uint8 tensors
    in NCHW-contiguous layout (a resized tensor in memory may be channels-last, which convolutions compute with
    other kernels: trainings from a file and from such a tensor agree to rounding, not bit for bit)."""

    path: str  # the .u8 file
    n: int  # rows in this view
    size: int  # side S of each (3, S, S) row
    start: int = 0  # first row of the view in the file
    inode: int = 0  # the file's inode when the view was made (0: read it now)
    row_bytes: int = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "row_bytes", 3 * self.size * self.size)
        if not self.inode:
            object.__setattr__(self, "inode", os.stat(self.path).st_ino)

    def __len__(self) -> int:
        return self.n

    def head(self, n: int) -> PixelFile:
        if n > self.n:
            raise ValueError(f"asked for {n} rows of {self.path}, it holds {self.n}")
        return PixelFile(self.path, n, self.size, self.start, self.inode)

    def _read(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 of the view in one read: (hi - lo, 3, S, S) uint8."""
        want = (hi - lo) * self.row_bytes
        buf = os.pread(_fd(self.path, self.inode), want, (self.start + lo) * self.row_bytes)
        if len(buf) != want:
            raise DataError(self.path, f"pixel file is shorter than its {self.start + self.n} rows (truncated?)")
        return np.frombuffer(buf, np.uint8).reshape(hi - lo, 3, self.size, self.size)

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, slice):
            lo, hi, step = idx.indices(self.n)
            if step != 1:
                raise ValueError("pixel files are sliced with step 1")
            return torch.from_numpy(self._read(lo, max(lo, hi)).copy())
        rows = np.asarray(idx, dtype=np.int64).reshape(-1)  # (B,)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"row out of range for {self.n} rows of {self.path}")
        out = np.empty((rows.size, 3, self.size, self.size), np.uint8)  # (B, 3, S, S)
        for j in np.argsort(rows, kind="stable"):  # file order: reads move forward
            out[j] = self._read(int(rows[j]), int(rows[j]) + 1)[0]
        return torch.from_numpy(out)


@dataclass(frozen=True)
class PixelConcat:
    """Views one after another (the mixed training: real 1x then synthetic), read without copying them."""

    parts: tuple  # PixelFile | torch.Tensor views, (N_i, 3, S, S) each

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def head(self, n: int) -> PixelConcat:
        out, left = [], n
        for p in self.parts:
            if left <= 0:
                break
            k = min(left, len(p))
            out.append(head(p, k))
            left -= k
        if left > 0:
            raise ValueError(f"asked for {n} rows, have {len(self)}")
        return PixelConcat(tuple(out))

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, slice):
            lo, hi, _ = idx.indices(len(self))
            idx = torch.arange(lo, max(lo, hi))
        rows = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)  # (B,)
        ends = np.cumsum([len(p) for p in self.parts])
        if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= int(ends[-1])):
            raise IndexError(f"row out of range for {int(ends[-1])} rows")
        which = np.searchsorted(ends, rows.numpy(), side="right")  # (B,) part of each row
        p0 = self.parts[0]
        side = p0.size if isinstance(p0, PixelFile) else p0.shape[-1]
        out = torch.empty((len(rows), 3, side, side), dtype=torch.uint8)  # (B, 3, S, S)
        for k, p in enumerate(self.parts):
            sel = np.nonzero(which == k)[0]
            if len(sel):
                out[torch.from_numpy(sel)] = p[rows[sel] - (int(ends[k - 1]) if k else 0)]
        return out


def head(x, n: int):
    """The first n rows of a tensor or a pixel view, as a view."""
    return x.head(n) if hasattr(x, "head") else x[:n]


def concat(a, b):
    """a's rows then b's: torch.cat for two tensors, a PixelConcat (no copy) when either is on disk."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.cat([a, b])
    parts = [*(a.parts if isinstance(a, PixelConcat) else (a,)), *(b.parts if isinstance(b, PixelConcat) else (b,))]
    return PixelConcat(tuple(parts))


def pixel_dir() -> Path:
    from bench.core.paths import cache_root

    return cache_root() / "pixels"


def free_gib(where: Path) -> float:
    """GiB free on the disk that holds `where` (its nearest existing parent)."""
    p = Path(where)
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free / 2 ** 30


def _resume_point(part: Path, record: Path, key: str, n: int, row_bytes: int) -> int:
    """Rows of an interrupted decode of the same file that can be kept (0: start over; debris is removed)."""
    try:
        info = json.loads(record.read_text())
        if (info["key"], info["n"], info["row_bytes"]) == (key, n, row_bytes):
            return min(int(info["rows"]), part.stat().st_size // row_bytes)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    part.unlink(missing_ok=True)
    record.unlink(missing_ok=True)
    return 0


def store(key: str, n: int, size: int, chunks: Callable[[int], Iterator[torch.Tensor]], where: Path | None = None
          ) -> tuple[PixelFile, str]:
    """The pixel file named by `key` (any text that fixes what is decoded), written from `chunks(start)` ((k, 3, S,
    S) uint8 tensors of rows start, start + 1, ... n - 1) when not cached; returns it and the sha256 of its bytes
    (row order).

    Rows go to `<name>.u8.partial`; after each chunk, `<name>.u8.partial.json` records how many are on disk, so a
    decode killed half-way resumes at that row when run again (the kept rows are hashed again, the result is the
    same file). A bad input (DataError, ValueError) removes the partial file: the next run starts over. A lock file
    beside it makes a second process decoding the same split wait and then read the finished file; the free space
    asked for is what is not on disk yet."""
    d = where or pixel_dir()
    name = hashlib.sha256(f"{key}|{n}|{size}".encode()).hexdigest()[:24]
    path, meta = d / f"{name}.u8", d / f"{name}.json"
    if cached := _cached(path, meta, key, n, size):
        return cached
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{name}.lock", "w") as lock:  # two runs decoding the same split: one writes, the other waits
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached := _cached(path, meta, key, n, size):  # written while this process waited
            return cached
        return _write(path, meta, key, n, size, chunks)


def _cached(path: Path, meta: Path, key: str, n: int, size: int) -> tuple[PixelFile, str] | None:
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("key") == key and info.get("n") == n and path.stat().st_size == n * 3 * size * size:
            return PixelFile(str(path), n, size), info["sha256"]
    return None


def _write(path: Path, meta: Path, key: str, n: int, size: int, chunks) -> tuple[PixelFile, str]:
    """Decode (or finish decoding) a pixel file; the caller holds its lock."""
    row_bytes = 3 * size * size
    part = path.with_name(path.name + ".partial")
    record = part.with_name(part.name + ".json")
    got, h = _resume_point(part, record, key, n, row_bytes), hashlib.sha256()
    need = (n - got) * row_bytes / 2 ** 30  # what is not on disk yet
    if need > free_gib(path.parent) - 1:
        raise UsageError(f"decoding {n - got:,} more images at {size} px needs {need:.1f} GiB under {path.parent}, "
                         f"which has {free_gib(path.parent):.1f} GiB free; free space or point AUGEN_CACHE at a "
                         "larger disk")
    try:
        with open(part, "r+b" if got else "w+b") as f:
            f.truncate(got * row_bytes)
            for block in iter(lambda: f.read(1 << 24), b""):  # the kept rows, hashed again
                h.update(block)
            for c in chunks(got) if got < n else ():
                b = np.ascontiguousarray(c.numpy(), dtype=np.uint8)
                if b.shape[1:] != (3, size, size):
                    raise ValueError(f"chunk of shape {tuple(b.shape)}, expected (k, 3, {size}, {size})")
                f.write(b.tobytes()), h.update(b.tobytes())
                got += len(b)
                f.flush()
                atomic_write_text(record, json.dumps({"key": key, "n": n, "row_bytes": row_bytes, "rows": got}))
            os.fsync(f.fileno())
        if got != n:
            raise ValueError(f"{got} rows decoded for {key}, expected {n}")
    except (DataError, ValueError):  # a bad input (named by the reader): nothing half-written stays
        part.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    atomic_write_text(meta, json.dumps({"key": key, "n": n, "size": size, "sha256": h.hexdigest()}) + "\n")
    record.unlink(missing_ok=True)
    return PixelFile(str(path), n, size), h.hexdigest()
