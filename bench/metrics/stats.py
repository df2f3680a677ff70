"""Bootstrap confidence intervals: one-sample (rows of aligned arrays resampled jointly) and two-sample (two
independent sets, each resampled on its own), with percentile, basic and BCa intervals.

Pure functions on NumPy arrays, seeded. Which interval each metric uses, what it is meant to cover and its
measured coverage: docs/intervals.md.

Two-sample resampling: the rows of set 1 are redrawn with replacement to n1 rows and, independently, the rows
of set 2 to n2 rows (the generated set and the reference are both samples; resampling only one treats the other
as known exactly and gives too narrow an interval). A resample is given either as row indices or as the count of
each original row in it (`two_sample_counts`, the same draws as `two_sample_indices`), so a statistic written on
weighted rows (weighted means and covariances) can skip materialising the resampled arrays.

BCa (Efron 1987; Efron & Tibshirani 1993, ch. 14) needs an acceleration from a jackknife. With two samples we
use a *grouped* jackknife: each set's rows are split into `groups` random groups and the statistic is recomputed
with one group of one set left out (2 x groups evaluations instead of n1 + n2). The acceleration pools both
sets' leave-one-group-out deviations, a = sum D^3 / (6 (sum D^2)^1.5) with D = (mean over that set's groups) -
(value without the group); a group's deviation is the sum of its rows' influence, so sums of cubes and squares
over groups estimate the same third and second cumulants of the statistic's linear part as single-row
deletions (less precisely; a is a small correction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import ndtr, ndtri

METHODS = ("percentile", "basic", "bca")


# ------------------------------------------------------------------------------------------- one sample


def resample_indices(n: int, n_boot: int = 200, seed: int = 0):
    """The row indices of `n_boot` one-sample resamples, one (n,) array at a time (seeded): the draws every
    one-sample bootstrap here makes (`bootstrap_ci`, `bootstrap_counts`)."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, n, n) for _ in range(n_boot))


def finite_percentiles(vals: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """(alpha/2, 1 - alpha/2) quantiles of the finite replicates; (nan, nan) when none is finite."""
    vals = np.asarray(vals, np.float64)
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return float("nan"), float("nan")
    return float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2))


def bootstrap_ci(stat: Callable[..., float], *arrays: np.ndarray, n_boot: int = 200, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of `stat(*arrays)` over `n_boot` joint resamples of rows (seeded).

    Resampled: the rows, jointly across `arrays` (row i of each array stays together). Replicates that are not
    finite (e.g. F1 of a resample without positives) are left out; none finite gives (nan, nan).
    """
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("arrays must have the same number of rows")
    vals = np.array([stat(*(a[idx] for a in arrays)) for idx in resample_indices(n, n_boot, seed)])
    return finite_percentiles(vals, alpha)


def bootstrap_counts(n: int, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """The resamples of `bootstrap_ci(..., n_boot=n_boot, seed=seed)` on n rows as row counts (B, n) float64:
    count[b, i] = how often row i is in resample b (the same draws)."""
    return counts(np.stack(list(resample_indices(n, n_boot, seed))), n) if n_boot else np.zeros((0, n))


def bootstrap_ci_counts(stat: Callable[..., np.ndarray], *arrays: np.ndarray, w: np.ndarray, alpha: float = 0.05
                        ) -> tuple[float, float]:
    """`bootstrap_ci` for a statistic written on row counts: `stat(*arrays, w)` takes the counts w (B, n) of every
    resample (`bootstrap_counts`) and returns the B replicates at once (a weighted sum over rows is one matrix
    product instead of B fancy-indexed copies). Same replicates, same interval, given the same draws."""
    return finite_percentiles(stat(*arrays, w), alpha)


# ------------------------------------------------------------------------------------------- two samples


def two_sample_indices(n1: int, n2: int, n_boot: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of `n_boot` two-sample resamples: (idx1 (B, n1), idx2 (B, n2)), each set's rows drawn with
    replacement, independently of the other set's (seeded)."""
    if n1 < 1 or n2 < 1:
        raise ValueError(f"both sets need rows, got {n1} and {n2}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n1, (n_boot, n1)), rng.integers(0, n2, (n_boot, n2))


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of n original rows occurs in each resample: idx (B, m) -> float counts (B, n)."""
    out = np.zeros((len(idx), n))
    for b, row in enumerate(idx):
        out[b] = np.bincount(row, minlength=n)
    return out


def two_sample_counts(n1: int, n2: int, n_boot: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The resamples of `two_sample_indices(n1, n2, n_boot, seed)` as row counts (w1 (B, n1), w2 (B, n2));
    w1[b] sums to n1 and w2[b] to n2."""
    i1, i2 = two_sample_indices(n1, n2, n_boot, seed)
    return counts(i1, n1), counts(i2, n2)


def bootstrap_two_sample(stat: Callable[[np.ndarray, np.ndarray], float], a: np.ndarray, b: np.ndarray,
                         n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates (B,) of `stat(a, b)`: the rows of `a` and, independently, the rows of `b` are
    redrawn with replacement, each to its own size (the draws of `two_sample_indices`)."""
    i1, i2 = two_sample_indices(len(a), len(b), n_boot, seed)
    return np.array([stat(a[r1], b[r2]) for r1, r2 in zip(i1, i2)], dtype=np.float64)


def group_weights(n: int, groups: int = 20, seed: int = 0) -> np.ndarray:
    """0/1 weights (G, n) that leave out one of G random, near-equal groups of the n rows each (seeded);
    G = min(groups, n)."""
    g = min(groups, n)
    if g < 2:
        raise ValueError(f"a jackknife needs at least 2 rows, got {n}")
    w = np.ones((g, n))
    for k, part in enumerate(np.array_split(np.random.default_rng(seed).permutation(n), g)):
        w[k, part] = 0.0
    return w


def jackknife_two_sample(stat: Callable[[np.ndarray, np.ndarray], float], a: np.ndarray, b: np.ndarray,
                         groups: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grouped jackknife of `stat(a, b)`: (values with one group of a's rows left out (G,), the same for b (G,)).
    Groups as `group_weights(len(a), groups, seed)` and `group_weights(len(b), groups, seed + 1)`."""
    ga, gb = group_weights(len(a), groups, seed), group_weights(len(b), groups, seed + 1)
    ja = np.array([stat(a[w > 0], b) for w in ga], dtype=np.float64)
    jb = np.array([stat(a, b[w > 0]) for w in gb], dtype=np.float64)
    return ja, jb


# ------------------------------------------------------------------------------------------- intervals


def acceleration(*jackknife: np.ndarray) -> float:
    """BCa acceleration from jackknife values, one array per independent sample (leave-one-row-out or
    leave-one-group-out): a = sum D^3 / (6 (sum D^2)^1.5), D = mean of that sample's values - value; 0 when the
    values do not vary."""
    d = np.concatenate([np.mean(j) - np.asarray(j, np.float64) for j in jackknife])
    s2 = float((d * d).sum())
    return float((d ** 3).sum() / (6.0 * s2 ** 1.5)) if s2 > 0 else 0.0


def percentile_interval(reps: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """(alpha/2, 1 - alpha/2) quantiles of the bootstrap replicates."""
    reps = np.asarray(reps, np.float64)
    if not np.isfinite(reps).all():
        return float("nan"), float("nan")
    return float(np.quantile(reps, alpha / 2)), float(np.quantile(reps, 1 - alpha / 2))


def basic_interval(theta: float, reps: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Basic (reverse percentile) interval (2 theta - q_hi, 2 theta - q_lo): the replicates' spread around
    theta, mirrored. It corrects the estimator's bias as far as the bootstrap sees it."""
    lo, hi = percentile_interval(reps, alpha)
    return 2.0 * theta - hi, 2.0 * theta - lo


def bca_interval(theta: float, reps: np.ndarray, jackknife: Sequence[np.ndarray], alpha: float = 0.05
                 ) -> tuple[float, float]:
    """Bias-corrected and accelerated interval: replicate quantiles at levels Phi(z0 + (z0 + z) / (1 - a (z0 + z)))
    for z = Phi^-1(alpha/2), Phi^-1(1 - alpha/2); z0 = Phi^-1(share of replicates below theta, ties half),
    a = `acceleration(*jackknife)`. (nan, nan) where BCa is undefined: every replicate on one side of theta."""
    reps = np.asarray(reps, np.float64)
    if not np.isfinite(reps).all() or not len(reps):
        return float("nan"), float("nan")
    p = ((reps < theta).sum() + 0.5 * (reps == theta).sum()) / len(reps)
    if p <= 0.0 or p >= 1.0:
        return float("nan"), float("nan")
    z0, a = float(ndtri(p)), acceleration(*jackknife)
    levels = []
    for q in (alpha / 2, 1 - alpha / 2):
        z = z0 + float(ndtri(q))
        levels.append(float(ndtr(z0 + z / (1.0 - a * z))))
    return float(np.quantile(reps, levels[0])), float(np.quantile(reps, levels[1]))


def interval(method: str, theta: float, reps: np.ndarray, jackknife: Sequence[np.ndarray] = (),
             alpha: float = 0.05) -> tuple[float, float]:
    """`percentile_interval`, `basic_interval` or `bca_interval` by name."""
    if method == "percentile":
        return percentile_interval(reps, alpha)
    if method == "basic":
        return basic_interval(theta, reps, alpha)
    if method == "bca":
        if not jackknife:
            raise ValueError("a BCa interval needs jackknife values")
        return bca_interval(theta, reps, jackknife, alpha)
    raise ValueError(f"unknown interval method {method!r}; known: {', '.join(METHODS)}")



def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) 1 - alpha interval of a binomial share k / n."""
    from scipy.stats import beta

    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi
