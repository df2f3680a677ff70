"""The metric meta-evaluation: how well does each metric rank generators by what their data is worth for training?

    augen study metaeval --protocol world-v2 --out reports/metaeval \\
        --results reports/results/world-v2/metaeval [--variants N] [--workers W] [--stability judge,conditions,seed]
    augen study metaeval --protocol world-v2 --report-only      (the report again, nothing scored)

On the world the truth is known, so generators of known, graded faults can be built (`world-fault`,
bench.generation.faults). Each variant of `VARIANTS` is generated and scored with downstream by the runner
(cached and resumable like any run) and its results JSON filed as `<results>/<variant>.json`; a rerun keeps every
file whose protocol hash is the current one and whose generator config is the variant's, so it resumes after a
crash. Then every metric's rank correlation with the *training value* (`--utility`, a downstream metric) across the
variants is computed: Kendall tau-b and Spearman rho (scipy.stats), with the metric's direction applied (+1: the
metric ranks the variants as their training value does), each with a percentile bootstrap interval over variants.
The report (`<out>.md`, `<out>.png`) is a pure function of the results files: `--report-only` rewrites it
byte for byte. Beside the table: every downstream kind at every scale, the main metrics' taus with each fault
left out in turn, and the board's real generators (the protocol's filed leaderboard results) apart from the faults,
with the tau among them alone (bench.studies.metaeval_checks).

Rank stability (optional, each multiplies the cost): the variants are scored again (a) under the second world
judge (`bench.judges.world.SECOND_JUDGE`; the same sets, so downstream comes from its cache), (b) on a redrawn
condition set (world val samples n..2n-1: the fault generator's `start` option) and (c) with another generation
seed (the fault's draws); filed under `<results>/stability-<kind>/`. The report gives the Kendall tau between the
board of each re-run and the first one, ranked by training value and by each family's main metric.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from bench.core.atomic import atomic_write_text
from bench.core.errors import MissingWeights, UsageError
from bench.core.paths import cache_root, results_root, workspace
from bench.core.protocol import FAMILIES, Protocol
from bench.core.results import write_results
from bench.generation.faults import FAULTS, VARIANTS, FaultGenerator, variant_name
from bench.pipeline import runner
from bench.publish.leaderboard import headline
from bench.publish.report import render_md
from bench.scoring.protocols import current_hash, load_protocol
from bench.scoring.score import score
from bench.studies import metaeval_checks as checks
from bench.studies.judgecheck import second_judge_protocol
from bench.studies.metaeval_checks import signed

GENERATOR = "world-fault"
STABILITY = ("judge", "conditions", "seed")  # the re-runs --stability may ask for, in report order
STABILITY_TITLES = {"judge": "second judge", "conditions": "redrawn conditions", "seed": "other seed"}
OTHER_SEED = 1  # the fault seed of the `seed` re-run (the first run uses 0)


@dataclass(frozen=True)
class MetaevalConfig:
    """One meta-evaluation: what is scored, where it is filed, what the report says."""

    protocol: str  # protocol id or YAML path (a world protocol with a downstream section)
    out: Path  # report stem: <out>.md and <out>.png
    results: Path  # folder of the filed results: <variant>.json, stability-<kind>/<variant>.json
    work: Path  # run folders (generated sets, runner results): <work>/<kind>/<variant>/
    utility: str = "downstream_training_value"  # the training-value metric every metric is correlated with
    variants: int | None = None  # score only the first n of VARIANTS (None: all)
    workers: int = 1  # generation processes per run (the runner's --workers)
    stability: tuple[str, ...] = ()  # re-runs to score: a subset of STABILITY
    bootstrap: int = 1000  # bootstrap resamples of the variants
    seed: int = 0  # bootstrap rng seed
    alpha: float = 0.05  # 1 - interval coverage
    progress: bool = True  # one line per run
    board: Path | None = None  # the protocol's filed leaderboard results (real generators; None: that section is empty)


# -- scoring the variants -----------------------------------------------------------------------------------------


def variant_options(fault: str, level: float, proto: Protocol, kind: str = "base") -> dict:
    """The `world-fault` options of one variant in one run (`kind`: base or a STABILITY re-run)."""
    options = {"fault": fault, "level": float(level), "n": proto.conditions.n}
    if kind == "seed":
        options["seed"] = OTHER_SEED
    if kind == "conditions":
        options["start"] = proto.conditions.n  # val samples n..2n-1 answer the suite's n conditions
    return options


def results_path(cfg: MetaevalConfig, kind: str, name: str) -> Path:
    return cfg.results / f"{name}.json" if kind == "base" else cfg.results / f"stability-{kind}" / f"{name}.json"


def is_current(path: Path, want_hash: str, options: dict) -> bool:
    """A filed results file of this protocol hash whose generator config is the variant's."""
    if not path.is_file():
        return False
    r = json.loads(path.read_text())
    config = r.get("generator", {}).get("config", {})
    return r.get("protocol", {}).get("hash") == want_hash and all(config.get(k) == v for k, v in options.items())


def control_not_applicable(results: dict) -> dict:
    """Results of a redrawn condition set with the control family moved to `not_applicable`: the set answers
    other conditions than the suite's, so its condition-following numbers would be measured against the wrong
    requests."""
    moved = {k for k, m in results["metrics"].items() if m["family"] == "control"}
    why = "redrawn condition set (metaeval): the set answers world val samples n..2n-1, not the suite's requests"
    return {**results, "metrics": {k: m for k, m in results["metrics"].items() if k not in moved},
            "not_applicable": {**results.get("not_applicable", {}), **{k: why for k in sorted(moved)}}}


def score_variant(cfg: MetaevalConfig, proto: Protocol, fault: str, level: float, kind: str) -> Path:
    """Generate (runner: sharded, resumable) and score one variant with downstream, and file its results."""
    name = variant_name(fault, level)
    run_kind = "base" if kind == "judge" else kind  # the judge re-run re-reads the first run's sets
    rcfg = runner.RunConfig(GENERATOR, cfg.protocol, variant_options(fault, level, proto, run_kind))
    work = cfg.work / run_kind / name
    out = results_path(cfg, kind, name)
    if kind == "judge":
        folder = runner.merge(runner.generate_shards(rcfg, work, progress=False), rcfg)
        res = score(folder, second_judge_protocol(proto), downstream=True)
        for k in runner.VOLATILE:
            res.pop(k, None)
    else:
        res = json.loads(runner.run(rcfg, work, progress=False, workers=cfg.workers).read_text())
        if kind == "conditions":
            res = control_not_applicable(res)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, res)
    return out


def run_variants(cfg: MetaevalConfig, proto: Protocol) -> dict[str, list[str]]:
    """Score every selected variant in the first run, then in each stability re-run; returns {kind: names scored
    now} (a variant filed with the current hash is kept)."""
    chosen = VARIANTS[:cfg.variants] if cfg.variants else VARIANTS
    hashes = {"base": current_hash(proto)}
    for kind in cfg.stability:
        hashes[kind] = hashes["base"] if kind != "judge" else judge_hash(proto)
    scored: dict[str, list[str]] = {}
    for kind in ("base", *cfg.stability):
        scored[kind] = []
        for i, (fault, level) in enumerate(chosen, 1):
            name = variant_name(fault, level)
            options = variant_options(fault, level, proto, "base" if kind == "judge" else kind)
            if is_current(results_path(cfg, kind, name), hashes[kind], options):
                continue
            t = time.perf_counter()
            score_variant(cfg, proto, fault, level, kind)
            scored[kind].append(name)
            if cfg.progress:
                print(f"[{kind} {i}/{len(chosen)}] {name}: scored in {time.perf_counter() - t:.1f} s", flush=True)
    return scored


def judge_hash(proto: Protocol) -> str:
    """The current hash of `proto` under the second judge; its weights must exist (training them takes long)."""
    try:
        return current_hash(second_judge_protocol(proto))
    except MissingWeights as e:
        raise MissingWeights(f"{e} (the second judge: `augen judges train --second`)") from None


# -- rank correlations ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    """One metric's agreement with the training value across variants (direction applied: +1 agrees)."""

    metric: str  # metric name
    family: str  # its family
    n: int  # variants with a value of both the metric and the utility
    tau: float  # Kendall tau-b (NaN when either ranking is all ties)
    tau_ci: tuple[float, float]  # percentile bootstrap interval over variants
    rho: float  # Spearman rho
    rho_ci: tuple[float, float]


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row pair of (B, n) arrays -> (B,), NaN where a row is all ties (scipy's formula:
    (P - Q) / sqrt((P + Q + T_x) (P + Q + T_y)), T: pairs tied in one variable only)."""
    i, j = np.triu_indices(x.shape[1], 1)
    dx, dy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    pairs = len(i)
    den = np.sqrt((pairs - (dx == 0).sum(1)) * (pairs - (dy == 0).sum(1)).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (dx * dy).sum(1) / den, np.nan)


def spearman_rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho (Pearson r of average ranks) of each row pair of (B, n) arrays -> (B,), NaN for a constant
    row."""
    rx = stats.rankdata(x, axis=1) - (x.shape[1] + 1) / 2
    ry = stats.rankdata(y, axis=1) - (y.shape[1] + 1) / 2
    den = np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(1) / den, np.nan)


def point_estimates(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Kendall tau-b, Spearman rho) of (n,) arrays by scipy.stats; NaN when either is constant."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    return float(stats.kendalltau(x, y).statistic), float(stats.spearmanr(x, y).statistic)


def bootstrap_intervals(x: np.ndarray, y: np.ndarray, resamples: int, seed: int, alpha: float
                        ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of tau-b and rho over `resamples` resamples of the n variants with replacement
    (resamples where either ranking is all ties are left out)."""
    idx = np.random.default_rng(seed).integers(0, len(x), (resamples, len(x)))
    out = []
    for values in (kendall_tau_b(x[idx], y[idx]), spearman_rho(x[idx], y[idx])):
        v = values[np.isfinite(values)]
        out.append(tuple(float(q) for q in np.percentile(v, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
                   if len(v) else (math.nan, math.nan))
    return out[0], out[1]


def correlate(name: str, family: str, metric: np.ndarray, utility: np.ndarray, cfg: MetaevalConfig) -> Correlation:
    """Correlation of direction-applied (n,) metric values with (n,) training values (NaN values left out)."""
    ok = np.isfinite(metric) & np.isfinite(utility)
    x, y = metric[ok], utility[ok]
    if len(x) < 3:
        nan2 = (math.nan, math.nan)
        return Correlation(name, family, len(x), math.nan, nan2, math.nan, nan2)
    tau, rho = point_estimates(x, y)
    tau_ci, rho_ci = bootstrap_intervals(x, y, cfg.bootstrap, cfg.seed, cfg.alpha)
    return Correlation(name, family, len(x), tau, tau_ci, rho, rho_ci)


def correlated_metrics(names: Sequence[str], utility: str) -> list[str]:
    """The metric names worth a row: all but the utility itself (a downstream kind at every scale: the scales rank
    the variants differently)."""
    return [n for n in names if n != utility]


def correlations(board: dict[str, dict], cfg: MetaevalConfig) -> list[Correlation]:
    """Every correlated metric of the filed results `board` ({variant: results}) against the utility, sorted by
    tau (highest first; NaN last), then name."""
    names = sorted(board)
    first = board[names[0]]["metrics"]
    if any(cfg.utility not in board[n]["metrics"] for n in names):
        known = ", ".join(sorted(first))
        raise UsageError(f"--utility {cfg.utility!r} is not in every results file; known: {known}")
    y = np.array([signed(board[n]["metrics"][cfg.utility]) for n in names])
    every = sorted({k for n in names for k in board[n]["metrics"]})
    out = []
    for k in correlated_metrics(every, cfg.utility):
        family = next(board[n]["metrics"][k]["family"] for n in names if k in board[n]["metrics"])
        x = np.array([signed(board[n]["metrics"][k]) if k in board[n]["metrics"] else math.nan for n in names])
        out.append(correlate(k, family, x, y, cfg))
    return sorted(out, key=lambda c: (-c.tau if math.isfinite(c.tau) else math.inf, c.metric))


# -- rank stability ------------------------------------------------------------------------------------------------


def rank_stability(boards: dict[str, dict[str, float]]) -> dict[tuple[str, str], tuple[float, int]]:
    """Kendall tau-b between each pair of boards ({board: {entry: value}}, values of one metric), over the
    entries both rank with a finite value: {(a, b): (tau, n)} for a before b in the given order."""
    keys = list(boards)
    out = {}
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            common = sorted(e for e in boards[a] if e in boards[b] and math.isfinite(boards[a][e])
                            and math.isfinite(boards[b][e]))
            x = np.array([boards[a][e] for e in common])
            y = np.array([boards[b][e] for e in common])
            tau = point_estimates(x, y)[0] if len(common) >= 3 else math.nan
            out[(a, b)] = (tau, len(common))
    return out


def family_mains(proto: Protocol, utility: str, present: set[str]) -> list[tuple[str, str]]:
    """(row label, metric) of the rankings in the stability table: the utility ("training value"), then each other
    family's first headline column (bench.publish.leaderboard), else its first metric the protocol lists."""
    heads = [m for m, _ in headline(proto)]
    out = [("training value", utility)]
    for fam in FAMILIES:
        listed = [m for m in proto.metrics if proto.metric_info[m]["family"] == fam and m in present and m != utility]
        first = next((m for m in heads if m in listed), listed[0] if listed else None)
        if first:
            out.append((fam, first))
    return out


# -- the report ------------------------------------------------------------------------------------------------------


def load_board(folder: Path, want_hash: str) -> tuple[dict[str, dict], int]:
    """({variant: results} of the current hash filed in `folder`, number of other files ignored)."""
    board, stale = {}, 0
    for p in sorted(Path(folder).glob("fault-*.json")):
        r = json.loads(p.read_text())
        if r.get("protocol", {}).get("hash") == want_hash and r.get("generator", {}).get("name") == GENERATOR:
            board[p.stem] = r
        else:
            stale += 1
    return board, stale


def _fmt(v: float, ci: tuple[float, float] | None = None) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci and all(map(math.isfinite, ci)) else "")


def _display(path: Path) -> str:
    """A path as the report shows it: relative to the current folder, else its name (no machine paths)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path.cwd().resolve())).as_posix()
    except ValueError:
        return Path(path).name


def verdict(c: Correlation) -> str:
    """tracks (interval above 0), against (below 0), unclear (includes 0) or n/a."""
    lo, hi = c.tau_ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return "tracks" if lo > 0 else "against" if hi < 0 else "unclear"


def implications(corrs: list[Correlation], proto: Protocol, utility: str, n: int) -> list[str]:
    """Paragraphs on what the correlations mean for the headline, generated from them."""
    by = {c.metric: c for c in corrs}
    groups = {v: [c for c in corrs if verdict(c) == v] for v in ("tracks", "unclear", "against")}

    def names(cs: list[Correlation], k: int = 6) -> str:
        shown = ", ".join(f"`{c.metric}` ({c.tau:+.2f})" for c in cs[:k])
        return shown + (f" and {len(cs) - k} more" if len(cs) > k else "") if cs else "none"

    out = [f"Across {n} variants, {len(groups['tracks'])} of {len(corrs)} metrics track training value "
           f"(`{utility}`; Kendall tau interval above 0): {names(groups['tracks'])}. "
           f"{len(groups['against'])} rank against it (interval below 0): {names(groups['against'])}. "
           f"{len(groups['unclear'])} are inconclusive (interval includes 0): {names(groups['unclear'])}."]
    fams = []
    for fam in FAMILIES:
        taus = [c.tau for c in corrs if c.family == fam and math.isfinite(c.tau)]
        if taus:
            fams.append(f"{fam} {np.median(taus):+.2f}")
    if fams:
        out.append("Median tau by family: " + ", ".join(fams) + ".")
    heads = [(m, label) for m, label in headline(proto) if m in by]
    if heads:
        good = [f"{label} ({by[m].tau:+.2f})" for m, label in heads if verdict(by[m]) == "tracks"]
        bad = [f"{label} ({by[m].tau:+.2f}, {verdict(by[m])})" if math.isfinite(by[m].tau) else f"{label} (n/a)"
               for m, label in heads if verdict(by[m]) != "tracks"]
        best = max(heads, key=lambda h: by[h[0]].tau if math.isfinite(by[h[0]].tau) else -math.inf)
        text = (f"For the headline: of the leaderboard's {len(heads)} headline columns, {len(good)} track training "
                f"value ({', '.join(good) or 'none'})")
        if bad:
            text += (f"; {', '.join(bad)} do not, so a board ranked by them can order generators against what their "
                     "data trains")
        text += f". The column closest to training value is {best[1]} (tau {by[best[0]].tau:+.2f})."
        out.append(text)
    rank_by = getattr(getattr(proto, "headline", None), "rank_by", None)
    if rank_by == utility:
        out.append(f"{proto.id} ranks the board by `{utility}` itself (gated by label validity), so no proxy stands "
                   "between the headline and training value; the table says which secondary columns a reader may "
                   "trust as a stand-in for it.")
    elif rank_by:
        c = by.get(rank_by)
        out.append(f"{proto.id} ranks the board by `{rank_by}`" + (f", whose tau with training value is "
                                                                    f"{_fmt(c.tau, c.tau_ci)}." if c else "."))
    if n < 10:
        out.append(f"Only {n} variants: the intervals are wide; score all {len(VARIANTS)} before drawing conclusions.")
    return out


def stability_blocks(cfg: MetaevalConfig, proto: Protocol, board: dict[str, dict]) -> list[tuple]:
    """The rank-stability section: Kendall tau of each re-run's board against the first run's, per ranking."""
    blocks: list[tuple] = [("h", "Rank stability", 2)]
    reruns = {}
    for kind in STABILITY:
        folder = cfg.results / f"stability-{kind}"
        if not any(folder.glob("fault-*.json")):
            continue
        reruns[kind] = load_board(folder, judge_hash(proto) if kind == "judge" else current_hash(proto))[0]
    if not reruns:
        return blocks + [("p", "No stability re-runs are filed (run with `--stability judge,conditions,seed`).")]
    present = {k for r in board.values() for k in r["metrics"]}
    mains = family_mains(proto, cfg.utility, present)
    rows = []
    for fam, metric in mains:
        cells = []
        for kind, other in reruns.items():
            boards = {"first": {n: signed(r["metrics"][metric]) for n, r in board.items() if metric in r["metrics"]},
                      kind: {n: signed(r["metrics"][metric]) for n, r in other.items() if metric in r["metrics"]}}
            tau, n = rank_stability(boards)[("first", kind)]
            cells.append(f"{_fmt(tau)} ({n})" if n else "n/a")
        rows.append([f"`{metric}`", fam, *cells])
    judge_free = ("; training value does not read the judge, so its row is 1 by construction"
                  if board[next(iter(board))]["metrics"][cfg.utility]["family"] == "downstream" else "")
    blocks.append(("p", "Kendall tau-b between the variants' ranking in the first run and in each re-run (variants "
                        "in both, in brackets), ranked by training value and by each family's main metric: "
                        "1 = the same order. Second judge: the same sets read by `SECOND_JUDGE` (another seed and "
                        f"architecture){judge_free}. "
                        "Redrawn conditions: world val samples n..2n-1 instead of 0..n-1 (the control family is not "
                        "applicable: the sets answer other requests than the suite's). Other seed: the faults' "
                        f"random draws with seed {OTHER_SEED}."))
    blocks.append(("table", ["ranking by", "family", *(STABILITY_TITLES[k] for k in reruns)], rows))
    missing = [STABILITY_TITLES[k] for k in STABILITY if k not in reruns]
    if missing:
        blocks.append(("p", f"Not run: {', '.join(missing)}."))
    return blocks


def report_blocks(cfg: MetaevalConfig, proto: Protocol, board: dict[str, dict], stale: int,
                  corrs: list[Correlation]) -> list[tuple]:
    """The whole report as blocks (bench.publish.report.render_md)."""
    first = next(iter(board.values()))
    h, n = first["protocol"]["hash"], len(board)
    where = cfg.protocol if not Path(cfg.protocol).suffix else _display(Path(cfg.protocol))
    default_board = results_root() / proto.id
    board_opt = ("" if cfg.board is None or Path(cfg.board).resolve() == default_board.resolve()
                 else f" --board {_display(cfg.board)}")
    cmd = (f"augen study metaeval --protocol {where} --results {_display(cfg.results)} --out "
           f"{_display(cfg.out)} --utility {cfg.utility}{board_opt} --report-only")
    utility_family = first["metrics"][cfg.utility]["family"]
    value = ("what recognizers trained on its claimed labels score on real world test faces"
             if utility_family == "downstream" else
             f"here a stand-in from the {utility_family} family (this protocol has no downstream training value)")
    intro = (f"Generated by `{cmd}` from {n} results files (protocol `{proto.id}`, hash `{h[:12]}`)"
             + (f"; {stale} of another hash or generator ignored" if stale else "") + ". "
             "Each variant is the world's own images and labels with one graded fault (docs/metaeval.md); its "
             f"training value (`{cfg.utility}`) is {value}. For every metric: Kendall tau-b and Spearman rho of the "
             "variants' ranking by the metric (direction applied) with their ranking by training value, +1 = the "
             f"same order, with {100 * (1 - cfg.alpha):.0f}% percentile bootstrap intervals over variants "
             f"({cfg.bootstrap} resamples, seed {cfg.seed}). Downstream kinds appear at every scale (their scales "
             "rank the variants differently; side by side below). What this measures: which metrics predict "
             "training value across graded faults, synthetic degradations of real world data. It does not show that "
             "training value is the right headline (judged by itself, that would be circular), and the variants are "
             "not real generators: the board's real generators have their own section and enter no tau here.")
    rows = [[f"`{c.metric}`", c.family, _fmt(c.tau, c.tau_ci), _fmt(c.rho, c.rho_ci), str(c.n)] for c in corrs]
    variants = sorted(board, key=lambda v: (-signed(board[v]["metrics"][cfg.utility]), v))
    vrows = []
    for v in variants:
        c = board[v]["generator"]["config"]
        spec = FAULTS[c["fault"]]
        gen = FaultGenerator(c["fault"], c["level"], split=c["split"], world=proto.world.as_dict())
        param = f"{spec.parameter} {gen.strength:g}" if c["fault"] != "none" else "-"
        vrows.append([v, spec.family, c["fault"], f"{c['level']:.2f}", param,
                      f"{board[v]['metrics'][cfg.utility]['value']:.4f}"])
    present = {k for r in board.values() for k in r["metrics"]}
    heads = [(m, label) for m, label in headline(proto) if m in present and m != cfg.utility]
    heads += [(m, f"({fam})") for fam, m in family_mains(proto, cfg.utility, present)[1:] if m not in dict(heads)]
    real = ([], [], 0) if cfg.board is None else checks.load_entries(cfg.board, h)
    where_board = _display(cfg.board) if cfg.board is not None else "(no --board)"
    taus = {c.metric: c.tau for c in corrs}
    copies = checks.copies_note(board, cfg.utility)
    return [("h", f"Metric meta-evaluation on {proto.id}: which metrics track training value", 1), ("p", intro),
            ("img", cfg.out.with_suffix(".png").name, "Kendall tau with training value per metric"),
            ("h", "Rank correlation with training value", 2),
            ("table", ["metric", "family", "Kendall tau [CI]", "Spearman rho [CI]", "n variants"], rows),
            *checks.scale_blocks(taus, first["metrics"][cfg.utility].get("definition")),
            ("h", "What it implies for the headline", 2), *[("p", t) for t in implications(corrs, proto, cfg.utility,
                                                                                             n)],
            *checks.loo_blocks(board, heads, cfg.utility),
            *stability_blocks(cfg, proto, board),
            *checks.real_blocks(*real, where_board, [hd for hd in heads if not hd[0].startswith("downstream_")],
                                cfg.utility, taus, n),
            ("h", "Variants by training value", 2), *([("p", copies)] if copies else []),
            ("table", ["variant", "family", "fault", "level", "parameter", cfg.utility], vrows)]


def figure(corrs: list[Correlation], path: Path, utility: str) -> None:
    """Dot-and-whisker plot of each metric's Kendall tau with its interval, best at the top, coloured by family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in corrs if math.isfinite(c.tau)][::-1]
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.24 * len(shown)))
    for i, c in enumerate(shown):
        col = colours(FAMILIES.index(c.family) if c.family in FAMILIES else 9)
        lo, hi = c.tau_ci
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [i, i], color=col, lw=1.6)
        ax.plot([c.tau], [i], "o", color=col, ms=5)
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_yticks(range(len(shown)), [c.metric for c in shown], fontsize=7)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(f"Kendall tau-b with {utility} (direction applied)")
    fams = [f for f in FAMILIES if any(c.family == f for c in shown)]
    ax.legend(handles=[plt.Line2D([], [], color=colours(FAMILIES.index(f)), marker="o", lw=1.6, label=f)
                       for f in fams], fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_report(cfg: MetaevalConfig, proto: Protocol) -> Path:
    """<out>.md and <out>.png from the filed results (a pure function of them); returns the markdown path."""
    board, stale = load_board(cfg.results, current_hash(proto))
    if len(board) < 3:
        raise UsageError(f"{_display(cfg.results)} holds {len(board)} current results of {GENERATOR}; at least 3 "
                         "variants are needed to correlate (run without --report-only first)")
    corrs = correlations(board, cfg)
    md = cfg.out.with_suffix(".md")
    figure(corrs, cfg.out.with_suffix(".png"), cfg.utility)
    atomic_write_text(md, render_md(report_blocks(cfg, proto, board, stale, corrs)))
    return md


# -- command line --------------------------------------------------------------------------------------------------


def parse_stability(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in (text or "").split(",") if k.strip())
    bad = [k for k in kinds if k not in STABILITY]
    if bad:
        raise UsageError(f"--stability: unknown re-run(s) {', '.join(bad)}; known: {', '.join(STABILITY)}")
    return tuple(k for k in STABILITY if k in kinds)


def config_from_args(a, proto: Protocol) -> MetaevalConfig:
    if a.variants is not None and not 1 <= a.variants <= len(VARIANTS):
        raise UsageError(f"--variants must be 1..{len(VARIANTS)}, not {a.variants}")
    if a.workers < 1:
        raise UsageError(f"--workers must be >= 1, not {a.workers}")
    if proto.kind != "world":
        raise UsageError(f"{proto.id} is a {proto.kind}-data protocol; the meta-evaluation runs on world protocols")
    results = Path(a.results) if a.results else workspace() / "reports" / "results" / proto.id / "metaeval"
    work = Path(a.work) if a.work else cache_root() / "runs" / proto.id / "metaeval"
    board = Path(a.board) if a.board else results_root() / proto.id
    return MetaevalConfig(a.protocol, Path(a.out), results, work, a.utility, a.variants, a.workers,
                          parse_stability(a.stability), a.bootstrap, progress=not a.quiet, board=board)


def run_study(a) -> int:
    """`augen study metaeval` (its arguments: bench.cli.study): score the variants (unless --report-only), then
    write the report."""
    proto = load_protocol(a.protocol)
    cfg = config_from_args(a, proto)
    if not a.report_only:
        run_variants(cfg, proto)
        if len(load_board(cfg.results, current_hash(proto))[0]) < 3:
            print(f"fewer than 3 variants filed under {_display(cfg.results)}: no report yet")
            return 0
    md = write_report(cfg, proto)
    if not a.quiet:
        print(f"report: {_display(md)}, {_display(cfg.out.with_suffix('.png'))}")
    return 0
