"""Diversity metrics: demographic distribution vs a target, identity spread, Vendi score, AU-combination coverage.

Pure functions on arrays. Group codes are integers 0..k-1 (a judge's predicted demographic class);
embeddings are (n, d) features of an identity or image encoder.
"""

from __future__ import annotations

import numpy as np


def distribution(codes: np.ndarray, k: int) -> np.ndarray:
    """Share of each group 0..k-1 (codes < 0 = unknown are left out)."""
    codes = np.asarray(codes)
    codes = codes[codes >= 0]
    if codes.size and codes.max() >= k:
        raise ValueError(f"group code {codes.max()} outside 0-{k - 1}")
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def normalized_entropy(p: np.ndarray) -> float:
    """Shannon entropy of a distribution divided by log(k): 1 = uniform, 0 = one group."""
    p = np.asarray(p, np.float64)
    nz = p[p > 0]
    return max(0.0, float(-(nz * np.log(nz)).sum() / np.log(len(p)))) if len(p) > 1 else 0.0


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-12) -> float:
    """KL(p || q) in nats; q (the protocol's target) must be positive where p is."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = p > 0
    return float((p[m] * np.log(p[m] / np.maximum(q[m], eps))).sum())


def worst_group_share(p: np.ndarray, target: np.ndarray | None = None) -> float:
    """Smallest ratio of a group's share to its target share (1 = every group at least on target)."""
    p = np.asarray(p, np.float64)
    t = np.full(len(p), 1.0 / len(p)) if target is None else np.asarray(target, np.float64)
    return float(np.min(p[t > 0] / t[t > 0]))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def mean_pairwise_cosine(emb: np.ndarray) -> float:
    """Mean cosine similarity over distinct pairs (identity spread: lower = more distinct identities). O(n d)."""
    u = _unit(emb)
    n = len(u)
    if n < 2:
        raise ValueError("need at least 2 embeddings")
    s = u.sum(0)
    return float((s @ s - n) / (n * (n - 1)))


def vendi_score(emb: np.ndarray) -> float:
    """Vendi score with the cosine kernel: exp(entropy of eigenvalues of K/n), K = U U^T.

    Computed from the d x d matrix U^T U / n (same non-zero eigenvalues), so O(n d^2), not O(n^2).
    Ranges from 1 (all identical) to n (all orthogonal).
    """
    u = _unit(emb)
    n, d = u.shape
    gram = (u.T @ u) / n if d < n else (u @ u.T) / n
    ev = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    ev = ev[ev > 1e-12]
    return float(np.exp(-(ev * np.log(ev)).sum()))


def au_combinations(occ: np.ndarray) -> dict[tuple[int, ...], int]:
    """Counts of each occurrence pattern (rows of a 0/1 matrix (n, k); rows with NaN are skipped)."""
    occ = np.asarray(occ, np.float64)
    ok = ~np.isnan(occ).any(1)
    pats, counts = np.unique((occ[ok] >= 0.5).astype(np.int8), axis=0, return_counts=True)
    return {tuple(int(v) for v in p): int(c) for p, c in zip(pats, counts)}


def au_combination_coverage(reference_occ: np.ndarray, generated_occ: np.ndarray, min_count: int = 5) -> float:
    """Share of the reference's AU patterns (seen >= min_count times) that the generated set also shows."""
    ref = {p for p, c in au_combinations(reference_occ).items() if c >= min_count}
    if not ref:
        return float("nan")
    gen = set(au_combinations(generated_occ))
    return len(ref & gen) / len(ref)
