"""Judging image sets in streamed batches, with outputs cached per (content key, judge id).

Images stream from a SampleSet through a torch DataLoader (decoding in a worker process while the
judge runs); outputs (features, AU readings, class probabilities) are stored as one .npz per
(content key, judge id) under the cache folder and reused by every later score.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from bench.core.atomic import atomic_write_bytes
from bench.core.paths import cache_root
from bench.data.safeio import read_image
from bench.data.sampleset import SampleSet, opened


class SampleSetImages(IterableDataset):
    """Yields (row index, image uint8 (H, W, 3)) of an opened SampleSet's rows; rows are split between DataLoader
    workers, which only decode (the set's files were listed and checked once, by the caller)."""

    def __init__(self, ss: SampleSet):
        self.items = [ss.image_path(i) for i in range(len(ss))]  # (image file, its labels.csv, row)
        self.size = ss.image_size

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        info = get_worker_info()
        k, n = (info.id, info.num_workers) if info else (0, 1)
        for i in range(k, len(self.items), n):
            path, where, row = self.items[i]
            yield i, read_image(path, self.size, where=where, row=row)


def _as_list(items: list) -> list:
    """The loader's collate: (row, image) pairs as they come (a module function: loader workers may be spawned,
    which pickles it)."""
    return items


def stream_batches(source: SampleSet | str | Path, batch_size: int = 256, workers: int = 1) -> Iterator[np.ndarray]:
    """uint8 image batches (B, H, W, 3) of a SampleSet (opened, or its folder) in row order."""
    dl = DataLoader(SampleSetImages(opened(source)), batch_size=batch_size, num_workers=workers,
                    collate_fn=_as_list)
    pending: dict[int, np.ndarray] = {}
    nxt = 0
    for items in dl:
        for i, img in items:
            pending[i] = img
        take = []
        while nxt in pending:
            take.append(pending.pop(nxt))
            nxt += 1
        if take:
            yield np.stack(take)
    if pending:
        raise RuntimeError("rows missing from the image stream")


def cached(key: str, judge_id: str, compute: Callable[[], dict[str, np.ndarray]],
           folder: Path | None = None) -> dict[str, np.ndarray]:
    """`compute()` once per (key, judge id); later calls load the stored arrays."""
    path = (folder or cache_root()) / "features" / judge_id / f"{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    out = compute()
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write_bytes(path, buf.getvalue())
    return out


def judge_sampleset(source: SampleSet | str | Path, judge: Callable[[np.ndarray], dict[str, np.ndarray]],
                    judge_id: str, batch_size: int = 256, workers: int = 1, folder: Path | None = None,
                    content_hash: str | None = None) -> dict[str, np.ndarray]:
    """Judge every image of a SampleSet (streamed), cached by its content hash (the opened set's, unless given)."""
    ss = opened(source)
    key = content_hash or ss.content_hash()

    def compute() -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for batch in stream_batches(ss, batch_size, workers):
            for k, v in judge(batch).items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}

    return cached(key, judge_id, compute, folder)


def judge_sharded(source: SampleSet | str | Path, judge: Callable[[np.ndarray], dict[str, np.ndarray]],
                  judge_id: str, folder: Path | None = None, content_hash: str | None = None) -> dict[str, np.ndarray]:
    """Like `judge_sampleset`, but a sharded set is judged shard by shard (each cached under its own content
    hash, from the digests the opened set already holds), so processes that generated shards can judge them in
    parallel and the merged set reuses that work."""
    ss = opened(source)
    if not ss.manifest.shards:
        return judge_sampleset(ss, judge, judge_id, folder=folder, content_hash=content_hash)
    parts = [judge_sampleset(p, judge, judge_id, folder=folder) for p in ss.parts]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
