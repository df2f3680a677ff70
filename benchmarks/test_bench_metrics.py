"""Metric throughput against the baselines the field uses, in the same run.

- FID from 2048-d statistics: our eigenvalue form vs clean-fid's `scipy.linalg.sqrtm` path.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.devtools.baselines import import_cleanfid
from bench.metrics.realism import feature_stats, frechet_distance


@pytest.fixture(scope="module")
def stats_2048():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 2048)).astype(np.float32)
    b = (a[:, ::-1] * 0.9 + rng.normal(size=(3000, 2048)).astype(np.float32) * 0.5 + 0.1)
    return (*feature_stats(a), *feature_stats(b))


@pytest.mark.benchmark(group="fid-2048")
def test_fid_eigvalsh(benchmark, stats_2048):
    benchmark.extra_info.update(items=1, unit="FID", baseline="test_fid_cleanfid_sqrtm")
    value = benchmark.pedantic(frechet_distance, args=stats_2048, rounds=3, warmup_rounds=1)
    benchmark.extra_info["fid"] = value


@pytest.mark.benchmark(group="fid-2048")
def test_fid_cleanfid_sqrtm(benchmark, stats_2048):
    fid = import_cleanfid()
    benchmark.extra_info.update(items=1, unit="FID")
    value = benchmark.pedantic(fid.frechet_distance, args=stats_2048, rounds=1, warmup_rounds=0)
    benchmark.extra_info["fid"] = value
