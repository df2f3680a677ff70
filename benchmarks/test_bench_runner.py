"""Runner overhead: `augen run` (shards, per-shard judging, merge, content hashes, results) on the `real` control
against its stages called directly (write_generated + score), both from empty caches, same run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml

from bench.generation.base import get_generator, write_generated
from bench.pipeline.runner import RunConfig, run
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.world.conditions import world_conditions

N = 500  # two 250-condition shards


@pytest.fixture(scope="module")
def proto(tmp_path_factory):
    s = yaml.safe_load(load_protocol("world-v1").path.read_text())
    s["id"] = "world-bench"
    s["conditions"]["n"] = N
    path = tmp_path_factory.mktemp("p") / "world-bench.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)


def _fresh(monkeypatch):
    d = Path(tempfile.mkdtemp(prefix="augen-bench-"))
    monkeypatch.setenv("AUGEN_CACHE", str(d / "cache"))
    return d


@pytest.mark.benchmark(group="runner-overhead")
def test_runner(benchmark, proto, monkeypatch):
    benchmark.extra_info.update(items=N, unit="img", baseline="test_stages_called_directly")
    benchmark.pedantic(lambda: run(RunConfig("real", proto, downstream=False), _fresh(monkeypatch) / "w",
                                   progress=False), rounds=1, warmup_rounds=0)  # one round each: bench <= 15 min


@pytest.mark.benchmark(group="runner-overhead")
def test_stages_called_directly(benchmark, proto, monkeypatch):
    benchmark.extra_info.update(items=N, unit="img")
    p = load_protocol(proto)

    def direct():
        d = _fresh(monkeypatch)
        conds = world_conditions(p.world.as_dict(), "val", N)
        write_generated(get_generator("real", world=p.world.as_dict()), conds, d / "set", protocol=p.id)
        score(d / "set", p)

    benchmark.pedantic(direct, rounds=1, warmup_rounds=0)
