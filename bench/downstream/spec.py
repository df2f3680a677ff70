"""What a protocol's downstream and data sections name, produce and must satisfy, without torch: the harness
version, the metric kinds and names, world-v3's task kinds, and the checks the protocol loader runs
(bench.scoring.protocols). The harness (bench.downstream.harness), the tasks' arithmetic (bench.downstream.tasks)
and the real-data readers (bench.downstream.realdata) read these from here, so loading a protocol never imports
them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.core.errors import DataError
from bench.core.protocol import DataSettings, DownstreamSettings
from bench.core.registry import RECOGNIZERS
from bench.data.aus import SUBSETS
from bench.downstream.backbones import BACKBONES

VERSION = "5"  # bump when training or evaluation changes results (3: validation thresholds, kappa kinds, decisions;
#               4: per-AU kappa and ICC, claimed-only scoring for protocols with tasks; 5: the tasks' per-AU ICC is
#               ICC(A,1), absolute agreement). Enters world-v3+ hashes.
# What each trained recognizer is tested on. Metric names: downstream_<kind>_<scale>x (seed mean at one size), _mixed
# (real 1x + synthetic), _slope (gain per doubling of a log2-linear fit); each kind is registered as a suffixed metric,
# with its labels and documentation, in bench.downstream.kinds.
BASE_KINDS = ("expression_accuracy", "expression_mca", "au_f1", "au_icc")
# world-v3 on, what each training also records for the tasks (bench.downstream.tasks): per-AU kappa and ICC (17,
# NaN where the set labels no such AU) and which labels it trained on
TASK_FIELDS = ("au_kappa_by_au", "au_icc_by_au", "trained_aus", "trained_expression")
CHANCE_KINDS = ("expression_kappa", "au_kappa", "utility")
KINDS = BASE_KINDS + CHANCE_KINDS


def kinds(s: DownstreamSettings) -> tuple[str, ...]:
    """The kinds a protocol's settings produce: chance-corrected ones need a validation split (thresholds)."""
    return KINDS if s.val is not None else BASE_KINDS


def scale_name(scale: float) -> str:
    return f"{scale:g}x"


def suffixes(s: DownstreamSettings) -> list[str]:
    """The metric name suffixes a protocol's downstream settings produce, in order: each scale, mixed, slope."""
    return [scale_name(c) for c in s.scales] + ["mixed", "slope"]


def metric_names(s: DownstreamSettings) -> list[str]:
    """Every downstream metric of the harness's kinds a protocol's settings produce (task metrics apart)."""
    names = [f"downstream_{k}_{sfx}" for sfx in suffixes(s) for k in kinds(s)]
    # with tasks (world-v3 on) the verdicts are the task metrics (task_metric_names), not one mixed value
    return names + (["downstream_training_value"] if s.val is not None and s.tasks is None else [])


@dataclass(frozen=True)
class TaskKind:
    metric: str  # the results metric of the task
    gate: str  # the claimed-vs-judge metric whose lower 95% bound gates an entry in this task
    field: str  # what each training records for it (bench.downstream.harness.evaluate): a number or (17,) per AU
    title: str  # the board's heading
    score: str  # the score, in words


TASK_KINDS: dict[str, TaskKind] = {
    "expression": TaskKind("task_expression", "expression_kappa", "expression_kappa", "Expression recognition",
                           "Cohen's kappa of the recognizer's expression predictions"),
    "au_occurrence": TaskKind("task_au_occurrence", "au_kappa", "au_kappa_by_au", "AU occurrence",
                              "per-AU Cohen's kappa of the recognizer's AU decisions"),
    "au_intensity": TaskKind("task_au_intensity", "au_kappa", "au_icc_by_au", "AU intensity",
                             "per-AU ICC(A,1) (absolute agreement) of the recognizer's intensity head"),
}


def task_metric_names(s: DownstreamSettings) -> list[str]:
    """The task metrics a protocol's downstream settings produce."""
    return [TASK_KINDS[t.kind].metric for t in s.tasks or ()]


def check_settings(s: DownstreamSettings, where: str | os.PathLike) -> None:
    """What the harness relies on beyond types: a registered recognizer, positive scales, distinct seeds, named AU
    subsets (one clear error otherwise)."""
    if s.recognizer not in RECOGNIZERS:
        raise DataError(where, f"downstream recognizer {s.recognizer!r} unknown ({', '.join(RECOGNIZERS.names())})")
    if s.pretrained is not None:
        if s.pretrained not in BACKBONES:
            raise DataError(where, f"downstream pretrained {s.pretrained!r} unknown ({', '.join(sorted(BACKBONES))})")
        if (BACKBONES[s.pretrained].recognizer, 64) != (s.recognizer, s.width):
            raise DataError(where, f"downstream pretrained {s.pretrained} initialises recognizer "
                                   f"{BACKBONES[s.pretrained].recognizer} at width 64, not {s.recognizer} at {s.width}")
    if not s.scales or any(c <= 0 for c in s.scales) or s.mixed_scale <= 0:
        raise DataError(where, "downstream scales must be positive numbers")
    if s.real_train.n is not None and any(round(c * s.real_train.n) < 1 for c in (*s.scales, s.mixed_scale)):
        raise DataError(where, f"downstream scales {list(s.scales)} of {s.real_train.n} real images leave a run empty")
    if (s.steps is None) == (s.epochs is None):
        raise DataError(where, "downstream needs exactly one of steps (fixed) or epochs (passes over the data)")
    if (s.steps is not None and s.steps < 1) or (s.epochs is not None and s.epochs <= 0) or (
            s.max_steps is not None and (s.max_steps < 1 or s.epochs is None)):
        raise DataError(where, "downstream steps/epochs must be positive; max_steps (positive) goes with epochs")
    if not s.seeds or len(set(s.seeds)) != len(s.seeds):
        raise DataError(where, "downstream seeds must be distinct and at least one")
    for k in ("au_f1", "au_icc"):
        if getattr(s, k) not in SUBSETS:
            raise DataError(where, f"downstream {k} {getattr(s, k)!r} is not a named AU subset")


def check_tasks(s: DownstreamSettings, where) -> None:
    """Tasks need replicates (their intervals), a validation split (AU thresholds), one task per kind, known kinds
    and, for AU tasks, a named AU subset; replicates need one seed per block."""
    if s.replicates is not None and (s.replicates < 2 or len(s.seeds) != s.replicates):
        raise DataError(where, f"downstream replicates ({s.replicates}) must be at least 2 and match the seeds "
                               f"({len(s.seeds)}): block r trains with seeds[r]")
    if s.tasks is None:
        return
    if s.replicates is None or s.val is None or not s.real_curve:
        raise DataError(where, "downstream tasks need replicates, a validation split (val) and a real_curve")
    if sorted(s.real_curve) != list(s.real_curve) or s.real_curve[0] < 1:
        raise DataError(where, "downstream real_curve must list positive sizes in increasing order")
    kinds = [t.kind for t in s.tasks]
    for t in s.tasks:
        if t.kind not in TASK_KINDS:
            raise DataError(where, f"task kind {t.kind!r} unknown ({', '.join(TASK_KINDS)})")
        if (t.kind == "expression") != (t.aus is None) or (t.aus is not None and t.aus not in SUBSETS):
            raise DataError(where, f"task {t.kind}: AU tasks name a subset of {', '.join(SUBSETS)}; the "
                                   "expression task names none")
    if len(set(kinds)) != len(kinds):
        raise DataError(where, "downstream tasks: one task of each kind")


def check_data_settings(d: DataSettings, where) -> None:
    """What the real-data readers rely on beyond types: BP4D's and DISFA's subject-exclusive split, a positive frame
    stride."""
    if d.reader in ("bp4d", "disfa"):
        sp = d.split
        if sp is None or sp.folds < 2 or not 0 <= sp.test_fold < sp.folds:
            raise DataError(where, "data.split needs folds >= 2 and 0 <= test_fold < folds (subject-exclusive)")
    if d.frame_stride < 1:
        raise DataError(where, f"data.frame_stride must be an integer >= 1, not {d.frame_stride!r}")
