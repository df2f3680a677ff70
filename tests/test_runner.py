"""The runner: a run killed with SIGKILL mid-generation resumes to a byte-identical results file; sharded
processes (by hand or under `accelerate launch`) produce the same set as one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.core.errors import DataError
from bench.data.sampleset import SampleSet
from bench.pipeline.runner import RunConfig, generate_shards, merge, parse_shard, run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests.helpers` importable under any pytest rootdir/import mode
import tests.helpers.slowgen  # noqa: E402,F401  (registers the `slow` generator)
from tests.helpers.protocols import mini_protocol as shared_mini_protocol  # noqa: E402


def mini_protocol(tmp: Path) -> str:
    return shared_mini_protocol(tmp, 60)


def _env(cache: Path) -> dict:
    return {**os.environ, "AUGEN_CACHE": str(cache), "PYTHONPATH": str(ROOT)}


def test_kill_9_mid_generation_then_resume_gives_byte_identical_results(tmp_path, monkeypatch):
    proto = mini_protocol(tmp_path)
    cfg = RunConfig("slow", proto, {"pause": 0.03}, shard_size=20)
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache-a"))
    clean = run(cfg, tmp_path / "a", progress=False)

    work = tmp_path / "b"
    cmd = [sys.executable, "-m", "tests.helpers.slowgen", "slow", "--work", str(work), "--protocol", proto,
           "--option", "pause=0.03", "--shard-size", "20", "--quiet"]
    p = subprocess.Popen(cmd, env=_env(tmp_path / "cache-b"), cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(work.glob("set-*/shard-00000/manifest.yaml")):
        assert p.poll() is None and time.monotonic() < deadline, "the run ended before its first shard"
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)  # mid-run: shard 0 complete, shard 1 partly written
    p.wait()
    assert not (work / "results.json").exists()
    assert not list(work.glob("set-*/manifest.yaml"))
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache-b"))
    resumed = run(cfg, work, progress=False)
    assert resumed.read_bytes() == clean.read_bytes()
    res = json.loads(resumed.read_text())
    assert "created" not in res and res["metrics"]["downstream_expression_accuracy_1x"]["value"] is not None
    assert "stage_seconds" in json.loads((work / "results.timing.json").read_text())
    assert not list(work.glob("set-*/.shard-*.partial"))  # the killed run's debris is gone
    assert run(cfg, work, progress=False).read_bytes() == clean.read_bytes()  # a finished run is a no-op


def test_shards_by_hand_then_merge_equal_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = mini_protocol(tmp_path)
    cfg = RunConfig("real", proto, shard_size=25, downstream=False)
    one = merge(generate_shards(cfg, tmp_path / "one", progress=False), cfg)
    folder = generate_shards(cfg, tmp_path / "two", 1, 2, progress=False)
    with pytest.raises(DataError, match="shards missing: shard-00000, shard-00002"):
        merge(folder, cfg)
    generate_shards(cfg, tmp_path / "two", 0, 2, progress=False)
    two = merge(folder, cfg)
    assert SampleSet(one).content_hash() == SampleSet(two).content_hash() and len(SampleSet(two)) == 60


@pytest.mark.multiprocess
def test_accelerate_launch_two_cpu_processes(tmp_path):
    proto = mini_protocol(tmp_path)
    # accelerate's torchrun launcher (--multi_gpu) is the one that starts N processes; it runs on CPU as well
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "bench.pipeline.runner", "real", "--work",
           str(tmp_path / "w"), "--protocol", proto, "--shard-size", "20", "--no-downstream"]
    r = subprocess.run(cmd, env=_env(tmp_path / "cache"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "w" / "results.json").read_text())
    assert res["sampleset"]["n"] == 60 and res["metrics"]["fd_world"]["value"] is not None
    logs = r.stdout + r.stderr
    assert "[0/2] generating shard 1/3" in logs and "[1/2] generating shard 2/3" in logs and "results:" in logs


@pytest.mark.multiprocess
def test_workers_split_generation_into_processes_with_the_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    proto = mini_protocol(tmp_path)
    cfg = RunConfig("real", proto, shard_size=20, downstream=False)
    one = run(cfg, tmp_path / "one", progress=False)
    two = run(cfg, tmp_path / "two", progress=False, workers=2)
    assert two.read_bytes() == one.read_bytes()
    assert (tmp_path / "two" / "shard-1of2.log").is_file()
    # a helper that cannot run (the `slow` generator is registered in this process only) fails the run loudly
    with pytest.raises(RuntimeError, match=r"(?s)generation process 1/2 failed .*unknown generator 'slow'"):
        run(RunConfig("slow", proto, {"pause": 0.0}, shard_size=20, downstream=False), tmp_path / "three",
            progress=False, workers=2)


def test_helper_processes_rebuild_the_exact_config(tmp_path):
    import argparse

    from bench.pipeline.runner import add_arguments, config_from_args, helper_args

    for cfg in (RunConfig("slow", "world-v1", {"pause": 1e-05, "name": "2026-01-01", "on": True}, 20, False, 7),
                RunConfig("real")):
        ap = argparse.ArgumentParser()
        add_arguments(ap)
        assert config_from_args(ap.parse_args([*helper_args(cfg, tmp_path), "--shard", "1/2"])) == cfg


def test_parse_shard_rejects_nonsense():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "a/b", "1", ""):
        with pytest.raises(ValueError, match="i/N"):
            parse_shard(bad)


def test_a_rerun_under_another_protocol_hash_scores_again(tmp_path, monkeypatch):
    """The work folder's results.json is kept only for the same set *and* the same protocol hash: after a scoring
    setting changes (here the bootstrap resamples), the same images are scored again, never the stale file."""
    import yaml

    from bench.scoring.protocols import current_hash, load_protocol

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = mini_protocol(tmp_path)
    cfg = RunConfig("real", proto, {}, downstream=False)
    first = json.loads(run(cfg, tmp_path / "w", progress=False).read_text())
    raw = yaml.safe_load(Path(proto).read_text())
    raw["bootstrap"]["n"] = 30
    Path(proto).write_text(yaml.safe_dump(raw))
    second = json.loads(run(cfg, tmp_path / "w", progress=False).read_text())
    assert second["protocol"]["hash"] == current_hash(load_protocol(proto)) != first["protocol"]["hash"]
