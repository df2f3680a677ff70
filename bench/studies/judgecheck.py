"""Judge independence: the filed board read again by the second world judge (another seed and architecture).

    augen study judgecheck --protocol world-v2 --out reports/judge_independence.md [--sets NAME=DIR ...]

Each entry of the protocol's current board is rescored with `bench.judges.world.SECOND_JUDGE` in place of the
protocol's judge (its SampleSet: the runner's folder under `$AUGEN_CACHE/runs/<protocol>/<name>/`, or `--sets`);
downstream metrics do not read the judge and are taken from the filed results. The report gives, per entry, the
label gate under each judge, and Kendall tau (tau-b) between the two judges' boards (the order of every row) and
between their readings of each diagnostic metric across entries. Scores under the second judge are cached by set
content like any score; the report is written from them by code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from bench.core.atomic import atomic_write_text
from bench.core.errors import UsageError
from bench.core.paths import cache_root, results_root
from bench.core.protocol import Protocol
from bench.judges.world import second_judge_config
from bench.publish.leaderboard import headline, load_filed, rank_by_training_value
from bench.scoring.protocols import current_hash, load_protocol, with_judge
from bench.scoring.score import score


def second_judge_protocol(proto: Protocol) -> Protocol:
    """`proto` read by the second world judge (its hash changes with the judge)."""
    if proto.judge is None or proto.judge.kind != "world":
        raise UsageError(f"{proto.id}: the second judge is a *world* judge; this protocol's judge is "
                         f"{proto.judge.kind if proto.judge else 'none'}")
    return with_judge(proto, "world", second_judge_config())


def find_set(proto: Protocol, name: str, results: dict, sets: dict[str, Path]) -> Path | None:
    """The SampleSet a filed entry was scored on: `sets[name]`, else the runner's folder in the cache, else None."""
    if name in sets:
        return Path(sets[name]) if (Path(sets[name]) / "manifest.yaml").is_file() else None
    folder = cache_root() / "runs" / proto.id / name / results["sampleset"]["folder"]
    return folder if (folder / "manifest.yaml").is_file() else None


def rescore(proto: Protocol, filed: list[tuple[str, dict]], sets: dict[str, Path]
            ) -> tuple[list[tuple[str, dict]], list[str]]:
    """Every entry whose set is at hand rescored under the second judge (downstream entries copied from the filed
    results), and the names of those whose set is not (left out of the comparison, named in the report). One
    process: scoring sets two at a time in spawned processes measured slower (start-up and re-imports)."""
    p2 = second_judge_protocol(proto)
    out, missing = [], []
    for name, r in filed:
        folder = find_set(proto, name, r, sets)
        if folder is None:
            missing.append(name)
            continue
        r2 = score(folder, p2, downstream=False)
        r2["metrics"].update({k: v for k, v in r["metrics"].items() if v.get("family") == "downstream"})
        r2["generator"] = r["generator"]
        out.append((name, r2))
    return out, missing


def board_taus(rows1: list[dict], rows2: list[dict], metrics: list[str]) -> list[tuple[str, float, int]]:
    """(what, Kendall tau-b, n entries): the board order (every row), then each metric's readings across entries."""
    names = [r["name"] for r in rows1]
    pos2 = {r["name"]: i for i, r in enumerate(rows2)}
    out = [("board order (gate, then training value)", float(kendalltau(range(len(names)),
                                                                         [pos2[n] for n in names])[0]), len(names))]
    by2 = {r["name"]: r for r in rows2}
    for m in metrics:
        a = [(r.get(m), by2[r["name"]].get(m)) for r in rows1]
        a = [(x, y) for x, y in a if x is not None and y is not None and np.isfinite(x) and np.isfinite(y)]
        if len(a) >= 3:
            out.append((m, float(kendalltau(*zip(*a))[0]), len(a)))
    return out


def report(proto: Protocol, rows1: list[dict], rows2: list[dict], taus: list[tuple[str, float, int]],
           judge1: str, judge2: str, command: str, missing: list[str]) -> str:
    """The markdown report (gate per entry under each judge, then the taus)."""
    by2 = {r["name"]: r for r in rows2}
    lines = [f"# Judge independence on `{proto.id}`", "", "```", command, "```", "",
             f"The board as filed (judge `{judge1}`) and as read by the second world judge `{judge2}` (another seed "
             "and architecture; bench.judges.world.SECOND_JUDGE). Downstream metrics (training value) do not read "
             "a judge, so they are left out of the per-metric taus; the label gate and the diagnostics do.", "",
             "| entry | role | gate, first judge | gate, second judge | training value |", "|---|---|---|---|---:|"]
    for r in rows1:
        r2 = by2[r["name"]]
        lines.append(f"| {r['name']} | {r['role']} | {r['gate']} {r['gate_why']} | {r2['gate']} {r2['gate_why']} | "
                     f"{r['training_value']:.3f} |")
    if missing:
        lines += ["", "Not rescored (their SampleSets are not in this workspace; pass --sets NAME=FOLDER): "
                  + ", ".join(missing)]
    lines += ["", "Kendall tau-b between the two judges' boards:", "", "| what | tau | entries |", "|---|---:|---:|"]
    lines += [f"| {w} | {t:.3f} | {n} |" for w, t, n in taus]
    return "\n".join(lines) + "\n"


def portable(arg: str) -> str:
    """A command-line argument as the report shows it: paths inside the current folder made relative (no machine
    path goes into a report)."""
    key, eq, value = arg.rpartition("=") if "=" in arg and not arg.startswith("-") else ("", "", arg)
    p = Path(value)
    if p.is_absolute():
        try:
            value = str(p.relative_to(Path.cwd()))
        except ValueError:
            value = p.name
    return f"{key}{eq}{value}"


def run_study(a) -> int:
    """`augen study judgecheck` (its arguments: bench.cli.study): rescore the filed board under the second judge
    and write the report."""
    proto = load_protocol(a.protocol)
    h = current_hash(proto)
    filed = [(n, r) for n, r in load_filed(results_root() / proto.id) if r["protocol"]["hash"] == h]
    bad = [s for s in a.sets if "=" not in s or not s.split("=", 1)[0] or not s.split("=", 1)[1]]
    if bad:
        raise UsageError(f"--sets takes NAME=FOLDER, got {bad[0][:60]!r}")
    sets = dict(s.split("=", 1) for s in a.sets)
    heads = headline(proto)
    filed2, missing = rescore(proto, filed, sets)
    filed = [(n, r) for n, r in filed if n not in missing]
    rows1, _ = rank_by_training_value(filed, h, proto, heads)
    h2 = filed2[0][1]["protocol"]["hash"]
    rows2, _ = rank_by_training_value(filed2, h2, proto, heads)
    taus = board_taus(rows1, rows2, [m for m, _ in heads if proto.metric_info[m]["family"] != "downstream"])
    args = ["--protocol", a.protocol, "--out", a.out, *(["--sets", *a.sets] if a.sets else [])]
    command = "augen study judgecheck " + " ".join(portable(x) for x in args)
    atomic_write_text(a.out, report(proto, rows1, rows2, taus, filed[0][1]["au_judge"]["id"],
                                    filed2[0][1]["au_judge"]["id"], command, missing))
    print(f"wrote {a.out}: board tau {taus[0][1]:.3f}")
    return 0
