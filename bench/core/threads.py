"""How many threads each worker process gets: one rule for every place that starts workers on this machine
(`augen world make --workers`, `augen run --workers` and its `--shard` helpers, `augen import --workers`, the
downstream pool). N worker processes each running torch's default of one thread per core oversubscribe the cores:
on 2 cores, `augen world make --workers 2` took 36.8 s for 12,000 images uncapped and 11.5 s capped, against 11.0 s
for one process (reports/BENCH.md holds the benchmark)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # what native libraries read at start


def thread_share(workers: int) -> int:
    """Threads per worker process: the cores split evenly, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def capped_env(threads: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with the thread variables set to `threads`, for a subprocess."""
    return {**(os.environ if env is None else env), **{k: str(threads) for k in THREAD_VARS}}


@contextmanager
def children_capped(threads: int) -> Iterator[None]:
    """Within the block, processes started (spawned pools inherit the environment when they start) read `threads`
    from the thread variables; the environment is restored after."""
    before = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: str(threads) for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cap_torch(threads: int) -> None:
    """A pool initializer: this worker's torch uses `threads` intra-op threads."""
    import torch

    torch.set_num_threads(threads)


_POOLS: dict[int, object] = {}  # workers -> ProcessPoolExecutor, kept for the process (shut down at exit)


def spawned_pool(workers: int):
    """A spawned process pool kept alive across calls (the downstream trainings), so scoring several submissions in
    one process pays the workers' start-up (importing torch) once; a pool broken by a killed worker is replaced."""
    import concurrent.futures as cf
    import multiprocessing as mp

    pool = _POOLS.get(workers)
    if pool is None or getattr(pool, "_broken", False):
        pool = _POOLS[workers] = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    return pool


_BLOCKS = threading.local()  # .inside: this thread runs one of map_blocks' items (nested calls run in order)


@functools.cache
def blas_threads() -> int:
    """Threads numpy's BLAS runs with in this process (OMP/OPENBLAS_NUM_THREADS or the cores), at least 1; read
    once (threadpoolctl's inspection costs ~50 ms)."""
    import numpy  # noqa: F401  (loads the BLAS threadpoolctl inspects)
    from threadpoolctl import ThreadpoolController

    info = ThreadpoolController().select(user_api="blas").info()
    return max([1, *(i["num_threads"] for i in info)])


def map_blocks(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(item) for item in items], the items spread over as many threads as BLAS would use, each running BLAS
    single-threaded. For numpy work that parallelises badly inside one call (element-wise passes, `partition`,
    LAPACK on small matrices, gathers): measured on 2 cores, an FD bootstrap replicate takes the same wall time with
    BLAS on 1 or 2 threads, so two replicates at once take half. Results come back in order; each item's arithmetic
    is that of single-threaded BLAS (a 2-thread product may sum in another order: ~1e-13 relative). A call from
    inside an item runs its own items in order on that thread."""
    workers = 1 if getattr(_BLOCKS, "inside", False) else min(blas_threads(), len(items))
    if workers <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    def run(item: T) -> R:
        _BLOCKS.inside = True
        try:
            return fn(item)
        finally:
            _BLOCKS.inside = False

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, items))
