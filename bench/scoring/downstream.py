"""The downstream family of a world protocol: recognizers trained on a SampleSet's claimed labels at each size,
tested on the protocol's real world test split (bench.downstream.harness does the training)."""

from __future__ import annotations

from pathlib import Path

from bench.core.protocol import Protocol
from bench.downstream import harness as DS


def run_protocol_downstream(proto: Protocol, root: str | Path, content_hash: str | None = None,
                            cache: Path | None = None, progress: bool = False) -> dict[str, dict]:
    """Metric name -> results entry of the protocol's downstream section for one SampleSet."""
    s, world = proto.downstream, proto.world.as_dict()
    n1 = s.real_train.n
    syn = DS.from_sampleset(root, s.largest_synthetic(n1), s.input_size, content_hash)
    real = DS.from_world(world, s.real_train.split, n1, s.input_size)
    test = DS.from_world(world, s.test.split, s.test.n, s.input_size)
    log = (lambda m: print(m, flush=True)) if progress else None
    raw = DS.run_downstream(syn, real, test, s, proto.occurrence_threshold,
                            cache=None if cache is None else Path(cache) / "downstream", progress=log)
    return DS.downstream_metrics(raw, s)
