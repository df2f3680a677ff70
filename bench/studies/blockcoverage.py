"""Coverage of world-v3's replicate-block intervals where the truth is known (issue: intervals that survive a re-run).

    augen study blockcoverage --protocol world-v3 --runs 300 --out reports/block_coverage [--workers 2]

A world-v3 task value comes with a Student t interval over its replicate blocks (bench.downstream.tasks). Here the
`real` control (the world's own faces of the conditions, with their true labels: a control whose draws are cheap)
answers `runs` independent condition draws: run m answers world val samples START + m * 3b ... (b = one block's
largest run), block j of a run trains with the protocol's seeds[j]. Each run gets its task values and intervals
exactly as the harness computes them; the truth is the mean of every *other* run's value (leave-one-out, so a run
never covers itself), and we count the runs whose interval covers it. For contrast, the first `seed_only_runs` runs
also get the interval world-v2 used: one fixed block trained with every seed (it resamples the training seed only).

To keep the many trainings affordable the protocol's downstream is trained at one scale (`--scale`, default 1: the
block's 1x run; the task value at a single scale is that scale's score), with every other setting as filed. Writes
<out>.md and <out>.json; trainings are cached like any downstream training, so a killed run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream.tasks import TASK_KINDS, columns
from bench.downstream.tasks import interval_coverage as coverage
from bench.scoring.protocols import load_protocol

START = 100_000  # first world val index of the coverage draws (the conditions, the stability re-runs and the fault
#                  pool sit below; the downstream validation split starts at 900,000)


def task_value(result: dict, task, cols: list[str]) -> float:
    """One training's task score: expression kappa, or the mean over the task's AUs of the per-AU score."""
    f = TASK_KINDS[task.kind].field
    if task.kind == "expression":
        return float(result[f])
    from bench.data.aus import AU_INDEX

    return float(np.mean([result[f][AU_INDEX[int(c[2:])]] for c in cols]))  # the control labels every AU


def own(d: DD.LabelledImages) -> DD.LabelledImages:
    """A copy of a view that owns its storage."""
    return dataclasses.replace(d, x=d.x.clone(), aus=d.aus.clone(), expression=d.expression.clone())


def measure(proto_id: str, runs: int, scale: float, seed_only_runs: int, workers: int, progress: bool) -> dict:
    """{task: {blocks: [[run][block] value], seed_only: [[run][seed] value]}} plus the settings."""
    proto = load_protocol(proto_id)
    s0 = proto.downstream
    s = dataclasses.replace(s0, scales=(scale,))
    world, n1 = proto.world.as_dict(), s.real_train.n
    b = int(round(scale * n1))
    test = DD.from_world(world, s.test.split, s.test.n, s.input_size, s.test.start or 0)
    val = DD.from_world(world, s.val.split, s.val.n, s.input_size, s.val.start or 0)
    k = len(s.seeds)
    jobs, where = [], []
    for m in range(runs):
        draw = DD.from_world(world, "val", k * b, s.input_size, START + m * k * b)
        blocks = [own(draw.rows(j * b, b)) for j in range(k)]  # own storage: a job pickles only its block
        for j in range(k):
            jobs.append((blocks[j], test, s, s.seeds[j], proto.occurrence_threshold, None, val))
            where.append(("blocks", m, j))
        if m < seed_only_runs:  # block 0 with every other seed (its seeds[0] training is the blocks job above)
            for j in range(1, k):
                jobs.append((blocks[0], test, s, s.seeds[j], proto.occurrence_threshold, None, val))
                where.append(("seed_only", m, j))
    t = time.perf_counter()
    got = DS._run_jobs(jobs, workers, (lambda msg: print(msg, flush=True)) if progress else None,
                       [f"run {m} {kind} {j}" for kind, m, j in where])
    out = {"protocol": proto.id, "runs": runs, "scale": scale, "block_images": b, "seeds": list(s.seeds),
           "seed_only_runs": seed_only_runs, "start": START, "seconds": round(time.perf_counter() - t, 1),
           "tasks": {}}
    for task in s.tasks:
        cols = columns(task)
        per = {"blocks": np.full((runs, k), np.nan), "seed_only": np.full((seed_only_runs, k), np.nan)}
        for (kind, m, j), r in zip(where, got):
            per[kind][m, j] = task_value(r, task, cols)
        per["seed_only"][:, 0] = per["blocks"][:seed_only_runs, 0]  # the same training (block 0, seeds[0])
        out["tasks"][task.kind] = {kk: v.tolist() for kk, v in per.items()}
    return out


def report(m: dict, command: str) -> str:
    lines = ["# Coverage of world-v3's replicate-block intervals", "", f"Written by `{command}` in "
             f"{m['seconds'] / 60:.1f} min (trainings).", "",
             f"The `real` control answers {m['runs']} independent condition draws (world val from {m['start']:,}); "
             f"each draw is {len(m['seeds'])} blocks of {m['block_images']} images, block j trained with the "
             f"protocol's j-th seed ({', '.join(map(str, m['seeds']))}) at {m['scale']:g}x (one scale, to afford "
             "the trainings). Each "
             "run's interval is the Student t 95% interval over its blocks, as the board's; the truth is the mean "
             "of every other run's value. For contrast, world-v2's kind of interval: one fixed block trained with "
             f"each seed (resamples the training seed only), for the first {m['seed_only_runs']} draws. The 95% "
             "interval of each coverage is Clopper-Pearson.", "",
             "| task | interval | runs | coverage | 95% CI of coverage | mean width | sd of the value across draws |",
             "|---|---|---:|---:|---|---:|---:|"]
    for task, per in m["tasks"].items():
        blocks = np.asarray(per["blocks"])
        c = coverage(blocks)
        lines.append(f"| {task} | **blocks** (world-v3) | {c['runs']} | {c['share']:.3f} | {c['ci95'][0]:.3f}-"
                     f"{c['ci95'][1]:.3f} | {c['mean_width']:.4f} | {c['sd_of_run_means']:.4f} |")
        if per["seed_only"]:
            so = np.asarray(per["seed_only"])
            c2 = coverage(so, blocks)
            lines.append(f"| {task} | seeds only (world-v2's) | {c2['runs']} | {c2['share']:.3f} | "
                         f"{c2['ci95'][0]:.3f}-{c2['ci95'][1]:.3f} | {c2['mean_width']:.4f} | "
                         f"{float(blocks.mean(1).std(ddof=1)):.4f} |")
    return "\n".join(lines) + "\n"


def run_study(a) -> int:
    """`augen study blockcoverage` (its arguments: bench.cli.study): measure (unless --report-only), then write
    <out>.md and <out>.json."""
    out = Path(a.out)
    command = (f"augen study blockcoverage --protocol {a.protocol} --runs {a.runs} --scale {a.scale:g} "
               f"--seed-only-runs {a.seed_only_runs} --out {a.out}")
    if a.report_only:
        m = json.loads(out.with_suffix(".json").read_text())
    else:
        m = measure(a.protocol, a.runs, a.scale, a.seed_only_runs, a.workers, not a.quiet)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out.with_suffix(".json"), json.dumps(m, indent=1) + "\n")
    atomic_write_text(out.with_suffix(".md"), report(m, command))
    print(f"wrote {out.with_suffix('.md')}")
    return 0
