"""Generation with `augen run --workers 2` (the committed maugen-tiny, threads capped per process by
bench.core.threads) against one process using every core, and against one process on one thread, all in one run.

On this 2-core machine one tiny-model process on 2 threads is already faster than on 1, so two 1-thread processes
can gain at most 2 x rate(1 thread) / rate(2 threads) (the ceiling BENCH.md prints); the helper process also pays
its own start-up (imports, model load, ~4 s), which a few hundred images do not repay in full.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from bench.pipeline.runner import RunConfig, run

N, SHARD = 128, 32  # images per round (every benchmark here): 4 shards, two per process with 2 workers
OPTIONS = {"steps": 10}  # fewer steps than the variant's 30: the same work per step, a shorter benchmark


def _generate(monkeypatch, root: Path, n: int, workers: int) -> None:
    d = Path(tempfile.mkdtemp(prefix="gen-", dir=root))
    monkeypatch.setenv("AUGEN_CACHE", str(d / "cache"))  # helpers inherit it: judge features from empty caches
    run(RunConfig("maugen-tiny", "world-v2", OPTIONS, shard_size=SHARD, downstream=False, n=n), d / "w",
        progress=False, generate_only=True, workers=workers)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A scratch folder, warmed by one small untimed generation (model files and imports in memory), so the
    first timed benchmark is not the only one paying a cold start."""
    d = tmp_path_factory.mktemp("workers")
    mp = pytest.MonkeyPatch()
    try:
        _generate(mp, d, 8, 1)
    finally:
        mp.undo()
    return d


@pytest.mark.benchmark(group="maugen-tiny-workers")
def test_generate_2_workers(benchmark, monkeypatch, root):
    benchmark.extra_info.update(
        items=N, unit="img", baseline=["test_generate_1_process", "test_generate_1_thread"],
        ceiling={"single": "test_generate_1_thread", "full": "test_generate_1_process", "workers": 2})
    benchmark.pedantic(_generate, args=(monkeypatch, root, N, 2), rounds=1, warmup_rounds=0)  # helper start-up in


@pytest.mark.benchmark(group="maugen-tiny-workers")
def test_generate_1_process(benchmark, monkeypatch, root):
    benchmark.extra_info.update(items=N, unit="img")
    benchmark.pedantic(_generate, args=(monkeypatch, root, N, 1), rounds=1, warmup_rounds=0)


@pytest.mark.benchmark(group="maugen-tiny-workers")
def test_generate_1_thread(benchmark, monkeypatch, root):
    """One process at one worker's thread share (what each of the 2 workers runs with), the same images."""
    benchmark.extra_info.update(items=N, unit="img")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        benchmark.pedantic(_generate, args=(monkeypatch, root, N, 1), rounds=1, warmup_rounds=0)
    finally:
        torch.set_num_threads(before)
