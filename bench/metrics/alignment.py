"""Label-alignment metrics: claimed labels vs what a judge reads from the image.

Pure functions on arrays (n, k) with NaN = not labelled (those entries are left out per column).
Occurrence: per-AU F1 and its unweighted mean, Cohen's kappa and ROC-AUC as chance-corrected figures
(raw F1 of "always present" is ~0.6 when an AU is in half the samples). Intensity: ICC(3,1), Pearson
r, MAE. Expressions: accuracy and mean per-class accuracy.
"""

from __future__ import annotations

import numpy as np


def _columns(a: np.ndarray, b: np.ndarray):
    """Yield (column, a_k, b_k) with rows where either is NaN dropped."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    a2, b2 = a.reshape(len(a), -1), b.reshape(len(b), -1)
    for k in range(a2.shape[1]):
        ok = ~(np.isnan(a2[:, k]) | np.isnan(b2[:, k]))
        yield k, a2[ok, k], b2[ok, k]


def _binary(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, p, ok (n, k) bool, n_ok (k,)): labels >= 0.5 and the rows where neither is NaN, every column at once
    (bootstraps call these per resample; counts are integers, so the figures equal the per-column loop's)."""
    a, b = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    ok = ~(np.isnan(a) | np.isnan(b))
    return (a >= 0.5) & ok, (b >= 0.5) & ok, ok, ok.sum(0)


def binary_counts(true: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of binary labels (n, k): (both positive, true positive, pred positive, agreeing, labelled) row
    counts, each (k,) float. With row counts `w` (B, n) of B resamples (`bench.metrics.stats.bootstrap_counts`):
    each (B, k), the counts of every resample from one matrix product. Counts are integers, so the F1 and kappa
    formulas below give bit for bit what they give on a resampled copy of the rows."""
    t, p, ok, _ = _binary(true, pred)
    k = t.shape[1]
    x = np.concatenate([t & p, t, p, (t == p) & ok, ok], axis=1).astype(np.float64)  # (n, 5k)
    c = x.sum(0) if w is None else np.asarray(w, np.float64) @ x  # (5k,) or (B, 5k)
    return tuple(c[..., i * k:(i + 1) * k] for i in range(5))


def f1_from_counts(both: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """F1 = 2 |T & P| / (|T| + |P|) from counts (any shape); NaN where neither has a positive."""
    denom = t + p
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2.0 * both / denom, np.nan)


def kappa_from_counts(agree: np.ndarray, t: np.ndarray, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Cohen's kappa of binary labels (p_o - p_e) / (1 - p_e) from counts (any shape): p_o = agree / n, p_e from
    the marginals t / n and p / n; NaN where nothing is labelled or p_e = 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        po = agree / n
        tm, pm = t / n, p / n
        pe = tm * pm + (1 - tm) * (1 - pm)
        return np.where((n > 0) & (pe < 1), (po - pe) / (1 - pe), np.nan)


def f1_per_column(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 of binary labels per column (n, k); NaN where a column has no labelled rows or no positives at all."""
    both, t, p, _, _ = binary_counts(true, pred)
    return f1_from_counts(both, t, p)


def f1_micro(true: np.ndarray, pred: np.ndarray) -> float | None:
    """Micro F1 of binary labels (n, k): true positives, false positives and false negatives pooled over every
    labelled cell; None when no cell is positive in either."""
    t, p, _, _ = _binary(true, pred)
    denom = int(t.sum() + p.sum())
    return 2.0 * int((t & p).sum()) / denom if denom else None


def kappa_per_column(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Cohen's kappa of binary labels per column: (p_o - p_e) / (1 - p_e)."""
    both, t, p, agree, n = binary_counts(true, pred)
    return kappa_from_counts(agree, t, p, n)


def mean_f1_resampled(true: np.ndarray, pred: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) mean per-column F1 (`nanmean_rows`) of each resample given by row counts `w` (B, n)."""
    both, t, p, _, _ = binary_counts(true, pred, w)
    return nanmean_rows(f1_from_counts(both, t, p))


def mean_kappa_resampled(true: np.ndarray, pred: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) mean per-column kappa (`nanmean_rows`) of each resample given by row counts `w` (B, n)."""
    _, t, p, agree, n = binary_counts(true, pred, w)
    return nanmean_rows(kappa_from_counts(agree, t, p, n))


def roc_auc_per_column(true: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC-AUC of scores against binary labels per column (Mann-Whitney U with tie-averaged ranks)."""
    from scipy.stats import rankdata

    out = []
    for _, t, s in _columns(true, score):
        t = t >= 0.5
        n_pos, n_neg = t.sum(), (~t).sum()
        if n_pos == 0 or n_neg == 0:
            out.append(np.nan)
            continue
        r = rankdata(s)
        out.append((r[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return np.array(out)


def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = []
    for _, x, y in _columns(a, b):
        if len(x) < 2:
            out.append(np.nan)
            continue
        x, y = x - x.mean(), y - y.mean()
        den = np.sqrt((x * x).sum() * (y * y).sum())
        out.append((x * y).sum() / den if den > 0 else np.nan)
    return np.array(out)


def mae_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([np.abs(x - y).mean() if len(x) else np.nan for _, x, y in _columns(a, b)])


def _two_way_ms(ratings: np.ndarray) -> tuple[int, int, float, float, float]:
    """(n targets, k raters, mean squares of rows, columns and error) of a two-way ANOVA without replication."""
    x = np.asarray(ratings, np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need ratings (n >= 2 targets, k >= 2 raters), got {x.shape}")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    return n, k, ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))


def icc_3_1(ratings: np.ndarray) -> float:
    """ICC(3,1) (two-way mixed, consistency, single rater; Shrout & Fleiss 1979) of ratings (n targets, k raters)."""
    n, k, ms_rows, _, ms_err = _two_way_ms(ratings)
    den = ms_rows + (k - 1) * ms_err
    return float((ms_rows - ms_err) / den) if den > 0 else float("nan")


def icc_a_1(ratings: np.ndarray) -> float:
    """ICC(A,1) = Shrout & Fleiss's ICC(2,1) (two-way, absolute agreement, single rater; McGraw & Wong 1996) of
    ratings (n targets, k raters): unlike ICC(3,1), a rater's constant offset (a calibration bias) lowers it."""
    n, k, ms_rows, ms_cols, ms_err = _two_way_ms(ratings)
    den = ms_rows + (k - 1) * ms_err + k * (ms_cols - ms_err) / n
    return float((ms_rows - ms_err) / den) if den > 0 else float("nan")


def icc_per_column(a: np.ndarray, b: np.ndarray, agreement: bool = False) -> np.ndarray:
    """ICC(3,1) (consistency), or with `agreement` ICC(A,1) (absolute agreement), between two raters per column."""
    f = icc_a_1 if agreement else icc_3_1
    return np.array([f(np.stack([x, y], 1)) if len(x) >= 2 else np.nan for _, x, y in _columns(a, b)])


def accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    true, pred = np.asarray(true), np.asarray(pred)
    ok = true >= 0
    return float((true[ok] == pred[ok]).mean()) if ok.any() else float("nan")


def mean_class_accuracy(true: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class recall over the classes present in `true`."""
    true, pred = np.asarray(true), np.asarray(pred)
    per = [(pred[true == c] == c).mean() for c in range(n_classes) if (true == c).any()]
    return float(np.mean(per)) if per else float("nan")


def cohen_kappa(true: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Cohen's kappa of class labels (rows with true < 0 left out): (p_o - p_e) / (1 - p_e), p_e from the two
    marginals. 0 for any prediction independent of the truth (a constant, the majority class, a random draw)."""
    true, pred = np.asarray(true), np.asarray(pred)
    ok = true >= 0
    if not ok.any():
        return float("nan")
    t, p = true[ok], pred[ok]
    po = float((t == p).mean())
    pe = float((np.bincount(t, minlength=n_classes) * np.bincount(p, minlength=n_classes)).sum()) / len(t) ** 2
    return (po - pe) / (1 - pe) if pe < 1 else float("nan")


def trivial_classification(true: np.ndarray, n_classes: int) -> dict[str, float]:
    """What a recognizer that never looks at the image scores on these test labels: the majority class's accuracy
    and the expected accuracy of guessing at the test base rates (sum of squared class shares); kappa 0 for both."""
    true = np.asarray(true)
    share = np.bincount(true[true >= 0], minlength=n_classes) / max(1, int((true >= 0).sum()))
    return {"majority": float(share.max()), "base_rate_random": float((share ** 2).sum())}


def trivial_occurrence(true: np.ndarray) -> dict[str, float]:
    """Mean per-column F1 of image-blind detectors on binary labels (n, k), NaN = unknown: every AU present
    (F1 = 2p / (1 + p) at base rate p) and the expected F1 of guessing present at the base rate (= p)."""
    out = {"all_present": [], "base_rate_random": []}
    for _, t, _ in _columns(true, true):
        p = float((t >= 0.5).mean()) if len(t) else float("nan")
        out["all_present"].append(2 * p / (1 + p) if p > 0 else np.nan)
        out["base_rate_random"].append(p if p > 0 else np.nan)
    return {k: nanmean(np.array(v)) for k, v in out.items()}


def nanmean(x: np.ndarray) -> float:
    """Unweighted mean over defined entries (the 'mean F1 over AUs' convention)."""
    x = np.asarray(x, np.float64)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def nanmean_rows(x: np.ndarray) -> np.ndarray:
    """`nanmean` of each row of (B, k): (B,), NaN for a row with no defined entry."""
    x = np.asarray(x, np.float64)
    out = np.full(len(x), np.nan)
    ok = np.isfinite(x).any(1)
    out[ok] = [float(np.nanmean(row)) for row in x[ok]]
    return out


def _labelled(a: np.ndarray) -> np.ndarray:
    """Where a label is given: finite and not negative (NaN or -1 = none)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(a) & (a >= 0)


def copy_rates(request: np.ndarray, claim: np.ndarray, judge: np.ndarray) -> dict[str, float]:
    """Does a set's claimed label copy the *request* where its image misses it (as the judge reads the image)?

    `request`, `claim`, `judge`: aligned (N, K) 0/1 occurrences (NaN = not labelled) or (N,) class codes (-1 = none);
    only cells where all three are labelled count. A miss is judge != request. Returns the counts `n_cells`, `n_miss`,
    `n_hit` and the shares `miss_rate` = P(judge != request), `copy_on_miss` = P(claim == request | miss),
    `judge_on_miss` = P(claim == judge | miss) (these two sum to 1 for binary labels, not for classes) and
    `agree_on_hit` = P(claim == request | judge == request); a share over no cells is NaN. For binary labels the misses
    split by direction: requested on / judge off (`n_miss_on`, `copy_on_miss_on` = P(claim on | that)) and requested
    off / judge on (`n_miss_off`, `copy_on_miss_off` = P(claim off | that)); for classes these are NaN."""
    r, c, j = (np.asarray(a, np.float64) for a in (request, claim, judge))
    if not r.shape == c.shape == j.shape:
        raise ValueError(f"shape mismatch {r.shape}, {c.shape}, {j.shape}")
    ok = _labelled(r) & _labelled(c) & _labelled(j)
    r, c, j = r[ok], c[ok], j[ok]
    miss, copy = j != r, c == r

    def share(hit: np.ndarray, where: np.ndarray) -> float:
        return float(hit[where].mean()) if where.any() else float("nan")

    binary = bool(np.isin(np.concatenate([r, c, j]), (0.0, 1.0)).all()) and np.ndim(request) == 2
    on, off = miss & (r == 1), miss & (r == 0)
    return {"n_cells": int(ok.sum()), "n_miss": int(miss.sum()), "n_hit": int((~miss).sum()),
            "miss_rate": float(miss.mean()) if len(r) else float("nan"),
            "copy_on_miss": share(copy, miss), "judge_on_miss": share(c == j, miss), "agree_on_hit": share(copy, ~miss),
            "n_miss_on": int(on.sum()) if binary else float("nan"),
            "copy_on_miss_on": share(copy, on) if binary else float("nan"),
            "n_miss_off": int(off.sum()) if binary else float("nan"),
            "copy_on_miss_off": share(copy, off) if binary else float("nan")}
