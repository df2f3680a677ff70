"""Rank stability of a protocol's board: its generators run again on a redrawn condition suite and with other
generation seeds, and Kendall tau between each re-run's board and the filed one.

    augen study stability --protocol world-v2 --out reports/world-v2/stability.md \\
        --results reports/results/world-v2/stability [--axes conditions,seed] [--workers 2]
    augen study stability --protocol world-v2 --out ... --results ... --report-only

A re-run is the protocol with one change (`axis_protocol`): `conditions` asks for world val samples n..2n-1
instead of 0..n-1 (other labels, prompts and identities); `seed` asks for the same conditions with generation seed
i + SEED_OFFSET instead of i. Each gets its own protocol id and hash (`<id>-<axis>`, written beside its results as
`protocol.yaml`), and every entry of `ENTRIES` (the board's generators, with the options that made each filed
entry) is generated and scored with downstream by the runner into `$AUGEN_CACHE/runs/<id>-<axis>/<entry>/`
(sharded, cached, resumable). A re-run's generator config must equal the filed entry's, so a re-run measures the
same generator. Results are filed as `<results>/<axis>/<entry>.json`; a file of the current hash is kept, so the
command resumes after a crash.

The report is a pure function of the filed results (`--report-only` rewrites it byte for byte): per entry its
role, gate and training value on the filed board and under each axis, then Kendall tau-b between the filed board
and each re-run's (the order of every row: gate, then training value), and between their readings of each
headline metric across entries. The judge axis (the same sets read by the second world judge) is
bench.studies.judgecheck's report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.paths import cache_root, results_root
from bench.core.protocol import Protocol
from bench.core.results import write_results
from bench.pipeline import runner
from bench.publish.leaderboard import headline, load_filed, rank_by_training_value
from bench.scoring.protocols import current_hash, load_protocol
from bench.studies.judgecheck import board_taus, portable

AXES = ("conditions", "seed")  # the re-runs, in report order
AXIS_TITLES = {"conditions": "redrawn conditions", "seed": "other generation seed"}
SEED_OFFSET = 1_000_000  # the `seed` re-run: condition i is generated with seed i + SEED_OFFSET

# (entry, registered generator, options): the board's entries as they were filed: `tox -e bench` files the controls,
# maugen-tiny (the published variant) and synfer-tiny; synfer-tiny-sg-pl is the ablation's guided + pseudo-labelled
# row (lambda_g chosen by the second judge, docs/verdicts.md); maugen-tiny-v1 and synfer-tiny-published are the
# fidelity pair's other halves (docs/fidelity-maugen.md, docs/fidelity-synfer.md)
ENTRIES: tuple[tuple[str, str, dict], ...] = (
    ("real", "real", {}),
    ("shuffled", "shuffled", {}),
    ("collapsed", "collapsed", {}),
    ("noise", "noise", {}),
    ("maugen-tiny", "maugen-tiny", {}),
    ("maugen-tiny-v1", "maugen-tiny", {"variant": "v1"}),
    ("synfer-tiny", "synfer-tiny", {}),
    ("synfer-tiny-sg-pl", "synfer-tiny", {"semantic_guidance_scale": 2.0, "pseudo_label": True}),
    ("synfer-tiny-published", "synfer-tiny", {"preset": "published"}),
)
# world-v3's board, as `tox -e bench` files it (controls, the copy-gate entries, the two references)
ENTRIES_V3: tuple[tuple[str, str, dict], ...] = (
    ("real", "real", {}),
    ("shuffled", "shuffled", {}),
    ("collapsed", "collapsed", {}),
    ("noise", "noise", {}),
    ("train-copies", "world-fault", {"fault": "train_copies", "level": 1.0}),
    ("real-relabelled", "world-fault", {"fault": "label_noise", "level": 0.6}),
    ("intensity-bias", "world-fault", {"fault": "intensity_bias", "level": 1.0}),
    ("maugen-tiny", "maugen-tiny", {}),
    ("synfer-tiny", "synfer-tiny", {}),
)
RUN_STATS = ("stats",)  # generator record fields that describe the run's output, not the generator


@dataclass
class StabilityConfig:
    protocol: str  # protocol id or YAML path of the filed board
    out: Path  # markdown report
    results: Path  # folder of the re-runs' results: <axis>/<entry>.json and <axis>/protocol.yaml
    axes: tuple[str, ...] = AXES  # re-runs to score (a subset of AXES)
    entries: tuple[tuple[str, str, dict], ...] = ENTRIES  # what is re-run
    workers: int = 2  # generation processes per entry
    progress: bool = True  # one line per entry scored
    command: str = ""  # the command line, quoted in the report
    only: tuple[str, ...] = field(default_factory=tuple)  # entries to re-run (default: all)


def axis_protocol(proto: Protocol, axis: str) -> dict:
    """The raw settings of `proto` re-run along `axis` (a new id, so its runs, results and hash are its own)."""
    if proto.kind != "world" or proto.conditions is None:
        raise UsageError(f"{proto.id}: rank stability re-runs a world protocol's condition suite")
    c = dict(proto.raw["conditions"])
    if axis == "conditions":
        c["start"] = (c.get("start") or 0) + proto.conditions.n  # the next n samples of the same split
    elif axis == "seed":
        c["seed_offset"] = (c.get("seed_offset") or 0) + SEED_OFFSET
    else:
        raise UsageError(f"unknown axis {axis!r} (known: {', '.join(AXES)})")
    raw = {**proto.raw, "id": f"{proto.id}-{axis}", "conditions": c,
           "description": f"{proto.id} re-run with {AXIS_TITLES[axis]} (bench.studies.stability). "
                          + str(proto.raw.get("description", ""))}
    if "hashed_description" in proto.raw:  # the text hashed when the re-runs were filed (module name of then)
        raw["hashed_description"] = (f"{proto.id} re-run with {AXIS_TITLES[axis]} (bench.publish.stability). "
                                     + str(proto.raw["hashed_description"]))
    return raw


def write_axis_protocol(cfg: StabilityConfig, proto: Protocol, axis: str) -> Path:
    """`<results>/<axis>/protocol.yaml`, rewritten only when its settings change (so its mtime means something)."""
    path = cfg.results / axis / "protocol.yaml"
    text = yaml.safe_dump(axis_protocol(proto, axis), sort_keys=False)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path


def generator_record(r: dict) -> dict:
    """What identifies the generator in a results file (its output statistics left out)."""
    return {k: v for k, v in r["generator"].items() if k not in RUN_STATS}


def rerun_entry(cfg: StabilityConfig, axis_path: Path, want_hash: str, entry: str, generator: str, options: dict,
                filed: dict | None) -> bool:
    """Generate and score one entry along one axis and file its results; False if a current file was kept."""
    out = cfg.results / axis_path.parent.name / f"{entry}.json"
    if out.is_file() and json.loads(out.read_text())["protocol"]["hash"] == want_hash:
        return False
    rcfg = runner.RunConfig(generator, str(axis_path), options)
    proto = load_protocol(axis_path)
    work = cache_root() / "runs" / proto.id / entry
    res = json.loads(runner.run(rcfg, work, progress=False, workers=cfg.workers).read_text())
    if filed is not None and generator_record(res) != generator_record(filed):
        raise DataError(out, f"{entry}: the re-run's generator {generator_record(res)} differs from the filed "
                             f"entry's {generator_record(filed)}; fix ENTRIES (bench.studies.stability)")
    write_results(out, res)
    return True


def run_axes(cfg: StabilityConfig, proto: Protocol) -> None:
    """Every entry re-run along every axis (kept where current)."""
    filed = dict(load_filed(results_root() / proto.id))
    for axis in cfg.axes:
        path = write_axis_protocol(cfg, proto, axis)
        want = current_hash(load_protocol(path))
        for entry, generator, options in cfg.entries:
            if cfg.only and entry not in cfg.only:
                continue
            t = time.perf_counter()
            if rerun_entry(cfg, path, want, entry, generator, options, filed.get(entry)) and cfg.progress:
                print(f"[{axis}] {entry}: scored in {time.perf_counter() - t:.0f} s", flush=True)


def boards(cfg: StabilityConfig, proto: Protocol) -> tuple[list[dict], dict[str, list[dict]]]:
    """The filed board (entries of cfg.entries, current hash) and each axis's board (its current results)."""
    heads = headline(proto)
    names = {e for e, _, _ in cfg.entries}
    filed = [(n, r) for n, r in load_filed(results_root() / proto.id) if n in names]
    rows, _ = rank_by_training_value(filed, current_hash(proto), proto, heads)
    out = {}
    for axis in cfg.axes:
        path = cfg.results / axis / "protocol.yaml"
        if not path.is_file():
            continue
        p = load_protocol(path)
        got = [(n, r) for n, r in load_filed(cfg.results / axis) if n in names]
        axis_rows, stale = rank_by_training_value(got, current_hash(p), p, heads)
        if stale:
            raise DataError(cfg.results / axis, f"stale results ({', '.join(n for n, _ in stale)}): re-run "
                                                "augen study stability")
        before, after = dict(filed), dict(got)
        for row in axis_rows:  # a re-run scoring exactly as filed (a control that does not depend on what the
            name = row["name"]  # re-run changes) measures nothing new: marked in the report
            row["same_scores"] = name in before and metric_values(after[name]) == metric_values(before[name])
        out[axis] = axis_rows
    return rows, out


def metric_values(results: dict) -> dict[str, object]:
    """Every metric's value (and per-seed values) of a results dict: what 'scores exactly as filed' compares."""
    return {k: (m.get("value"), m.get("per_seed")) for k, m in results["metrics"].items()}


def _tv(row: dict | None) -> str:
    if row is None:
        return "not run"
    v, ci = row["training_value"], row["training_value_ci"]
    return "n/a" if v is None else (f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))


def report(cfg: StabilityConfig, proto: Protocol, rows: list[dict], axis_rows: dict[str, list[dict]]) -> str:
    """The markdown report: entries under each board, then the taus."""
    heads = [m for m, _ in headline(proto) if proto.metric_info[m]["family"] != "downstream"]
    lines = [f"# Rank stability of the `{proto.id}` board", "", "```", cfg.command, "```", "",
             "Each re-run is the protocol with one change, every entry generated and scored again from scratch "
             f"(downstream included): **redrawn conditions** asks for world val samples n..2n-1 instead of 0..n-1 "
             f"(other labels, prompts and identities); **other generation seed** asks for the same conditions with "
             f"seed i + {SEED_OFFSET:,} instead of i. Cell: rank (or role) and training value with its 95% interval "
             "over downstream seeds; `x` = fails the label gate; `=` = every metric of the re-run equals the filed "
             "one (the entry does not depend on what the re-run changes, e.g. a control that renders world samples "
             "ignores the generation seed). The judge axis (the same sets read by another judge) is "
             "in [judge_independence.md](../judge_independence.md).", ""]
    axes = list(axis_rows)
    lines += ["| entry | filed board | " + " | ".join(AXIS_TITLES[a] for a in axes) + " |",
              "|---|---|" + "---|" * len(axes)]
    by_axis = {a: {r["name"]: r for r in axis_rows[a]} for a in axes}

    def cell(r: dict | None) -> str:
        if r is None:
            return "not run"
        mark = ("" if r["passes"] else " x") + (" =" if r.get("same_scores") else "")
        return f"{r['rank']}{mark} · {_tv(r)}"
    for r in rows:
        lines.append(f"| {r['name']} | {cell(r)} | " + " | ".join(cell(by_axis[a].get(r["name"])) for a in axes)
                     + " |")
    lines += ["", "Kendall tau-b between the filed board and each re-run's (1 = the same order):", "",
              "| re-run | what | tau | entries |", "|---|---|---:|---:|"]
    for a in axes:
        common = [r for r in rows if r["name"] in by_axis[a]]
        other = [r for r in axis_rows[a] if r["name"] in {c["name"] for c in common}]
        for what, tau, n in board_taus(common, other, heads):
            lines.append(f"| {AXIS_TITLES[a]} | {what} | {tau:.3f} | {n} |")
    return "\n".join(lines) + "\n"


def task_rows(cfg: StabilityConfig, proto: Protocol) -> list[dict]:
    """Protocols with tasks (world-v3 on): per entry, task and axis, the filed task value and interval (on the labels
    the entry claims) and the re-run's value; `inside` when the re-run falls in the filed interval, `same` when the
    re-run scored exactly as filed (it does not depend on what the axis changes)."""
    from bench.downstream.tasks import TASK_KINDS

    names = [e for e, _, _ in cfg.entries]
    filed = {n: r for n, r in load_filed(results_root() / proto.id) if n in names
             and r["protocol"]["hash"] == current_hash(proto)}
    out = []
    for axis in cfg.axes:
        path = cfg.results / axis / "protocol.yaml"
        if not path.is_file():
            continue
        want = current_hash(load_protocol(path))
        got = {n: r for n, r in load_filed(cfg.results / axis) if n in names and r["protocol"]["hash"] == want}
        for name in names:
            if name not in filed or name not in got:
                continue
            for t in proto.downstream.tasks:
                m = TASK_KINDS[t.kind].metric
                a, b = filed[name]["metrics"].get(m) or {}, got[name]["metrics"].get(m) or {}
                if a.get("value") is None or b.get("value") is None or not a.get("ci95"):
                    continue
                lo, hi = a["ci95"]
                out.append({"entry": name, "task": t.kind, "axis": axis, "filed": a["value"], "ci": [lo, hi],
                            "rerun": b["value"], "inside": lo <= b["value"] <= hi,
                            "same": metric_values(got[name]) == metric_values(filed[name])})
    return out


def task_report(cfg: StabilityConfig, proto: Protocol, rows: list[dict]) -> str:
    """The markdown report of a protocol with tasks: every re-run beside the filed interval, and the share inside."""
    moved = [r for r in rows if not r["same"]]
    lines = [f"# Re-runs of the `{proto.id}` board against its filed intervals", "", "```", cfg.command, "```", "",
             "Each re-run is the protocol with one change, every entry generated and scored again from scratch "
             f"(downstream included): **redrawn conditions** asks for world val samples n..2n-1 instead of 0..n-1; "
             f"**other generation seed** asks for the same conditions with seed i + {SEED_OFFSET:,}. Each row: an "
             "entry's task value as filed with its 95% interval (Student t over the replicate blocks), the re-run's "
             "value, and whether it falls inside; `=` marks a re-run that scored exactly as filed (the entry does "
             "not depend on what the axis changes: a world control ignores the generation seed), counted apart.", ""]
    if moved:
        from scipy import stats

        from bench.metrics.stats import clopper_pearson

        k, reps = sum(r["inside"] for r in moved), proto.downstream.replicates
        lo, hi = clopper_pearson(k, len(moved))
        crit = stats.t.ppf(0.975, reps - 1)  # a re-run's mean differs from the filed one by sqrt(2) of the mean's sd
        expect = 2 * stats.t.cdf(crit / 2 ** 0.5, reps - 1) - 1
        lines += [f"**{k} of {len(moved)} re-runs that changed anything ({k / len(moved):.0%}) fall inside the filed "
                  f"intervals** (all rows: {sum(r['inside'] for r in rows)} of {len(rows)}); 95% Clopper-Pearson "
                  f"interval of that share: {lo:.2f}-{hi:.2f}. A 95% confidence interval over {reps} independent "
                  f"blocks is expected to hold {expect:.0%} of re-runs (each re-run has its own noise: it differs from "
                  "the filed mean by sqrt(2) of the mean's sd), not 95%.", ""]
    lines += ["| entry | task | re-run | filed value [95% interval] | re-run value | inside |",
              "|---|---|---|---|---:|---|"]
    for r in rows:
        lines.append(f"| {r['entry']} | {r['task']} | {AXIS_TITLES[r['axis']]} | {r['filed']:.3f} "
                     f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['rerun']:.3f} | "
                     f"{'yes' if r['inside'] else '**no**'}{' =' if r['same'] else ''} |")
    return "\n".join(lines) + "\n"


def write_report(cfg: StabilityConfig, proto: Protocol) -> Path:
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    if proto.headline is not None and proto.headline.rank_by == "tasks":
        atomic_write_text(cfg.out, task_report(cfg, proto, task_rows(cfg, proto)))
        return cfg.out
    rows, axis_rows = boards(cfg, proto)
    atomic_write_text(cfg.out, report(cfg, proto, rows, axis_rows))
    return cfg.out


def run_study(a) -> int:
    """`augen study stability` (its arguments: bench.cli.study): re-run the entries along each axis (unless
    --report-only), then write the report."""
    axes = tuple(x for x in (a.axes or ",".join(AXES)).split(",") if x)
    bad = [x for x in axes if x not in AXES]
    if bad:
        raise UsageError(f"--axes: unknown {', '.join(bad)} (known: {', '.join(AXES)})")
    command = (f"augen study stability --protocol {portable(a.protocol)} --out {portable(a.out)} "
               f"--results {portable(a.results)} --axes {','.join(axes)}")
    proto = load_protocol(a.protocol)
    tasks = proto.headline is not None and proto.headline.rank_by == "tasks"
    cfg = StabilityConfig(a.protocol, Path(a.out), Path(a.results), axes, workers=a.workers,
                          progress=not a.quiet, command=command, entries=ENTRIES_V3 if tasks else ENTRIES,
                          only=tuple(x for x in a.only.split(",") if x))
    if not a.report_only:
        run_axes(cfg, proto)
    print(f"wrote {write_report(cfg, proto)}")
    return 0
