"""Metrics against independent implementations (clean-fid, torchmetrics, scikit-learn, scipy) and known values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.stats import entropy, pearsonr
from sklearn.metrics import cohen_kappa_score, f1_score, mean_absolute_error, roc_auc_score

from bench.devtools.baselines import import_cleanfid
from bench.metrics import alignment as A
from bench.metrics import diversity as D
from bench.metrics import memorization as M
from bench.metrics import realism as R
from bench.metrics.stats import bootstrap_ci


def _two_sets(rng, n=400, d=32):
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n + 50, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)) / np.sqrt(d)) + 0.4
    return a, b


# -------------------------------------------------------------------------------------------- FID


def test_fid_matches_cleanfid_and_torchmetrics(rng):
    from torchmetrics.image.fid import FrechetInceptionDistance

    a, b = _two_sets(rng)
    ours = R.fd_from_features(a, b)
    mu1, s1 = np.mean(a, 0), np.cov(a, rowvar=False)
    mu2, s2 = np.mean(b, 0), np.cov(b, rowvar=False)
    cleanfid = import_cleanfid().frechet_distance(mu1, s1, mu2, s2)

    class Features(torch.nn.Module):
        num_features = a.shape[1]

        def forward(self, x):
            return x

    tm = FrechetInceptionDistance(feature=Features())
    tm.update(torch.from_numpy(a), real=True)
    tm.update(torch.from_numpy(b), real=False)
    torchmetrics = float(tm.compute())
    assert abs(ours - cleanfid) / cleanfid <= 1e-6
    assert abs(ours - torchmetrics) / torchmetrics <= 1e-6
    assert "torchvision" not in __import__("sys").modules  # the clean-fid shim left nothing behind


def test_fid_identity_and_symmetry(rng):
    a, b = _two_sets(rng)
    assert abs(R.fd_from_features(a, a)) < 1e-8
    assert R.fd_from_features(a, b) == pytest.approx(R.fd_from_features(b, a), rel=1e-9)


def test_fid_stable_when_n_below_d(rng):
    """sqrtm yields NaN/complex for singular covariances; the eigenvalue form stays finite and >= 0."""
    a, b = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 0.1
    v = R.fd_from_features(a, b)
    assert np.isfinite(v) and v >= 0


def test_frechet_distance_known_value():
    # diagonal Gaussians: FD = |mu1-mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    assert R.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(5.0 + 1.0 + 1.0 + 0.0, abs=1e-10)


def test_running_stats_match_numpy(rng):
    x = rng.normal(size=(1000, 16)) * 100 + 1e4  # large offset: the shifted sums stay accurate
    s = R.RunningStats(16)
    for lo in range(0, 1000, 128):
        s.update(x[lo:lo + 128])
    mu, cov = s.finalize()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-6)


def test_sqrtm_path_agrees(rng):
    a, b = _two_sets(rng, n=600, d=16)
    mu1, s1, mu2, s2 = *R.feature_stats(a), *R.feature_stats(b)
    covmean = linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert R.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-9)
    assert R.fd_against(a)(b) == R.fd_from_features(a, b)  # the bootstrap's cached-reference form, same ops


# -------------------------------------------------------------------------------------------- KID


def test_kid_matches_cleanfid_with_the_same_subsets(rng, monkeypatch):
    a, b = _two_sets(rng, n=120, d=16)
    subsets = R.kid_subsets(len(a), len(b), num_subsets=10, max_subset_size=50, seed=3)
    ours = R.kid_per_subset(a, b, subsets).mean()
    fid = import_cleanfid()
    # clean-fid draws feats2 then feats1 indices from np.random.choice; replay ours in that order
    replay = iter([idx for i1, i2 in subsets for idx in (i2, i1)])
    monkeypatch.setattr(fid.np.random, "choice", lambda *args, **kw: next(replay))
    theirs = fid.kernel_distance(a, b, num_subsets=10, max_subset_size=50)
    assert ours == pytest.approx(theirs, rel=1e-10)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert R._kid_subset_by_subset(a64, b64, subsets).mean() == pytest.approx(theirs, rel=1e-10)  # both paths


def test_kid_summary_is_kid_and_kid_interval_from_one_pass(rng):
    a, b = _two_sets(rng, n=150, d=8)
    mean, sd, ci = R.kid_summary(a, b, num_subsets=12, max_subset_size=60, n_boot=30, seed=4)
    np.testing.assert_allclose((mean, sd), R.kid(a, b, 12, 60, seed=4), rtol=1e-10)
    np.testing.assert_allclose(ci, R.kid_interval(a, b, n_boot=30, seed=4), rtol=1e-10)


def test_kid_seeded_and_near_zero_for_same_distribution(rng):
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    assert R.kid(a, b, num_subsets=20, max_subset_size=100, seed=1) == R.kid(a, b, 20, 100, seed=1)
    same, _ = R.kid(a, b, num_subsets=20, max_subset_size=100)
    shifted, _ = R.kid(a, b + 1.0, num_subsets=20, max_subset_size=100)
    assert abs(same) < 0.02 < shifted


# ---------------------------------------------------------------------------- precision/recall, D&C


def _brute_pr(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself
    rr, rf = radii(real), radii(fake)
    d = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    precision = np.mean([any(d[i, j] <= rr[j] for j in range(len(real))) for i in range(len(fake))])
    recall = np.mean([any(d[i, j] <= rf[i] for i in range(len(fake))) for j in range(len(real))])
    inside = d <= rr[None, :]
    return precision, recall, inside.sum() / (k * len(fake)), inside.any(0).mean()


def test_knn_metrics_match_brute_force(rng):
    real, fake = rng.normal(size=(60, 5)), rng.normal(size=(50, 5)) * 1.3 + 0.3
    p, r = R.precision_recall(real, fake, k=3)
    _, _, dens, cov = _brute_pr(real, fake, 5)
    bp, br, _, _ = _brute_pr(real, fake, 3)
    assert (p, r) == pytest.approx((bp, br))
    assert R.density_coverage(real, fake, k=5) == pytest.approx((dens, cov))


def test_knn_metrics_identical_sets(rng):
    x = rng.normal(size=(80, 4))
    assert R.precision_recall(x, x) == (1.0, 1.0)
    d, c = R.density_coverage(x, x)
    assert c == 1.0 and d > 0.9


# ------------------------------------------------------------------------------------- alignment


def test_alignment_matches_sklearn_scipy(rng):
    true = (rng.random((300, 4)) < 0.4).astype(float)
    score = true * 0.5 + rng.random((300, 4))
    pred = (score > 0.8).astype(float)
    true[:10, 2] = np.nan  # unlabelled rows are left out of that column only
    for k in range(4):
        ok = ~np.isnan(true[:, k])
        assert A.f1_per_column(true, pred)[k] == pytest.approx(f1_score(true[ok, k], pred[ok, k]))
        assert A.kappa_per_column(true, pred)[k] == pytest.approx(cohen_kappa_score(true[ok, k], pred[ok, k]))
        assert A.roc_auc_per_column(true, score)[k] == pytest.approx(roc_auc_score(true[ok, k], score[ok, k]))
    x, y = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    y[:, 0] += x[:, 0]
    np.testing.assert_allclose(A.pearson_per_column(x, y), [pearsonr(x[:, k], y[:, k])[0] for k in range(3)])
    np.testing.assert_allclose(A.mae_per_column(x, y), [mean_absolute_error(x[:, k], y[:, k]) for k in range(3)])


def test_icc_textbook_example():
    """Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; ICC(3,1) = .71."""
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert A.icc_3_1(ratings) == pytest.approx(0.7148, abs=5e-4)
    x = np.arange(10.0)
    assert A.icc_3_1(np.stack([x, x], 1)) == pytest.approx(1.0)
    assert A.icc_3_1(np.stack([x, x + 3], 1)) == pytest.approx(1.0)  # consistency ignores offsets


def test_expression_accuracy():
    true, pred = np.array([0, 0, 0, 1, 2, -1]), np.array([0, 0, 1, 1, 0, 5])
    assert A.accuracy(true, pred) == pytest.approx(3 / 5)
    assert A.mean_class_accuracy(true, pred, 8) == pytest.approx((2 / 3 + 1 + 0) / 3)


# -------------------------------------------------------------------------------------- diversity


def test_distribution_entropy_kl():
    p = D.distribution(np.array([0, 0, 1, 2, 2, 2, -1]), 4)
    np.testing.assert_allclose(p, [2 / 6, 1 / 6, 3 / 6, 0])
    assert D.normalized_entropy(p) == pytest.approx(entropy(p) / np.log(4))
    assert D.normalized_entropy(np.full(6, 1 / 6)) == pytest.approx(1.0)
    q = np.full(4, 0.25)
    assert D.kl_divergence(p, q) == pytest.approx(entropy(p, q))
    assert D.worst_group_share(p) == 0.0 and D.worst_group_share(q) == pytest.approx(1.0)


def test_vendi_and_identity_spread_known_values(rng):
    same = np.tile(rng.normal(size=(1, 8)), (50, 1))
    assert D.vendi_score(same) == pytest.approx(1.0)
    assert D.mean_pairwise_cosine(same) == pytest.approx(1.0)
    ortho = np.eye(6)
    assert D.vendi_score(ortho) == pytest.approx(6.0)
    assert D.mean_pairwise_cosine(ortho) == pytest.approx(0.0)
    x = rng.normal(size=(40, 100))  # n < d and n > d paths agree with the n x n definition
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    ev = np.clip(np.linalg.eigvalsh(u @ u.T / 40), 1e-15, None)
    assert D.vendi_score(x) == pytest.approx(np.exp(-(ev * np.log(ev)).sum()), rel=1e-6)
    cos = u @ u.T
    assert D.mean_pairwise_cosine(x) == pytest.approx((cos.sum() - 40) / (40 * 39))


def test_au_combination_coverage():
    ref = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]], float)
    assert D.au_combination_coverage(ref, np.array([[1, 0], [0, 1]], float), min_count=2) == pytest.approx(2 / 3)
    assert D.au_combination_coverage(ref, ref, min_count=2) == 1.0


# ---------------------------------------------------------------------------------- memorization


def test_memorization_calibrated(rng):
    train = rng.normal(size=(300, 6))
    holdout = rng.normal(size=(200, 6))
    copies = train[:100] + 1e-3
    fresh = rng.normal(size=(100, 6))
    hold = M.nn_distances(holdout, train)
    np.testing.assert_allclose(M.nn_distances(copies, train), 1e-3 * np.sqrt(6), rtol=1e-6)
    assert M.near_copy_share(M.nn_distances(copies, train), hold) == 1.0
    assert M.near_copy_share(M.nn_distances(fresh, train), hold) < 0.1


def test_bootstrap_ci_covers_the_mean(rng):
    x = rng.normal(size=500)
    lo, hi = bootstrap_ci(np.mean, x, n_boot=300, seed=0)
    assert lo < x.mean() < hi and hi - lo < 0.3
    assert bootstrap_ci(np.mean, x, n_boot=50, seed=4) == bootstrap_ci(np.mean, x, n_boot=50, seed=4)


# ------------------------------------------------------------------------- weighted forms (intervals)


def test_fd_weighted_is_fd_of_the_resampled_or_kept_rows(rng):
    a, b = _two_sets(rng, n=150, d=12)
    a[:, 3] = b[:, 3] = 0.0  # a unit that never fires: dropped before the bootstrap, FD unchanged
    i1, i2 = np.random.default_rng(1).integers(0, 150, (4, 150)), np.random.default_rng(2).integers(0, 200, (4, 200))
    w1 = np.stack([np.bincount(r, minlength=150) for r in i1]).astype(float)
    w2 = np.stack([np.bincount(r, minlength=200) for r in i2]).astype(float)
    live = np.arange(12) != 3  # (fd_from_features with the dead unit: the same up to sqrt(rounding) ~ 1e-8)
    expect = [R.fd_from_features(a[r1][:, live], b[r2][:, live]) for r1, r2 in zip(i1, i2)]
    np.testing.assert_allclose(R.fd_weighted(a, b, w1, w2), expect, rtol=1e-9)
    np.testing.assert_allclose(expect, [R.fd_from_features(a[r1], b[r2]) for r1, r2 in zip(i1, i2)], rtol=1e-7)
    keep = np.ones(150)
    keep[::3] = 0.0
    assert R.fd_weighted(a, b, keep[None], np.ones((1, 200)))[0] == pytest.approx(
        R.fd_from_features(a[keep > 0][:, live], b[:, live]), rel=1e-9)
    assert not R.informative_columns(a, b)[3] and R.informative_columns(a, b).sum() == 11


def test_fd_weighted_singular_covariances_take_the_eigh_path(rng):
    a, b = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 0.1  # n < d: no Cholesky factor exists
    assert R.fd_weighted(a, b, np.ones((1, 20)), np.ones((1, 20)))[0] == pytest.approx(R.fd_from_features(a, b),
                                                                                      rel=1e-9)


def test_mmd2_weighted_is_the_u_statistic_of_kept_rows(rng):
    a, b = _two_sets(rng, n=90, d=6)

    def brute_u(x, y):  # the textbook unbiased MMD^2, loops over pairs
        k = lambda p, q: (p @ q / x.shape[1] + 1.0) ** 3  # noqa: E731
        m, n = len(x), len(y)
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        return xx + yy - 2 * sum(k(p, q) for p in x for q in y) / (m * n)

    assert R.mmd2_u(a[:40], b[:50]) == pytest.approx(brute_u(a[:40], b[:50]), rel=1e-10)
    subsets = R.kid_subsets(len(a), len(b), num_subsets=5, max_subset_size=30, seed=2)
    w1, w2 = np.zeros((5, len(a))), np.zeros((5, len(b)))
    for k, (i1, i2) in enumerate(subsets):
        w1[k, i1], w2[k, i2] = 1.0, 1.0
    np.testing.assert_allclose(R.mmd2_weighted(a, b, w1, w2, block=7), R.kid_per_subset(a, b, subsets), rtol=1e-10)


def test_mmd2_bootstrap_never_pairs_copies_of_a_row(rng):
    """Row counts w: the pairs of distinct original rows, each w_a w_b times (a resample's U-statistic with the
    pairs of copies of one row left out)."""
    a, b = rng.normal(size=(12, 3)), rng.normal(size=(9, 3)) + 0.5
    i1, i2 = np.array([0, 0, 0, 1, 2, 2, 5, 7, 7, 7, 9, 11]), np.array([1, 1, 2, 3, 3, 3, 4, 8, 8])
    w1, w2 = np.bincount(i1, minlength=12)[None].astype(float), np.bincount(i2, minlength=9)[None].astype(float)
    k = lambda p, q: (p @ q / 3 + 1.0) ** 3  # noqa: E731

    def within(x, idx):
        pairs = [(i, j) for i in range(len(idx)) for j in range(len(idx)) if idx[i] != idx[j]]
        return sum(k(x[idx[i]], x[idx[j]]) for i, j in pairs) / len(pairs)

    cross = np.mean([k(a[i], b[j]) for i in i1 for j in i2])
    assert R.mmd2_weighted(a, b, w1, w2)[0] == pytest.approx(within(a, i1) + within(b, i2) - 2 * cross, rel=1e-10)
