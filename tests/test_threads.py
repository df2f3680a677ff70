"""bench.core.threads: worker processes get their share of the cores (the environment their native libraries read at
start, and torch's intra-op threads), and the parent's environment is restored after."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest

from bench.core.threads import THREAD_VARS, cap_torch, capped_env, children_capped, thread_share


def _child_threads(_) -> tuple[str | None, int]:
    import torch

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()


def test_share_splits_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert [thread_share(w) for w in (1, 2, 3, 16, 40)] == [16, 8, 5, 1, 1]
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert thread_share(4) == 1


@pytest.mark.multiprocess
def test_spawned_workers_see_their_share_and_the_parent_is_restored(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with children_capped(1), mp.get_context("spawn").Pool(2, initializer=cap_torch, initargs=(1,)) as pool:
        got = pool.map(_child_threads, range(2))
    assert got == [("1", 1), ("1", 1)]
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ
    assert all(capped_env(3, {"PATH": "x"})[k] == "3" for k in THREAD_VARS)


# -- map_blocks: numpy items on several threads, BLAS single-threaded in each ------------------------------------


def test_map_blocks_keeps_order_and_runs_nested_calls_in_order(monkeypatch):
    import threading

    from bench.core import threads as T

    monkeypatch.setattr(T, "blas_threads", lambda: 2)
    names = []

    def inner(i):
        names.append(threading.current_thread().name)
        return i

    def outer(i):
        return sum(T.map_blocks(inner, range(i)))  # nested: runs on this worker thread, in order
    assert T.map_blocks(outer, list(range(6))) == [0, 0, 1, 3, 6, 10]
    assert T.map_blocks(lambda i: i * i, []) == []
    assert not any(n == threading.main_thread().name for n in names)  # the items ran on the pool


def test_threaded_statistics_equal_the_sequential_ones(monkeypatch):
    """FD bootstrap replicates, the KID kernel sums and k-NN radii split over threads give what one thread gives
    (up to BLAS summation order, far inside resultsdiff's 1e-9)."""
    from bench.core import threads as T
    from bench.metrics import realism as R

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 16)), rng.standard_normal((500, 16)) + 0.2

    def run():
        return (R.fd_bootstrap(a, b, n_boot=8), R.kid_summary(a, b, 5, 100, n_boot=8)[2],
                R.knn_radii(b, 3, block=64), R.pairwise_sq_dists(a, b, block=64))
    monkeypatch.setattr(T, "blas_threads", lambda: 1)
    one = run()
    monkeypatch.setattr(T, "blas_threads", lambda: 2)
    two = run()
    for x, y in zip(one, two):
        np.testing.assert_allclose(x, y, rtol=1e-12)
