"""Verdicts per task (world-v3 on): what a set's claimed labels train, one task at a time, and what that is worth.

A protocol's `downstream.tasks` names its tasks: expression recognition (Cohen's kappa of the recognizer's expression
predictions), AU occurrence on a named AU list (per-AU kappa) and AU intensity on a named list (per-AU ICC(A,1),
absolute agreement, of the recognizer's intensity head). Rules (docs/verdicts.md):

- A set is never scored for a label it does not claim: a task whose labels the set never claims is not applicable
  (no value, never a zero), and an AU task scores only the AUs of its list that the set labels ("coverage").
- Each task's value for one replicate is the area under its score over log2(scale) divided by the log2 range (the
  curve's mean height), per AU for AU tasks, then averaged over the AUs scored. The board compares entries of one
  task on the AUs every ranked entry labels (`summary(entry, columns)`), beside each entry's own coverage.
- Replicates: the set's rows are `replicates` consecutive blocks, each its own condition draw with its own
  generation seeds, trained with its own training seed, so the Student t interval over blocks (and the board's
  paired test over blocks, which share conditions and seeds across entries) resamples what a regeneration changes.
- A real-image equivalent: the number of real labelled images whose real-only recognizer scores what the set's
  largest run (one block) scores, read off the real-only curve of the protocol (`downstream.real_curve`: the same
  training at each size, averaged over seeds, made monotone), with the interval of the value mapped through it;
  "< n" / "> n" where it leaves the measured range. The curve's own seed spread is not in that interval.

Everything here is a pure function of `run_downstream` output or of the stored results entries. The task kinds
(`TASK_KINDS`) and the check of a protocol's tasks are bench.downstream.spec's (the protocol loader reads them
without torch).
"""

from __future__ import annotations

import math

import numpy as np

from bench.core.protocol import DownstreamSettings, TaskSpec
from bench.data.aus import AU_COLUMNS, AU_INDEX, subset
from bench.downstream.harness import area_under_log_curve
from bench.downstream.harness import seed_ci as t_interval  # mean and Student t interval of independent values
from bench.downstream.spec import TASK_KINDS, scale_name
from bench.metrics.stats import clopper_pearson

EXPRESSION = "expression"  # the one column of the expression task


def columns(task: TaskSpec) -> list[str]:
    """The task's columns: AU column names of its list, or ["expression"]."""
    return [EXPRESSION] if task.kind == "expression" else [AU_COLUMNS[AU_INDEX[a]] for a in subset(task.aus)]


def _column_values(trainings: dict, task: TaskSpec, cols: list[str]) -> dict[str, list[float]]:
    """{column: [per training]} of one group's trainings ({field: [per training]})."""
    f = TASK_KINDS[task.kind].field
    if task.kind == "expression":
        return {EXPRESSION: [float(v) for v in trainings[f]]}
    return {c: [float(v[AU_INDEX[int(c[2:])]]) for v in trainings[f]] for c in cols}


def _claimed(raw: dict, task: TaskSpec, cols: list[str]) -> list[str]:
    """Columns the set labels in every training of every replicate block (each scale and the mixed run: a label
    present in a block but not in its first rows is not claimed, so no task value is ever NaN)."""
    runs = [*raw["synthetic"].values(), raw["mixed"]]
    if task.kind == "expression":
        return [EXPRESSION] if all(all(t["trained_expression"]) for t in runs) else []
    return [c for c in cols if all(tr[AU_INDEX[int(c[2:])]] for t in runs for tr in t["trained_aus"])]


def paired_t(a, b) -> float:
    """Two-sided p-value of a paired t test of a - b over replicates (both entries' block r answers the same
    conditions with the same training seed): 1 when they are equal, 0 when the differences are equal and nonzero."""
    from scipy import stats

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if len(d) < 2 or not np.isfinite(d).all():
        return float("nan")
    sd = d.std(ddof=1)
    if sd == 0:
        return 1.0 if d.mean() == 0 else 0.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


def invert_curve(sizes, curve, value: float) -> tuple[float, str]:
    """Real images a real-only recognizer needs to score `value`: (n, "" | "<" | ">"), read on the curve (sizes
    ascending, values per size made monotone by a running maximum) by linear interpolation in log2(size); below the
    first point "<" with the first size, above the curve's maximum ">" with the largest size."""
    n = np.asarray(sizes, np.float64)
    u = np.maximum.accumulate(np.asarray(curve, np.float64))
    if not np.isfinite(value) or not np.isfinite(u).all():
        return float("nan"), ""
    if value < u[0]:
        return float(n[0]), "<"
    if value > u[-1]:
        return float(n[-1]), ">"
    j = int(np.argmax(u >= value))
    if j == 0 or u[j] == u[j - 1]:
        return float(n[j]), ""
    f = (value - u[j - 1]) / (u[j] - u[j - 1])
    return float(2 ** (np.log2(n[j - 1]) + f * (np.log2(n[j]) - np.log2(n[j - 1])))), ""


def _clean(v):
    """NaN -> None, recursively (results JSON)."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def task_entry(raw: dict, s: DownstreamSettings, task: TaskSpec, n1: int) -> dict:
    """The results entry fields of one task (before `summary`): per column and replicate the task value, the score
    of the largest run and of the mixed run; the real-only curve and the real baseline of the mixed run's size, per
    column and seed; which columns the set labels."""
    cols = columns(task)
    largest = scale_name(max(s.scales))
    claimed = _claimed(raw, task, cols)
    per_scale = {c: _column_values(raw["synthetic"][scale_name(c)], task, cols) for c in s.scales}
    reps = len(raw["synthetic"][largest][TASK_KINDS[task.kind].field])
    per_col = {c: [area_under_log_curve(list(s.scales), [per_scale[sc][c][r] for sc in s.scales])
                   for r in range(reps)] for c in claimed}
    base = raw.get("baselines", {})
    sizes = sorted(int(k.split(":", 1)[1]) for k in base if k.startswith("curve:"))
    curve = {c: [_column_values(base[f"curve:{n}"], task, cols)[c] for n in sizes] for c in claimed}
    same = base.get("same_size")
    return {"task": task.kind, "task_aus": cols if task.kind != "expression" else None,
            "claimed": bool(claimed), "columns": claimed,
            "coverage": [len(claimed), len(cols)], "per_column": per_col,
            "per_column_by_scale": {scale_name(sc): {c: per_scale[sc][c] for c in claimed} for sc in s.scales},
            "largest": {c: per_scale[max(s.scales)][c] for c in claimed},
            "synthetic_images": int(round(max(s.scales) * n1)),
            "mixed": {c: _column_values(raw["mixed"], task, cols)[c] for c in claimed},
            "real_same_size": ({c: _column_values(same, task, cols)[c] for c in claimed} if same else None),
            "real_same_size_n": same["n"] if same else None,
            "real_curve": {"sizes": sizes, "per_column": curve}}


def summary(entry: dict, cols: list[str] | None = None, alpha: float = 0.05) -> dict:
    """One task's numbers on `cols` (default: every column the entry labels): value per replicate (the mean over
    columns), its mean and t interval over replicates, the real-image equivalent of the largest run with the value's
    interval mapped through the real-only curve, and the mixed run's gain over real-only of the same size."""
    cols = list(entry["columns"] if cols is None else cols)
    if not cols or any(c not in entry["per_column"] for c in cols):
        return {"value": None}

    def over(block: dict) -> np.ndarray:  # mean over cols of {col: [per rep or per seed]}
        return np.mean([[_num(v) for v in block[c]] for c in cols], axis=0)

    per_rep = over(entry["per_column"])
    value, ci = t_interval(per_rep, alpha)
    out = {"value": value, "ci95": list(ci) if ci else None, "per_replicate": per_rep.tolist(), "columns": cols}
    big, big_ci = t_interval(over(entry["largest"]), alpha)
    rc = entry.get("real_curve") or {}
    if rc.get("sizes"):
        curve = np.mean([[np.mean([_num(v) for v in per_seed]) for per_seed in rc["per_column"][c]] for c in cols], 0)
        n, side = invert_curve(rc["sizes"], curve, big)
        lo, lo_side = invert_curve(rc["sizes"], curve, big_ci[0]) if big_ci else (n, side)
        hi, hi_side = invert_curve(rc["sizes"], curve, big_ci[1]) if big_ci else (n, side)
        out["real_equivalent"] = {"images": n, "side": side, "ci95": [lo, hi], "ci_sides": [lo_side, hi_side],
                                  "synthetic_images": entry["synthetic_images"], "largest_value": big,
                                  "real_curve": {"sizes": rc["sizes"], "values": curve.tolist()}}
    if entry.get("real_same_size"):
        mixed, same = over(entry["mixed"]), over(entry["real_same_size"])
        out["mixed"] = {"value": float(mixed.mean()), "real_same_size": float(same.mean()),
                        "gain_vs_real_same_size": float(mixed.mean() - same.mean()),
                        "real_same_size_n": entry["real_same_size_n"]}
    return out


def task_metrics(raw: dict, s: DownstreamSettings, n1: int, family: str = "downstream") -> dict[str, dict]:
    """Results entries of the protocol's tasks: value = the task value on the columns the set labels (mean over
    replicate blocks), ci95 = Student t over blocks; an unclaimed task has value null and `claimed` false."""
    from bench.core.results import metric

    out = {}
    for task in s.tasks or ():
        e = task_entry(raw, s, task, n1)
        sm = summary(e)
        reps = len(next(iter(raw["synthetic"].values()))["trained_aus"])
        ci = sm.get("ci95")
        out[TASK_KINDS[task.kind].metric] = metric(
            sm["value"] if sm["value"] is not None else float("nan"), reps, True, family,
            tuple(ci) if ci else None, **_clean({**e, "summary": {k: v for k, v in sm.items() if k != "value"}}))
    return out


def interval_coverage(values: np.ndarray, truth_from: np.ndarray | None = None) -> dict:
    """Share of rows (runs) whose t interval over its columns covers the leave-one-out mean of `truth_from`'s row
    means (default: the rows themselves)."""
    means = (values if truth_from is None else truth_from).mean(1)
    hits, widths = [], []
    for i, row in enumerate(values):
        others = np.delete(means, i)  # never the run's own draw
        truth = float(others[np.isfinite(others)].mean())
        _, ci = t_interval(row)
        hits.append(ci is not None and ci[0] <= truth <= ci[1])  # a run without an interval covers nothing
        widths.append(np.nan if ci is None else ci[1] - ci[0])
    k = int(sum(hits))
    return {"covered": k, "runs": len(hits), "share": k / len(hits), "ci95": clopper_pearson(k, len(hits)),
            "mean_width": float(np.nanmean(widths)), "sd_of_run_means": float(np.nanstd(means, ddof=1))}
