"""Realism metrics on feature arrays: Fréchet distance, KID, precision/recall, density/coverage.

Pure functions on NumPy arrays (float64 inside); nothing here knows about images or networks.
Conventions (docs/sources.md): FID's trace term from the eigenvalues of sqrt(S1) S2 sqrt(S1) (symmetric,
so `eigvalsh`; no `scipy.linalg.sqrtm`), KID as clean-fid's unbiased polynomial-kernel MMD but with
seeded subsets, precision/recall with k=3 neighbourhoods (Kynkäänniemi et al. 2019),
density/coverage with k=5 (Naeem et al. 2020).

Intervals (docs/intervals.md): FD and KID are resampled over *both* sets, independently (the reference is a
sample too). `fd_weighted` and `mmd2_weighted` compute either statistic for many row weightings at once
(bootstrap row counts, jackknife 0/1 weights), so no resampled array is built.
"""

from __future__ import annotations

import numpy as np

from bench.core.threads import map_blocks
from bench.metrics.stats import group_weights, interval, two_sample_counts

# --------------------------------------------------------------------------------------- statistics


class RunningStats:
    """Mean and covariance of feature batches, accumulated in float64 in O(d^2) memory."""

    def __init__(self, dim: int):
        self.n = 0
        self._sum = np.zeros(dim, dtype=np.float64)
        self._outer = np.zeros((dim, dim), dtype=np.float64)
        self._shift: np.ndarray | None = None  # first batch mean: keeps the sums well conditioned

    def update(self, feats: np.ndarray) -> None:
        """Add a batch (b, d)."""
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self._sum.shape[0]:
            raise ValueError(f"expected features (b, {self._sum.shape[0]}), got {x.shape}")
        if self._shift is None:
            self._shift = x.mean(0)
        x = x - self._shift
        self.n += len(x)
        self._sum += x.sum(0)
        self._outer += x.T @ x

    def finalize(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (d,), covariance (d, d)) with the unbiased (n - 1) normalisation, as np.cov."""
        if self.n < 2:
            raise ValueError("need at least 2 feature vectors for a covariance")
        m = self._sum / self.n
        cov = (self._outer - self.n * np.outer(m, m)) / (self.n - 1)
        return m + self._shift, cov


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of features (n, d) in float64."""
    s = RunningStats(np.asarray(feats).shape[1])
    s.update(feats)
    return s.finalize()


# -------------------------------------------------------------------------------------- FID / FD


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2), in float64.

    Tr sqrt(S1 S2) = sum of sqrt(eigenvalues of sqrt(S1) S2 sqrt(S1)), a symmetric PSD matrix with the
    same eigenvalues as S1 S2, so `eigvalsh` applies; stable when N < d where `sqrtm` gives NaN.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    return _frechet(mu1, s1, _sqrtm_psd(s1), mu2, s2)


def _frechet(mu1: np.ndarray, s1: np.ndarray, r1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """`frechet_distance` given r1 = sqrt(S1)."""
    m = r1 @ s2 @ r1
    ev = np.linalg.eigvalsh((m + m.T) / 2.0)
    tr_covmean = np.sqrt(np.clip(ev, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fd_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between two feature sets (n1, d), (n2, d)."""
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))


def fd_against(f1: np.ndarray):
    """x -> fd_from_features(f1, x), with f1's statistics and their square root computed once (a bootstrap
    over the other set then pays one covariance and one eigvalsh per resample)."""
    mu1, s1 = feature_stats(f1)
    r1 = _sqrtm_psd(s1)

    def fd(f2: np.ndarray) -> float:
        mu2, s2 = feature_stats(f2)
        if mu2.shape != mu1.shape:
            raise ValueError(f"feature width {mu2.shape} != {mu1.shape}")
        return _frechet(mu1, s1, r1, mu2, s2)
    return fd


def weighted_stats(feats: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), covariance (d, d)) of rows (n, d) weighted by counts w (n,): sum w (x - mu)(x - mu)^T /
    (sum w - 1). With w the row counts of a resample this is `feature_stats` of the resampled rows; with 0/1
    weights, of the rows kept."""
    x = np.asarray(feats, np.float64)
    sw = float(w.sum())
    if sw < 2:
        raise ValueError("need a total weight of at least 2 for a covariance")
    mu = w @ x / sw
    used = np.flatnonzero(w)  # a bootstrap leaves about 37% of rows out: they add exact zeros, so skip their rows
    y = x.take(used, axis=0)  # (n_used, d), a copy: centred and weighted in place (the same arithmetic, no temporaries)
    y -= mu
    y *= np.sqrt(w.take(used))[:, None]
    return mu, y.T @ y / (sw - 1.0)


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr sqrt(S1 S2) for PSD S1, S2: sum of sqrt(eigenvalues of L^T S2 L) with S1 = L L^T (Cholesky; the same
    eigenvalues as S1 S2), from S2's Cholesky factor when S1 is singular, else through sqrt(S1) (`eigh`)."""
    for a, b in ((s1, s2), (s2, s1)):
        try:
            low = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            continue
        m = low.T @ b @ low
        break
    else:
        r = _sqrtm_psd(s1)
        m = r @ s2 @ r
    ev = np.linalg.eigvalsh((m + m.T) / 2.0)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def informative_columns(f1: np.ndarray, f2: np.ndarray) -> np.ndarray:
    """Columns that are not one and the same constant in every row of both sets (n1, d), (n2, d) -> bool (d,).
    The others (e.g. a ReLU unit that never fires) add exactly 0 to FD under any resampling or weighting."""
    a, b = np.asarray(f1), np.asarray(f2)
    c = a[0]
    return ~((a == c).all(0) & (b == c).all(0))


def fd_weighted(f1: np.ndarray, f2: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Fréchet distance of each weighted pair: rows (n1, d), (n2, d), weights w1 (B, n1), w2 (B, n2) -> (B,).

    With row counts of bootstrap resamples (`bench.metrics.stats.two_sample_counts`) each value equals
    `fd_from_features` of the resampled rows; with 0/1 weights, of the rows kept (a jackknife). Cost per pair:
    two weighted covariances and a Cholesky + eigvalsh of d x d (no matrix square root), after dropping
    columns that are the same constant in both sets (`informative_columns`, exact).
    """
    keep = informative_columns(f1, f2)
    x1, x2 = np.asarray(f1, np.float64)[:, keep], np.asarray(f2, np.float64)[:, keep]
    w1, w2 = np.atleast_2d(w1), np.atleast_2d(w2)
    if len(w1) != len(w2) or w1.shape[1] != len(x1) or w2.shape[1] != len(x2):
        raise ValueError(f"weights {w1.shape}, {w2.shape} do not match rows {len(x1)}, {len(x2)}")

    def one(b: int) -> float:
        mu1, s1 = weighted_stats(x1, w1[b])
        mu2, s2 = weighted_stats(x2, w2[b])
        diff = mu1 - mu2
        return diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2)
    return np.array(map_blocks(one, range(len(w1))), dtype=np.float64)


# Interval methods chosen by the coverage check (bench.studies.coverage, docs/intervals.md), not by taste.
FD_CI_METHOD = "basic"  # covers the population FD; percentile and BCa do not (FD's O(1/n) upward bias)
KID_CI_METHOD = "percentile"


def fd_bootstrap(f1: np.ndarray, f2: np.ndarray, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """FD of `n_boot` two-sample resamples (both sets redrawn with replacement, independently) -> (B,)."""
    w1, w2 = two_sample_counts(len(f1), len(f2), n_boot, seed)
    return fd_weighted(f1, f2, w1, w2)


def fd_jackknife(f1: np.ndarray, f2: np.ndarray, groups: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FD with one of `groups` random groups of set 1's rows left out (G,), the same for set 2 (G,) (BCa's
    grouped jackknife, bench.metrics.stats)."""
    g1, g2 = group_weights(len(f1), groups, seed), group_weights(len(f2), groups, seed + 1)
    return (fd_weighted(f1, f2, g1, np.ones((len(g1), len(f2)))),
            fd_weighted(f1, f2, np.ones((len(g2), len(f1))), g2))


def fd_interval(f1: np.ndarray, f2: np.ndarray, n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                method: str = FD_CI_METHOD) -> tuple[float, float]:
    """Interval for the *population* FD between the distributions the two sets are drawn from.

    Resampled: both sets' rows, independently (`fd_bootstrap`). FD of finite sets is biased upward (by about
    tr-terms / n: E[FD_n] > FD); the basic interval 2 FD_n - q mirrors the replicates' spread around FD_n, and
    so removes that bias as far as the bootstrap sees it. Its measured coverage of the population FD is in
    reports/coverage.md; it may reach below 0 when the sets are close (FD >= 0: "no difference" is inside).
    """
    return fd_summary(f1, f2, n_boot, seed, alpha, method)[1]


def fd_summary(f1: np.ndarray, f2: np.ndarray, n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
               method: str = FD_CI_METHOD) -> tuple[float, tuple[float, float]]:
    """(bias-corrected FD, `fd_interval`) from one bootstrap: FD_n minus the bootstrap's estimate of its bias,
    2 FD_n - mean(replicates), the point the basic interval is centred on (the plug-in FD_n, the FID convention,
    often lies above that interval)."""
    theta = fd_from_features(f1, f2)
    reps = fd_bootstrap(f1, f2, n_boot, seed)
    jack = fd_jackknife(f1, f2, seed=seed) if method == "bca" else ()
    return float(2 * theta - np.mean(reps)), interval(method, theta, reps, jack, alpha)


# ---------------------------------------------------------------------------------------------- KID


def kid_subsets(n1: int, n2: int, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (indices into set 1, indices into set 2) of each KID subset, drawn without replacement, seeded."""
    m = min(n1, n2, max_subset_size)
    rng = np.random.default_rng(seed)
    return [(rng.choice(n1, m, replace=False), rng.choice(n2, m, replace=False)) for _ in range(num_subsets)]


def subset_weights(n1: int, n2: int, subsets: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """0/1 membership rows of each subset: (S, n1), (S, n2); with them `mmd2_weighted` gives each subset's
    U-statistic (a row is never paired with itself), every kernel entry computed once for all S subsets."""
    w1, w2 = np.zeros((len(subsets), n1)), np.zeros((len(subsets), n2))
    for k, (i1, i2) in enumerate(subsets):
        w1[k, i1], w2[k, i2] = 1.0, 1.0
    return w1, w2


def _distinct(subsets) -> bool:
    """Every subset holds distinct rows (as `kid_subsets` draws them): membership weights then equal the subset."""
    return all(len(i1) == len(np.unique(i1)) and len(i2) == len(np.unique(i2)) for i1, i2 in subsets)


def kid_per_subset(f1: np.ndarray, f2: np.ndarray, subsets: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Unbiased MMD^2 with kernel (x.y/d + 1)^3 for each subset (the values KID averages): f1 (n1, d), f2 (n2, d)
    -> (S,). Subsets of distinct rows go through `mmd2_weighted` with membership weights (each kernel entry once,
    half the symmetric blocks: ~2.5x faster than S separate m x m blocks for 100 subsets of 1000 of 10,000, equal
    up to summation order, ~1e-15 relative); others block by block."""
    if not subsets:
        return np.empty(0)
    if _distinct(subsets):
        return mmd2_weighted(f1, f2, *subset_weights(len(f1), len(f2), subsets))
    return _kid_subset_by_subset(np.asarray(f1, np.float64), np.asarray(f2, np.float64), subsets)


def poly_kernel(x: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
    """KID's kernel (x.y/d + 1)^3: x (nx, d), y (ny, d) -> (nx, ny). Cubed by two multiplications in place (numpy's
    `** 3` goes through pow(), about 9x slower here; the two differ by about 2e-16 relative)."""
    k = x @ y.T
    k /= d
    k += 1.0
    return _cube(k)


def _cube(k: np.ndarray) -> np.ndarray:
    out = k * k
    out *= k
    return out


def _kid_subset_by_subset(f1: np.ndarray, f2: np.ndarray, subsets) -> np.ndarray:
    d = f1.shape[1]
    out = np.empty(len(subsets))
    for k, (i1, i2) in enumerate(subsets):
        x, y = f2[i2], f1[i1]
        m = len(i1)
        kxx, kyy, kxy = poly_kernel(x, x, d), poly_kernel(y, y, d), poly_kernel(x, y, d)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        out[k] = within - 2.0 * kxy.sum() / (m * m)
    return out


def poly_kernel_sum(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray, block: int) -> np.ndarray:
    """sum_ab wx[:, a] k(x_a, y_b) wy[:, b] with k(x, y) = (x.y/d + 1)^3, kernel rows built `block` at a time:
    x (nx, d), y (ny, d), wx (B, nx), wy (B, ny) -> (B,)."""
    d = x.shape[1]

    def one(lo: int) -> np.ndarray:
        k = poly_kernel(x[lo:lo + block], y, d)  # (block, ny)
        return ((wx[:, lo:lo + block] @ k) * wy).sum(1)
    return _sum_in_order(map_blocks(one, range(0, len(x), block)), len(wx))


def _sum_in_order(parts: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros(n)
    for part in parts:  # block order, whatever thread finished first
        out += part
    return out


def poly_kernel_sum_within(x: np.ndarray, w: np.ndarray, block: int) -> np.ndarray:
    """`poly_kernel_sum(x, x, w, w, block)` from the kernel's blocks on and above the diagonal only (the kernel is
    symmetric: each block above counts twice), half the work: x (n, d), w (B, n) -> (B,)."""
    n, d = x.shape

    def one(lo: int) -> np.ndarray:
        hi = min(n, lo + block)
        t = w[:, lo:hi] @ poly_kernel(x[lo:hi], x[lo:], d)  # (B, n - lo): this row block against the rest
        return (t[:, :hi - lo] * w[:, lo:hi]).sum(1) + 2.0 * (t[:, hi - lo:] * w[:, hi:]).sum(1)
    return _sum_in_order(map_blocks(one, range(0, n, block)), len(w))


def mmd2_weighted(f1: np.ndarray, f2: np.ndarray, w1: np.ndarray, w2: np.ndarray, block: int = 2048
                  ) -> np.ndarray:
    """Unbiased MMD^2 with KID's kernel (x.y/d + 1)^3 of weighted rows: f1 (n1, d), f2 (n2, d), w1 (B, n1),
    w2 (B, n2) -> (B,). The kernel matrices are never held whole (rows `block` at a time).

    Within a set, the pair of distinct original rows (a, b) counts w_a w_b times and a row is never paired with
    a copy of itself: (w^T K w - sum_a w_a^2 K_aa) / ((sum w)^2 - sum w^2). With 0/1 weights this is the
    U-statistic of the rows kept (a KID subset, as `kid_per_subset`); with all-ones weights the U-statistic of
    all rows; with the row counts of bootstrap resamples it is the U-statistic bootstrap, whose replicates centre
    on the sample's U-statistic (the plain U-statistic of a resample would pair copies of one row, an O(1/n)
    upward bias).
    """
    x1, x2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    w1, w2 = np.atleast_2d(np.asarray(w1, np.float64)), np.atleast_2d(np.asarray(w2, np.float64))
    if len(w1) != len(w2) or w1.shape[1] != len(x1) or w2.shape[1] != len(x2) or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"weights {w1.shape}, {w2.shape} do not match features {x1.shape}, {x2.shape}")
    d = x1.shape[1]
    s1, s2 = w1.sum(1), w2.sum(1)
    q1, q2 = (w1 * w1).sum(1), (w2 * w2).sum(1)
    diag1, diag2 = _cube((x1 * x1).sum(1) / d + 1.0), _cube((x2 * x2).sum(1) / d + 1.0)  # K_aa, cubed as K is
    within1 = (poly_kernel_sum_within(x1, w1, block) - (w1 * w1) @ diag1) / (s1 * s1 - q1)
    within2 = (poly_kernel_sum_within(x2, w2, block) - (w2 * w2) @ diag2) / (s2 * s2 - q2)
    return within1 + within2 - 2.0 * poly_kernel_sum(x1, x2, w1, w2, block) / (s1 * s2)


def mmd2_u(f1: np.ndarray, f2: np.ndarray) -> float:
    """The complete unbiased MMD^2 U-statistic (every pair of rows) with KID's kernel."""
    return float(mmd2_weighted(f1, f2, np.ones((1, len(f1))), np.ones((1, len(f2))))[0])


def kid_bootstrap(f1: np.ndarray, f2: np.ndarray, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """U-statistic bootstrap of the complete MMD^2: both sets redrawn with replacement, independently; copies of
    one row never paired (`mmd2_weighted`) -> (B,)."""
    w1, w2 = two_sample_counts(len(f1), len(f2), n_boot, seed)
    return mmd2_weighted(f1, f2, w1, w2)


def kid_jackknife(f1: np.ndarray, f2: np.ndarray, groups: int = 20, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Complete MMD^2 with one of `groups` random groups of set 1's rows left out (G,), the same for set 2 (G,)."""
    g1, g2 = group_weights(len(f1), groups, seed), group_weights(len(f2), groups, seed + 1)
    return (mmd2_weighted(f1, f2, g1, np.ones((len(g1), len(f2)))),
            mmd2_weighted(f1, f2, np.ones((len(g2), len(f1))), g2))


def kid_interval(f1: np.ndarray, f2: np.ndarray, n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                 method: str = KID_CI_METHOD) -> tuple[float, float]:
    """Interval for the population MMD^2 (KID's kernel) between the distributions the sets are drawn from.

    Resampled: both sets' rows, independently, of the complete U-statistic (`kid_bootstrap`). Seeded-subset KID
    (`kid`) is an average of subset U-statistics whose expectation given the data is exactly that complete
    U-statistic, so both estimate the same population value without bias; the choice of subsets adds only a
    small extra variance to KID, which the interval (computed from every pair) does not carry.
    """
    w1, w2 = two_sample_counts(len(f1), len(f2), n_boot, seed)
    ones1, ones2 = np.ones((1, len(f1))), np.ones((1, len(f2)))
    both = mmd2_weighted(f1, f2, np.vstack([ones1, w1]), np.vstack([ones2, w2]))  # the statistic and its
    #                                                                                 replicates: one kernel pass
    jack = kid_jackknife(f1, f2, seed=seed) if method == "bca" else ()
    return interval(method, float(both[0]), both[1:], jack, alpha)


def kid(f1: np.ndarray, f2: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
        ) -> tuple[float, float]:
    """KID (mean over seeded subsets) and the standard deviation over subsets."""
    per = kid_per_subset(f1, f2, kid_subsets(len(f1), len(f2), num_subsets, max_subset_size, seed))
    return float(per.mean()), float(per.std())


def kid_summary(f1: np.ndarray, f2: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                n_boot: int = 200, seed: int = 0, alpha: float = 0.05, method: str = KID_CI_METHOD
                ) -> tuple[float, float, tuple[float, float]]:
    """(`kid`, its subset standard deviation, `kid_interval`) with one seed for the subsets and the bootstrap, from
    one pass over the kernel: the subsets' membership rows, the all-ones row and the resamples' counts are
    weighted together (`mmd2_weighted`), so scoring pays for the kernel once instead of twice."""
    n1, n2 = len(f1), len(f2)
    subsets = kid_subsets(n1, n2, num_subsets, max_subset_size, seed)
    s1, s2 = subset_weights(n1, n2, subsets)
    b1, b2 = two_sample_counts(n1, n2, n_boot, seed)
    every = mmd2_weighted(f1, f2, np.vstack([s1, np.ones((1, n1)), b1]), np.vstack([s2, np.ones((1, n2)), b2]))
    per, theta, reps = every[:len(subsets)], float(every[len(subsets)]), every[len(subsets) + 1:]
    jack = kid_jackknife(f1, f2, seed=seed) if method == "bca" else ()
    return float(per.mean()), float(per.std()), interval(method, theta, reps, jack, alpha)


# -------------------------------------------------------------------------- k-NN manifold metrics


def pairwise_sq_dists(a: np.ndarray, b: np.ndarray, block: int = 2048) -> np.ndarray:
    """Squared Euclidean distances (len(a), len(b)) computed in blocks, float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    bb = (b * b).sum(1)
    out = np.empty((len(a), len(b)))

    def one(lo: int) -> None:
        x = a[lo:lo + block]
        out[lo:lo + block] = np.maximum((x * x).sum(1)[:, None] + bb[None, :] - 2.0 * x @ b.T, 0.0)
    map_blocks(one, range(0, len(a), block))
    return out


def knn_radii(feats: np.ndarray, k: int, block: int = 2048) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour within the same set (itself excluded): (n, d) -> (n,).
    Rows `block` at a time (the same blocks as `pairwise_sq_dists`, so the same arithmetic), partitioned in place:
    memory block x n, never the n x n matrix."""
    n = len(feats)
    if n <= k:
        raise ValueError(f"need more than k={k} points, got {n}")
    x = np.asarray(feats, np.float64)
    out = np.empty(n)

    def one(lo: int) -> None:
        d = pairwise_sq_dists(x[lo:lo + block], x, block)  # (b, n)
        d[np.arange(len(d)), np.arange(lo, lo + len(d))] = np.inf
        d.partition(k - 1, axis=1)
        out[lo:lo + len(d)] = np.sqrt(d[:, k - 1])
    map_blocks(one, range(0, n, block))
    return out


def fake_real_distances(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Euclidean distances (n_fake, n_real): what precision/recall and density/coverage both compare with radii."""
    return np.sqrt(pairwise_sq_dists(fake, real))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, dists: np.ndarray | None = None
                     ) -> tuple[float, float]:
    """Improved precision (share of fakes inside some real k-NN ball) and recall (reals inside fake balls).
    `dists`: `fake_real_distances(real, fake)` when the caller already holds it (scoring shares it with
    `density_coverage`)."""
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = fake_real_distances(real, fake) if dists is None else dists  # (n_fake, n_real)
    precision = (d <= r_real[None, :]).any(1).mean()
    recall = (d.T <= r_fake[None, :]).any(1).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5, dists: np.ndarray | None = None
                     ) -> tuple[float, float]:
    """Density (mean count of real balls containing each fake, / k) and coverage (reals whose ball holds a fake).
    `dists` as in `precision_recall`."""
    r_real = knn_radii(real, k)
    d = fake_real_distances(real, fake) if dists is None else dists  # (n_fake, n_real)
    inside = d <= r_real[None, :]
    density = inside.sum() / (k * len(fake))
    coverage = inside.any(0).mean()
    return float(density), float(coverage)
