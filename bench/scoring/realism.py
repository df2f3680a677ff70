"""Realism: the scored set's judge features against the protocol's reference images (FD, KID,
precision/recall, density/coverage; formulas in bench.metrics.realism)."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import faces as F
from bench.metrics import realism as R
from bench.scoring.context import NotApplicable, ScoreInputs, Value


def _features(x: ScoreInputs) -> tuple[np.ndarray, np.ndarray]:
    """(reference (M, D), generated (N, D)) judge features in float64."""
    return x.memo("features", lambda: (x.ref["features"].astype(np.float64), x.gen["features"].astype(np.float64)))


def _ci_method(method: str, n_boot: int) -> str:
    """What an interval resamples, for the results' `ci_method` field."""
    return {"basic": "basic", "percentile": "percentile", "bca": "BCa"}[method] + \
        f" bootstrap over both sets ({n_boot})"


@register_metric("fd_world", family="realism", higher_is_better=False, label="FD", title="FD (world judge)",
                 reads=("features",))
def fd(x: ScoreInputs) -> Value:
    """Frechet distance; interval for the population FD from a bootstrap over both sets (reference and generated
    rows resampled independently), by the method the coverage check chose (bench.metrics.realism.fd_interval,
    docs/intervals.md); the protocol's bootstrap settings are its knobs."""
    fr, fg = _features(x)
    corrected, ci = R.fd_summary(fr, fg, **x.boot)
    return Value(R.fd_from_features(fr, fg), x.n, ci,
                 {"n_reference": len(fr), "ci_method": _ci_method(R.FD_CI_METHOD, x.boot["n_boot"]),
                  "ci_target": "population FD (the value is the plug-in FD_n, biased upward: often above it)",
                  "bias_corrected": corrected})


@register_metric("kid_world", family="realism", higher_is_better=False, reads=("features",))
def kid(x: ScoreInputs) -> Value:
    """Unbiased polynomial-kernel MMD^2 over seeded subsets; interval for the population MMD^2 from a bootstrap of
    the complete U-statistic over both sets (bench.metrics.realism.kid_interval, docs/intervals.md)."""
    fr, fg = _features(x)
    rz = x.proto.realism
    v, _ = R.kid(fr, fg, rz.kid_subsets, rz.kid_subset_size, seed=x.proto.bootstrap.seed)
    return Value(v, x.n, R.kid_interval(fr, fg, **x.boot),
                 {"n_reference": len(fr), "ci_method": _ci_method(R.KID_CI_METHOD, x.boot["n_boot"]) +
                  ", complete U-statistic", "ci_target": "population MMD^2"})


def _pr(x: ScoreInputs) -> tuple[float, float]:
    fr, fg = _features(x)
    return x.memo("precision_recall", lambda: R.precision_recall(fr, fg, k=x.proto.realism.k_pr))


def _dc(x: ScoreInputs) -> tuple[float, float]:
    fr, fg = _features(x)
    return x.memo("density_coverage", lambda: R.density_coverage(fr, fg, k=x.proto.realism.k_dc))


@register_metric("precision", family="realism", higher_is_better=True, label="prec.", reads=("features",))
def precision(x: ScoreInputs) -> Value:
    return Value(_pr(x)[0], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("recall", family="realism", higher_is_better=True, label="recall", reads=("features",))
def recall(x: ScoreInputs) -> Value:
    return Value(_pr(x)[1], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("density", family="realism", higher_is_better=True, reads=("features",))
def density(x: ScoreInputs) -> Value:
    return Value(_dc(x)[0], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("coverage", family="realism", higher_is_better=True, reads=("features",))
def coverage(x: ScoreInputs) -> Value:
    return Value(_dc(x)[1], x.n, extra={"n_reference": len(x.ref["features"])})


# the photograph protocols (faces-v1) read the same statistics on face-api's identity descriptor
fd_identity = register_metric("fd_identity", family="realism", higher_is_better=False, label="FD id",
                              title="FD (identity descriptor)", reads=("features",))(fd)
kid_identity = register_metric("kid_identity", family="realism", higher_is_better=False,
                               title="KID (identity descriptor)", reads=("features",))(kid)


@register_metric("face_yield", family="realism", higher_is_better=True, label="face yield",
                 title="face yield (one face per image)")
def face_yield(x: ScoreInputs) -> Value:
    """Share of the source images with exactly one detected face; Wilson interval (a binomial share)."""
    counts = x.facts.get("face_counts")
    if counts is None:
        raise NotApplicable("the set records no face counts (import it with `augen import`)")
    out = F.face_yield(counts)
    return Value(out["value"], out["n"], tuple(out["ci95"]),
                 {"none": out["none"], "several": out["several"], "ci_method": "Wilson score interval"})
