"""The downstream family of a world protocol: recognizers trained on a SampleSet's claimed labels at each size,
tested on the protocol's real world test split (bench.downstream.harness does the training).

With a validation split (world-v2 on) real-only baselines are trained beside the synthetic runs: at the mixed run's
total size (the fair bar for real + synthetic) and at the generator's declared real budget (`real_data` in the set's
manifest: the labelled world images it learned from), capped at what one training can see."""

from __future__ import annotations

from pathlib import Path

from bench.core.protocol import Protocol
from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream import tasks


def declared_budget(generator: dict) -> int | None:
    """Labelled real images a generator declares it learned from (`real_data.labelled_images` in the manifest's
    generator record), or None when it declares nothing."""
    rd = generator.get("real_data") or {}
    n = rd.get("labelled_images")
    return int(n) if isinstance(n, int | float) and n >= 0 else None


def budget_images(proto: Protocol, budget: int | None) -> int | None:
    """Real images the budget baseline trains on: the declared budget, capped at what one training can see
    (max_steps * batch_size); None without a declared (positive) budget."""
    if not budget:
        return None
    cap = proto.downstream.image_cap()
    return min(budget, cap) if cap else budget


def run_protocol_downstream(proto: Protocol, root: str | Path, content_hash: str | None = None,
                            cache: Path | None = None, progress: bool = False,
                            generator: dict | None = None) -> dict[str, dict]:
    """Metric name -> results entry of the protocol's downstream section for one SampleSet (`generator`: the
    set's manifest record, read for its declared real budget)."""
    s, world = proto.downstream, proto.world.as_dict()
    n1 = s.real_train.n
    syn = DD.from_sampleset(root, s.largest_synthetic(n1), s.input_size, content_hash)
    split, start = s.real_train.split, s.real_train.start or 0
    real = DD.from_world(world, split, n1, s.input_size, start)
    test = DD.from_world(world, s.test.split, s.test.n, s.input_size, s.test.start or 0)
    val, baselines = None, {}
    if s.val is not None:
        val = DD.from_world(world, s.val.split, s.val.n, s.input_size, s.val.start or 0)
        baselines["same_size"] = DD.WorldSlice(world, split, n1 + int(round(s.mixed_scale * n1)), s.input_size,
                                               start)
        nb = budget_images(proto, declared_budget(generator or {}))
        if nb:
            baselines["real_budget"] = DD.WorldSlice(world, proto.real_budget.split if proto.real_budget else split,
                                                     nb, s.input_size, start)
        for n in s.real_curve or ():  # real-only at each size: what a set's data is worth in real images
            baselines[f"curve:{n}"] = DD.WorldSlice(world, split, n, s.input_size, start)
    log = (lambda m: print(m, flush=True)) if progress else None
    raw = DS.run_downstream(syn, real, test, s, proto.occurrence_threshold,
                            cache=None if cache is None else Path(cache) / "downstream", progress=log, val=val,
                            baselines=baselines)
    return {**DS.downstream_metrics(raw, s), **tasks.task_metrics(raw, s, n1)}
