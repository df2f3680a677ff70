"""The runner: protocol x generator -> conditions -> generate -> validate -> judge -> metrics -> downstream ->
results JSON, every stage cached by content and resumable.

    augen run maugen-tiny --protocol world-v1 --work runs/maugen-tiny [--option k=v] [--shard i/N]
    accelerate launch --multi_gpu --num_processes 2 -m bench.pipeline.runner maugen-tiny --work runs/maugen-tiny

(`--multi_gpu` selects accelerate's torchrun launcher, which starts the N processes on CPU too; its `--cpu`
launcher starts one process unless MPI is installed.)

Layout of a run folder (`--work`):

    set-<key>/shard-00000/ ...   the generated SampleSet, one shard per `shard_size` conditions; <key> hashes the
                                 generator, its version and options, the protocol and the conditions
    set-<key>/manifest.yaml      written by the merge once every shard exists (the set is then complete)
    results.json                 the results, a pure function of the inputs: byte-identical on every rerun
    results.timing.json          what varies between runs: creation time, seconds per stage, images/s

Resuming: a shard is written atomically (temp folder + rename), so after a crash (even `kill -9`) every shard
is either complete or absent; a rerun generates the absent ones with the same seeds and batches, and the judge
features and downstream trainings come back from their caches. Sharding: process i of N (from `--shard i/N` or
the launcher's RANK/WORLD_SIZE, which `accelerate launch` sets) generates the shards j with j % N == i and
judges them; process 0 waits for all shards, merges (`augen merge` does the same by hand) and scores.
`--workers N` starts the N - 1 other processes itself (one machine; the cores split between them).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import judges
from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError, on_interrupt
from bench.core.protocol import DEFAULT_PROTOCOL, Protocol, protocol_hash
from bench.core.registry import GENERATORS
from bench.core.results import write_results
from bench.core.threads import capped_env, thread_share
from bench.data.sampleset import Manifest, SampleSet, finalize_shards, opened
from bench.generation.base import check_generator_options, get_generator, write_generated
from bench.generation.options import parse_options
from bench.judges.cache import judge_sampleset
from bench.pipeline.runopts import add_arguments, launcher_shard, parse_shard
from bench.scoring.protocols import current_hash, load_protocol
from bench.scoring.score import score as score_set
from bench.world.conditions import suite_conditions

VOLATILE = ("created", "stage_seconds", "throughput_images_per_s")  # moved to results.timing.json


@dataclass
class RunConfig:
    """What one run computes."""

    generator: str  # registered generator name
    protocol: str = DEFAULT_PROTOCOL  # protocol id or YAML path
    options: dict = field(default_factory=dict)  # generator keyword options
    shard_size: int = 250  # conditions per generation shard (fixed: it fixes the batches, hence the pixels)
    downstream: bool = True  # run the protocol's downstream family
    n: int | None = None  # first n conditions only (default: the protocol's)


def conditions_for(cfg: RunConfig, proto: Protocol | None = None):
    """The protocol (parsed now unless given) and the conditions of its suite this run answers."""
    proto = load_protocol(cfg.protocol) if proto is None else proto
    return proto, suite_conditions(proto, cfg.n)


def set_key(cfg: RunConfig, proto, conds, version: str) -> str:
    """What the generated set depends on: the generator, its options, the protocol's settings and conditions, the
    shard size; not the code versions that only score it (`Protocol.versions`, e.g. the downstream harness)."""
    h = hashlib.sha256()
    h.update(json.dumps({"generator": cfg.generator, "version": version, "options": cfg.options,
                         "protocol": protocol_hash(dataclasses.replace(proto, versions={})),
                         "shard_size": cfg.shard_size}, sort_keys=True).encode())
    for c in conds:
        h.update(f"{c.index}:{c.seed}:{c.expression}:{c.prompt}".encode())
        h.update(c.aus.tobytes())
    return h.hexdigest()[:16]


def _make_generator(cfg: RunConfig, proto):
    return get_generator(cfg.generator, cfg.options, world=proto.world.as_dict())


def generator_version(cfg: RunConfig) -> str:
    """The registered class's version without building it (weights load lazily, only if a shard is missing); its
    options are checked here, before any work."""
    check_generator_options(cfg.generator, cfg.options)
    return str(getattr(GENERATORS.get(cfg.generator), "version", "0"))


def generate_shards(cfg: RunConfig, work: Path, rank: int = 0, world: int = 1, progress: bool = True,
                    proto: Protocol | None = None) -> Path:
    """Write this process's missing shards; returns the set folder."""
    proto, conds = conditions_for(cfg, proto)
    folder = Path(work) / f"set-{set_key(cfg, proto, conds, generator_version(cfg))}"
    folder.mkdir(parents=True, exist_ok=True)
    n_shards = -(-len(conds) // cfg.shard_size)
    mine = [j for j in range(n_shards) if j % world == rank]
    for p in folder.glob(".shard-*.partial"):  # debris of a killed run, for shards this process owns
        if (m := re.match(r"\.shard-(\d+)\.", p.name)) and int(m.group(1)) in mine:
            shutil.rmtree(p, ignore_errors=True)
    gen = None
    for j in mine:
        out = folder / f"shard-{j:05d}"
        if (out / "manifest.yaml").is_file():
            continue
        gen = gen or _make_generator(cfg, proto)
        part = conds[j * cfg.shard_size:(j + 1) * cfg.shard_size]
        if progress:
            print(f"[{rank}/{world}] generating shard {j + 1}/{n_shards} ({len(part)} conditions)", flush=True)
        write_generated(gen, part, out, protocol=proto.id, progress=progress)
    judge_shards([folder / f"shard-{j:05d}" for j in mine], proto)
    return folder


def judge_shards(shards: list[Path], proto) -> None:
    """Judge this process's shards now (cached per shard), so feature extraction is split like generation."""
    judge = judges.build_judge(proto.judge.kind, proto.judge.config, train_if_missing=False)
    for d in shards:
        judge_sampleset(d, judge, judge.id)


def merge(folder: Path, cfg: RunConfig, wait_s: float = 0.0, proto: Protocol | None = None) -> Path:
    """Join the shards into one set (waiting up to `wait_s` for other processes' shards); idempotent."""
    folder = Path(folder)
    if (folder / "manifest.yaml").is_file():
        return folder
    proto, conds = conditions_for(cfg, proto)
    n_shards = -(-len(conds) // cfg.shard_size)
    want = [folder / f"shard-{j:05d}" / "manifest.yaml" for j in range(n_shards)]
    deadline = time.monotonic() + wait_s
    while missing := [p.parent.name for p in want if not p.is_file()]:
        if time.monotonic() >= deadline:
            raise DataError(folder, f"shards missing: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
                                    " (run the other --shard processes first)")
        time.sleep(0.5)
    manifests = [Manifest.load(p) for p in want]
    gen = dict(manifests[0].generator)
    stats = [m.generator.get("stats") for m in manifests]
    if any(stats):
        gen["stats"] = {k: sum((s or {}).get(k, 0) for s in stats) for k in stats[0] or {}}
    finalize_shards(folder, name=f"{cfg.generator}-{len(conds)}", generator=gen, protocol=proto.id,
                    created=manifests[0].created)
    return folder


def score(source: SampleSet | Path, cfg: RunConfig, work: Path, progress: bool = True,
          proto: Protocol | None = None) -> Path:
    """Score the merged set (opened, or its folder; judge features and downstream trainings cached) and write
    results.json."""
    out = Path(work) / "results.json"
    ss = opened(source)
    content = ss.content_hash()
    proto = load_protocol(cfg.protocol) if proto is None else proto
    if out.is_file():  # the same set scored under the same protocol hash: kept (a changed hash scores again)
        old = json.loads(out.read_text())
        if (old.get("sampleset", {}).get("content_hash") == content and old.get("downstream_run") == cfg.downstream
                and old.get("protocol", {}).get("hash") == current_hash(proto)):
            return out
    res = score_set(ss, proto, progress=progress, downstream=cfg.downstream)
    res["downstream_run"] = cfg.downstream
    timing = {k: res.pop(k) for k in VOLATILE if k in res}
    atomic_write_text(Path(work) / "results.timing.json", json.dumps(timing, indent=1, sort_keys=True) + "\n")
    write_results(out, res)
    return out


def run(cfg: RunConfig, work: str | Path, rank: int = 0, world: int = 1, progress: bool = True,
        wait_s: float = 3600.0, generate_only: bool = False, workers: int = 1,
        check: Callable[[SampleSet], None] | None = None, proto: Protocol | None = None) -> Path | None:
    """The whole pipeline for one process; returns results.json on rank 0 (None elsewhere, or with
    `generate_only`). Rank 0 waits up to `wait_s` for the other processes' shards. `workers` > 1 (only without
    a launcher) starts workers - 1 `--shard i/N` processes here, all sharing the CPU's threads evenly. `check` is
    called with the merged set (opened once, then scored) before it is scored (e.g. submit's one-set-one-entry
    rule); it raises to stop. `proto`: `cfg.protocol` already parsed (else parsed here, once)."""
    work = Path(work)
    proto = load_protocol(cfg.protocol) if proto is None else proto
    with on_interrupt(f"{work} keeps every finished shard, judged shard and downstream training; rerun the same "
                      "command to resume from there"):
        if workers > 1 and world == 1:
            folder = _generate_in_processes(cfg, work, workers, progress, proto)
        else:
            folder = generate_shards(cfg, work, rank, world, progress, proto)
        if rank != 0 or generate_only:
            return None
        merge(folder, cfg, wait_s if world > 1 else 0.0, proto)
        ss = SampleSet(folder)
        if check is not None:
            check(ss)
        return score(ss, cfg, work, progress, proto)


def helper_args(cfg: RunConfig, work: Path) -> list[str]:
    """`augen run` arguments that rebuild `cfg` in another process (add `--shard i/N`)."""
    # options as JSON: exact values (`--option k=v` rereads v as YAML, where 1e-05 is a string)
    out = [cfg.generator, "--work", str(work), "--protocol", str(cfg.protocol), "--shard-size", str(cfg.shard_size),
           "--quiet", "--options-json", json.dumps(cfg.options, sort_keys=True)]
    if not cfg.downstream:
        out.append("--no-downstream")
    return out + (["--n", str(cfg.n)] if cfg.n is not None else [])


def config_from_args(a) -> RunConfig:
    options = {**parse_options(a.option), **(json.loads(a.options_json) if a.options_json else {})}
    return RunConfig(a.generator, a.protocol, options, a.shard_size, not a.no_downstream, a.n)


def _generate_in_processes(cfg: RunConfig, work: Path, workers: int, progress: bool,
                           proto: Protocol | None = None) -> Path:
    """Shards j % workers == i in process i (0 is this one). On a small CPU, diffusion sampling of tiny models
    gains ~13% from 2 single-threaded processes over one 2-thread process (intra-op threads scale poorly on
    small convolutions). Pixels can differ in the last bit between thread counts, so the set key, hence any
    resume, is per command line as before; a failed helper raises after this process's shards are done."""
    import subprocess
    import sys

    import torch

    threads = thread_share(workers)
    cmd = [sys.executable, "-m", "bench.pipeline.runner", *helper_args(cfg, work)]
    env = capped_env(threads)
    env.pop("RANK", None), env.pop("WORLD_SIZE", None)
    work.mkdir(parents=True, exist_ok=True)
    logs = [work / f"shard-{i}of{workers}.log" for i in range(1, workers)]  # helpers' stderr
    helpers = []
    for i, log in enumerate(logs, 1):
        with open(log, "w") as err:
            helpers.append(subprocess.Popen([*cmd, "--shard", f"{i}/{workers}"], env=env, stdout=subprocess.DEVNULL,
                                            stderr=err))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        folder = generate_shards(cfg, work, 0, workers, progress, proto)
    finally:
        torch.set_num_threads(before)
        codes = [p.wait() for p in helpers]
    for i, (code, log) in enumerate(zip(codes, logs), 1):
        if code:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-5:])
            raise RuntimeError(f"generation process {i}/{workers} failed (exit {code}; log {log}):\n{tail}")
    return folder


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.pipeline.runner ARGS` = `augen run ARGS` (how --workers starts its helpers)."""
    ap = argparse.ArgumentParser(prog="augen run", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run_from_args(ap.parse_args(argv))


def run_from_args(a) -> int:
    rank, world = parse_shard(a.shard) if a.shard else launcher_shard()
    cfg = config_from_args(a)
    if a.workers < 1:
        raise UsageError(f"--workers must be >= 1, not {a.workers}")
    out = run(cfg, a.work, rank, world, progress=not a.quiet, generate_only=bool(a.shard), workers=a.workers)
    if out is not None:
        print(f"results: {out}")
    elif a.shard:
        print(f"shard {a.shard} done; run again without --shard to merge and score")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
