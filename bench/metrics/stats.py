"""Bootstrap confidence intervals for any metric of row-aligned arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bootstrap_ci(stat: Callable[..., float], *arrays: np.ndarray, n_boot: int = 200, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of `stat(*arrays)` over `n_boot` joint resamples of rows (seeded)."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("arrays must have the same number of rows")
    rng = np.random.default_rng(seed)
    vals = np.array([stat(*(a[idx] for a in arrays)) for idx in (rng.integers(0, n, n) for _ in range(n_boot))])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return float("nan"), float("nan")
    return float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2))
