"""bench.core.threads: worker processes get their share of the cores (the environment their native libraries read at
start, and torch's intra-op threads), and the parent's environment is restored after."""

from __future__ import annotations

import multiprocessing as mp
import os

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
