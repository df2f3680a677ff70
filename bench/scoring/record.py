"""The one results builder of `score()` (bench.scoring.score): what a results JSON records about the generator, the
scored set, the reference set and the protocol hash, for every protocol kind.

The protocol hash is the protocol's settings plus what else decides the numbers: a typed list of
`bench.core.hashparts.HashPart`s, rendered in one place (`hash_text`).
"""

from __future__ import annotations

from pathlib import Path

from bench.core.hashparts import HashPart, hash_text
from bench.core.protocol import Protocol, protocol_hash
from bench.core.results import environment, new_results
from bench.data.sampleset import SampleSet

#: Generator-record fields a results file keeps from the set's manifest (docs/results.md).
GENERATOR_FIELDS = ("name", "version", "config", "stats", "real_data")


def protocol_record(proto: Protocol, parts: list[HashPart]) -> dict:
    return {"id": proto.id, "hash": protocol_hash(proto, hash_text(parts))}


def generator_record(ss: SampleSet) -> dict:
    """The generator record of a set's manifest, restricted to GENERATOR_FIELDS."""
    g = ss.manifest.generator
    return {k: g[k] for k in GENERATOR_FIELDS if k in g}


def set_record(ss: SampleSet, **extra) -> dict:
    """What a results file says about a scored set: folder name (no machine paths), content hash, size, labels hash."""
    return {"folder": Path(ss.root).resolve().name, "content_hash": ss.content_hash(), "n": len(ss),
            "labels_sha256": ss.manifest.labels_sha256, **extra}


def build_results(proto: Protocol, parts: list[HashPart], ss: SampleSet, metrics: dict, *,
                  sampleset_extra: dict | None = None, stage_seconds: dict[str, float] | None = None,
                  **fields) -> dict:
    """The results dict of one scored set: protocol (id, hash from `parts`), generator and sampleset records,
    metrics, the caller's other `fields` (au_judge, judges, seeds, reference, data, ...), timings and environment."""
    return new_results(
        protocol=protocol_record(proto, parts),
        generator=generator_record(ss),
        sampleset=set_record(ss, **(sampleset_extra or {})),
        metrics=metrics,
        **fields,
        **({"stage_seconds": {k: round(v, 3) for k, v in stage_seconds.items()}} if stage_seconds is not None
           else {}),
        **environment(),
    )
