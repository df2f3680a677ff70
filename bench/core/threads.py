"""How many threads each worker process gets: one rule for every place that starts workers on this machine
(`augen world make --workers`, `augen run --workers` and its `--shard` helpers, `augen import --workers`, the
downstream pool). N worker processes each running torch's default of one thread per core oversubscribe the cores:
on 2 cores, `augen world make --workers 2` took 36.8 s for 12,000 images uncapped and 11.5 s capped, against 11.0 s
for one process (reports/BENCH.md holds the benchmark)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

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
