"""Realism: the scored set's judge features against the protocol's reference images (FD, KID,
precision/recall, density/coverage; formulas in bench.metrics.realism)."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import realism as R
from bench.metrics.stats import bootstrap_ci
from bench.scoring.context import ScoreInputs, Value


def _features(x: ScoreInputs) -> tuple[np.ndarray, np.ndarray]:
    """(reference (M, D), generated (N, D)) judge features in float64."""
    return x.memo("features", lambda: (x.ref["features"].astype(np.float64), x.gen["features"].astype(np.float64)))


@register_metric("fd_world", family="realism", higher_is_better=False, label="FD", title="FD (world judge)",
                 reads=("features",))
def fd(x: ScoreInputs) -> Value:
    """Frechet distance; interval: percentile bootstrap over the generated rows (reference fixed)."""
    fr, fg = _features(x)
    return Value(R.fd_from_features(fr, fg), x.n, bootstrap_ci(R.fd_against(fr), fg, **x.boot),
                 {"n_reference": len(fr)})


@register_metric("kid_world", family="realism", higher_is_better=False, reads=("features",))
def kid(x: ScoreInputs) -> Value:
    """Unbiased polynomial-kernel MMD^2 over seeded subsets; interval: mean +- 1.96 sd / sqrt(subsets)."""
    fr, fg = _features(x)
    rz = x.proto.realism
    v, sd = R.kid(fr, fg, rz.kid_subsets, rz.kid_subset_size, seed=x.proto.bootstrap.seed)
    half = 1.96 * sd / np.sqrt(rz.kid_subsets)
    return Value(v, x.n, (v - half, v + half))


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
