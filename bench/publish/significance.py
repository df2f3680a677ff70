"""Paired tests between adjacent leaderboard entries: is one set's training value really above the next one's?

Both entries' recognizers were tested on the same real test items with the same training seeds, so the test pairs
them: each bootstrap replicate draws the test items (with replacement, the same draw for both entries) and the
seeds (with replacement, seed i of one entry paired with seed i of the other), recomputes each entry's training
value from its per-item decisions (bench.downstream.harness stores them with the results) and takes the mean
paired difference. The two-sided p-value is twice the smaller tail share of replicates on either side of zero
((count + 1) / (B + 1)); p-values of the adjacent pairs of one board are Holm-corrected.
"""

from __future__ import annotations

import numpy as np

from bench.core.protocol import Protocol
from bench.data.aus import AU_INDEX, N_EXPRESSIONS, subset
from bench.downstream.data import unpack_predictions
from bench.downstream.harness import area_under_log_curve


def test_truth(proto: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """(expression (N,), AU occurrence (N, K) bool on the au_f1 subset) of the protocol's real test split."""
    from bench.world.params import WorldConfig, sample_params

    s = proto.downstream
    start = s.test.start or 0
    p = sample_params(WorldConfig(seed=proto.world.seed, image_size=proto.world.image_size), s.test.split,
                      np.arange(start, start + s.test.n))
    cols = [AU_INDEX[a] for a in subset(s.au_f1)]
    return p.expression.astype(np.int64), p.aus[:, cols] >= proto.occurrence_threshold


def weighted_binary_kappa(w: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Cohen's kappa per column under row weights: w (B, N) rows summing to 1, t, p (N, K) bool -> (B, K)."""
    po = w @ (t == p).astype(np.float64)
    tm, pm = w @ t.astype(np.float64), w @ p.astype(np.float64)
    pe = tm * pm + (1 - tm) * (1 - pm)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe < 1, (po - pe) / (1 - pe), np.nan)


def weighted_kappa(w: np.ndarray, t: np.ndarray, p: np.ndarray, n_classes: int) -> np.ndarray:
    """Cohen's kappa of class labels under row weights: w (B, N), t, p (N,) -> (B,); 0 where p is -1 (no
    recognizer)."""
    if (p < 0).all():
        return np.zeros(len(w))
    eye = np.eye(n_classes)
    po = w @ (t == p).astype(np.float64)
    pe = ((w @ eye[t]) * (w @ eye[np.clip(p, 0, None)])).sum(1)
    return (po - pe) / (1 - pe)


def training_value_replicates(blob: str, scales: list[float], truth: tuple[np.ndarray, np.ndarray],
                              w: np.ndarray) -> np.ndarray:
    """(B, R) training value per bootstrap weight row and seed, from an entry's stored test decisions."""
    t_ex, t_au = truth
    ex, au = unpack_predictions(blob, t_au.shape[1])  # (S, R, N), (S, R, N, K)
    S, R = ex.shape[:2]
    util = np.empty((len(w), S, R))
    for i in range(S):
        for j in range(R):
            k_au = np.nanmean(weighted_binary_kappa(w, t_au, au[i, j]), axis=1)
            util[:, i, j] = (k_au + weighted_kappa(w, t_ex, ex[i, j], N_EXPRESSIONS)) / 2
    return np.stack([[area_under_log_curve(scales, util[b, :, j]) for j in range(R)] for b in range(len(w))])


def paired_test(a: dict, b: dict, proto: Protocol, n_boot: int = 1000, seed: int = 0,
                truth: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Paired bootstrap of training value(a) - training value(b) over test items and seeds: {diff (point), ci95,
    p}. Needs both results' stored test decisions; raises KeyError if either lacks them."""
    truth = truth or test_truth(proto)
    name = proto.headline.rank_by
    blob_a, blob_b = a["metrics"][name]["test_predictions"], b["metrics"][name]["test_predictions"]
    scales = list(proto.downstream.scales)
    n = len(truth[0])
    rng = np.random.default_rng(seed)
    w = np.vstack([np.full(n, 1.0 / n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n])  # row 0: data
    ta = training_value_replicates(blob_a, scales, truth, w)  # (B + 1, R)
    tb = training_value_replicates(blob_b, scales, truth, w)
    d = ta - tb  # paired by seed
    r = d.shape[1]
    pick = rng.integers(0, r, size=(n_boot, r))  # seeds drawn with replacement per replicate
    reps = np.take_along_axis(d[1:], pick, axis=1).mean(1)  # (B,)
    point = float(d[0].mean())
    p = min(1.0, 2 * min((np.sum(reps <= 0) + 1), (np.sum(reps >= 0) + 1)) / (n_boot + 1))
    return {"diff": point, "ci95": [float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))], "p": p}


def holm(p: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1), in the input order."""
    order = np.argsort(p)
    m = len(p)
    adj, run = [0.0] * m, 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, (m - k) * p[i]))
        adj[i] = run
    return adj


def adjacent(results: list[dict], proto: Protocol, alpha: float = 0.05, n_boot: int = 1000) -> list[dict | None]:
    """For each entry after the first of a ranked list: the paired test against the entry above, with its Holm-
    adjusted p-value and `significant`; None where either entry lacks stored test decisions."""
    truth = test_truth(proto)
    tests: list[dict | None] = []
    for upper, lower in zip(results, results[1:]):
        try:
            tests.append(paired_test(upper, lower, proto, n_boot, truth=truth))
        except KeyError:
            tests.append(None)
    have = [t for t in tests if t is not None]
    for t, q in zip(have, holm([t["p"] for t in have])):
        t["p_holm"], t["significant"] = q, q < alpha
    return [None, *tests]
