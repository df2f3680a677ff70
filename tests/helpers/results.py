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
        if m == "real_copy_share":  # below the copy gate (a copying entry is listed, not ranked)
            v = 0.01
        if m.startswith("task_"):  # a task verdict (world-v3 on): per column and replicate block
            extra = task_fields(proto, m, rng)
        metrics[m] = metric(v, 100, info["higher_is_better"], info["family"], (v - 0.05, v + 0.05), **extra)
    return new_results(protocol={"id": proto.id, "hash": current}, generator={"name": name, "version": "1", "config": {}},
                       sampleset={"folder": name, "content_hash": f"c-{name}", "n": n}, metrics=metrics, judges={})


def task_fields(proto, name: str, rng) -> dict:
    """The fields a task metric entry carries (bench.downstream.tasks.task_entry), random, every column claimed, 3
    replicate blocks, a rising real-only curve."""
    from bench.downstream.tasks import TASK_KINDS, columns

    task = next(t for t in proto.downstream.tasks if TASK_KINDS[t.kind].metric == name)
    cols = columns(task)
    sizes = list(proto.downstream.real_curve)
    per = {c: [float(x) for x in rng.uniform(0.1, 0.9, 3)] for c in cols}
    return {"task": task.kind, "task_aus": None if task.kind == "expression" else cols, "claimed": True,
            "columns": cols, "coverage": [len(cols), len(cols)], "per_column": per, "largest": per,
            "synthetic_images": 800, "mixed": per, "real_same_size": per, "real_same_size_n": 800,
            "real_curve": {"sizes": sizes, "per_column": {c: [[i / len(sizes)] * 3 for i in range(len(sizes))]
                                                          for c in cols}}}
