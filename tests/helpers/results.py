"""Fixture results of a protocol: each listed metric with a seeded value in [0.1, 0.9] and a ±0.05 interval."""

from __future__ import annotations

import numpy as np

from bench.core.results import metric, new_results


def fixture_results(proto, name: str, seed: int, current: str, n: int = 100) -> dict:
    """Results of entry `name` under `proto` at protocol hash `current` (mixed runs carry a real-only bar)."""
    rng = np.random.default_rng(seed)
    metrics = {}
    for m, info in proto.metric_info.items():
        v = float(rng.uniform(0.1, 0.9))
        extra = {"real_only": 0.5, "real_only_ci95": [0.45, 0.55]} if m.endswith("_mixed") else {}
        metrics[m] = metric(v, 100, info["higher_is_better"], info["family"], (v - 0.05, v + 0.05), **extra)
    return new_results(protocol={"id": proto.id, "hash": current}, generator={"name": name, "version": "1", "config": {}},
                       sampleset={"folder": name, "content_hash": f"c-{name}", "n": n}, metrics=metrics, judges={})
