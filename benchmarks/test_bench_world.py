"""Throughput of the world and the SampleSet format, each against a baseline measured in the same run.

- render:  params + vectorized render of 256 faces at 64 px   vs  the same code one face at a time
- write:   SampleSetWriter (labels, checks, atomic rename)    vs  a bare PIL PNG-save loop
- read:    SampleSet streaming read with validation           vs  a bare PIL open+decode loop
- make:    `augen world make --workers 2` (threads capped per worker, bench.core.threads)  vs  one process,
           target 1.6x (issue 18)
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.data.sampleset import PNG_COMPRESS_LEVEL, SampleSet, SampleSetWriter
from bench.world.make import ATTRIBUTES, generator_info, make_world_set, world_batches
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

CFG = WorldConfig()
N_RENDER = 1024
N_IO = 1000
N_MAKE = 8000  # two 4,000-image shards: spawned workers import torch (~2 s each), which small sets do not repay


def _info(benchmark, images: int, baseline: str | None = None, target: float | None = None, **more):
    benchmark.extra_info.update(items=images, unit="img", baseline=baseline, target_images_per_s=target, **more)


@pytest.mark.benchmark(group="world-render")
def test_render_batched(benchmark):
    def run():
        for lo in range(0, N_RENDER, 256):
            render(sample_params(CFG, "train", np.arange(lo, lo + 256)), 64)
    _info(benchmark, N_RENDER, baseline="test_render_one_at_a_time", target=2000)
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="world-render")
def test_render_one_at_a_time(benchmark):
    n = 64
    def run():
        for i in range(n):
            render(sample_params(CFG, "train", [i]), 64)
    _info(benchmark, n)
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)


@pytest.fixture(scope="module")
def io_samples():
    return [s for b in world_batches(CFG, "train", 0, N_IO) for s in b]


@pytest.mark.benchmark(group="sampleset-write")
def test_sampleset_write(benchmark, io_samples, tmp_path_factory):
    counter = iter(range(10**6))
    def run():
        out = tmp_path_factory.mktemp("w") / f"set{next(counter)}"
        with SampleSetWriter(out, name="bench", generator=generator_info(CFG, "train"), image_size=(64, 64),
                             attributes=ATTRIBUTES) as w:
            for s in io_samples:
                w.add(s)
    _info(benchmark, N_IO, baseline="test_png_save_baseline", target=500)
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="sampleset-write")
def test_png_save_baseline(benchmark, io_samples, tmp_path_factory):
    counter = iter(range(10**6))
    def run():
        out = tmp_path_factory.mktemp("p") / f"d{next(counter)}"
        out.mkdir()
        for i, s in enumerate(io_samples):
            Image.fromarray(s.image).save(out / f"{i:08d}.png", format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    _info(benchmark, N_IO)
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.fixture(scope="module")
def written_set(io_samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "set"
    with SampleSetWriter(out, name="bench", generator={}, image_size=(64, 64), attributes=ATTRIBUTES) as w:
        for s in io_samples:
            w.add(s)
    return out


@pytest.mark.benchmark(group="sampleset-read")
def test_sampleset_read(benchmark, written_set):
    def run():
        for _ in SampleSet(written_set).batches(256):
            pass
    _info(benchmark, N_IO, baseline="test_png_read_baseline")
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="sampleset-read")
def test_png_read_baseline(benchmark, written_set):
    files = sorted((written_set / "images").iterdir())
    def run():
        for f in files:
            with Image.open(f) as im:
                np.asarray(im.convert("RGB"))
    _info(benchmark, N_IO)
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


def _make(tmp_path_factory, workers: int) -> None:
    make_world_set(tmp_path_factory.mktemp("make") / "set", CFG, "train", N_MAKE, shard_size=N_MAKE // 2,
                   workers=workers, progress=False)


@pytest.mark.benchmark(group="world-make")
def test_world_make_2_workers(benchmark, tmp_path_factory):
    _info(benchmark, N_MAKE, baseline="test_world_make_1_worker", target_ratio=1.6)  # issue 18's target
    benchmark.pedantic(_make, args=(tmp_path_factory, 2), rounds=1, warmup_rounds=0)  # spawn start-up included


@pytest.mark.benchmark(group="world-make")
def test_world_make_1_worker(benchmark, tmp_path_factory):
    _info(benchmark, N_MAKE)
    benchmark.pedantic(_make, args=(tmp_path_factory, 1), rounds=1, warmup_rounds=0)
