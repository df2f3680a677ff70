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
                 reads=("features",),
                 what="Frechet distance between Gaussians fitted to the judge features of the scored set and of the "
                      "protocol's reference images (FID's statistic on the world judge's features, not Inception's).",
                 formula="||mu_r - mu_g||^2 + Tr S_r + Tr S_g - 2 Tr sqrt(S_r S_g), means and covariances (n - 1) of "
                         "the reference and generated feature rows; the reported value is this plug-in FD_n",
                 units="squared units of the world judge's 256-d feature embedding; >= 0, not comparable across "
                       "judges or with published FID",
                 interval="basic (reverse percentile) bootstrap over both sets, reference rows and generated rows each "
                          "redrawn independently, at the protocol's bootstrap level and count; it targets the "
                          "population FD, so it can lie below the reported FD_n and reach below 0 (docs/intervals.md)",
                 sensitive="sample size: FD_n is biased upward, by roughly feature width / n, so compare FDs only "
                           "between sets of equal size against the same reference; the judge network and its "
                           "features")
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


@register_metric("kid_world", family="realism", higher_is_better=False, reads=("features",),
                 what="KID (clean-fid's kernel inception distance, with seeded subsets) on the world judge's "
                      "features: the unbiased squared MMD between the scored set and the reference under a cubic "
                      "polynomial kernel.",
                 formula="mean over the protocol's kid_subsets (100) seeded subsets of m = min(n_r, n_g, "
                         "kid_subset_size) rows of each set of the unbiased MMD^2 U-statistic with kernel "
                         "k(x, y) = (x.y / d + 1)^3",
                 units="raw MMD^2 in the kernel's units (not multiplied by 1000 as some papers print it); unbiased, "
                       "so it can be slightly negative when the sets are close",
                 interval="percentile bootstrap over both sets (reference and generated rows redrawn independently) "
                          "of the complete U-statistic, at the protocol's bootstrap level and count; it targets the "
                          "population MMD^2 (docs/intervals.md)",
                 sensitive="the judge's features and the kernel's scale (feature width d); unbiased in n, but "
                           "noisier at small n; the choice of subsets adds a little variance the interval omits")
def kid(x: ScoreInputs) -> Value:
    """Unbiased polynomial-kernel MMD^2 over seeded subsets; interval for the population MMD^2 from a bootstrap of
    the complete U-statistic over both sets (bench.metrics.realism.kid_summary, docs/intervals.md)."""
    fr, fg = _features(x)
    rz = x.proto.realism
    v, _, ci = R.kid_summary(fr, fg, rz.kid_subsets, rz.kid_subset_size, **x.boot)  # subsets: the bootstrap seed
    return Value(v, x.n, ci,
                 {"n_reference": len(fr), "ci_method": _ci_method(R.KID_CI_METHOD, x.boot["n_boot"]) +
                  ", complete U-statistic", "ci_target": "population MMD^2"})


def _manifold(x: ScoreInputs) -> tuple[float, float, float, float]:
    """(precision, recall, density, coverage) from one (generated, reference) distance matrix, dropped after."""
    def compute():
        fr, fg = _features(x)
        d = R.fake_real_distances(fr, fg)  # (n_generated, n_reference)
        rz = x.proto.realism
        return (*R.precision_recall(fr, fg, k=rz.k_pr, dists=d), *R.density_coverage(fr, fg, k=rz.k_dc, dists=d))
    return x.memo("manifold", compute)


def _pr(x: ScoreInputs) -> tuple[float, float]:
    return _manifold(x)[:2]


def _dc(x: ScoreInputs) -> tuple[float, float]:
    return _manifold(x)[2:]


@register_metric("precision", family="realism", higher_is_better=True, label="prec.", reads=("features",),
                 what="Improved precision (Kynkaanniemi et al. 2019): the share of generated images that fall inside "
                      "the real-image manifold, estimated by k-nearest-neighbour balls around the reference features.",
                 formula="mean over generated rows g of [exists reference row r: ||g - r|| <= radius_k(r)], radius_k "
                         "= distance from r to its k-th nearest reference neighbour, k = the protocol's k_pr (3)",
                 units="share of generated rows, 0-1",
                 interval="none (a point value; no interval is computed)",
                 sensitive="k and the reference size (larger balls at small n_r inflate it); reference outliers, "
                           "whose large balls admit poor samples")
def precision(x: ScoreInputs) -> Value:
    return Value(_pr(x)[0], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("recall", family="realism", higher_is_better=True, label="recall", reads=("features",),
                 what="Improved recall (Kynkaanniemi et al. 2019): the share of reference images that fall inside "
                      "the generated set's manifold, estimated by k-nearest-neighbour balls around generated features.",
                 formula="mean over reference rows r of [exists generated row g: ||r - g|| <= radius_k(g)], "
                         "radius_k = distance from g to its k-th nearest generated neighbour, k = k_pr (3)",
                 units="share of reference rows, 0-1",
                 interval="none (a point value; no interval is computed)",
                 sensitive="k and the generated set's size; generated outliers, whose large balls cover real images "
                           "they do not resemble")
def recall(x: ScoreInputs) -> Value:
    return Value(_pr(x)[1], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("density", family="realism", higher_is_better=True, reads=("features",),
                 what="Density (Naeem et al. 2020): how many reference neighbourhoods each generated image falls "
                      "in, on average, relative to k (a precision that counts, and is robust to reference outliers).",
                 formula="sum over generated rows g and reference rows r of [||g - r|| <= radius_k(r)] / (k n_g), "
                         "radius_k(r) = distance to r's k-th nearest reference neighbour, k = k_dc (5)",
                 units="mean count / k; about 1 when the generated set matches the reference, can exceed 1",
                 interval="none (a point value; no interval is computed)",
                 sensitive="k and the reference size; rises above 1 for sets concentrated in dense reference regions "
                           "(a collapsed set can score high)")
def density(x: ScoreInputs) -> Value:
    return Value(_dc(x)[0], x.n, extra={"n_reference": len(x.ref["features"])})


@register_metric("coverage", family="realism", higher_is_better=True, reads=("features",),
                 what="Coverage (Naeem et al. 2020): the share of reference images whose k-nearest-neighbour ball "
                      "holds at least one generated image (a recall that ignores generated outliers).",
                 formula="mean over reference rows r of [exists generated row g: ||g - r|| <= radius_k(r)], "
                         "radius_k(r) = distance to r's k-th nearest reference neighbour, k = k_dc (5)",
                 units="share of reference rows, 0-1",
                 interval="none (a point value; no interval is computed)",
                 sensitive="k, the reference size and the generated set's size (more generated rows cover more)")
def coverage(x: ScoreInputs) -> Value:
    return Value(_dc(x)[1], x.n, extra={"n_reference": len(x.ref["features"])})


# the photograph protocols (faces-v1) read the same statistics on face-api's identity descriptor
fd_identity = register_metric(
    "fd_identity", family="realism", higher_is_better=False, label="FD id", title="FD (identity descriptor)",
    reads=("features",),
    what="Frechet distance between Gaussians fitted to face-api's identity descriptors of the scored photographs and "
         "of the user's reference photographs (fd_world's statistic on the faces judge's features).",
    formula="||mu_r - mu_g||^2 + Tr S_r + Tr S_g - 2 Tr sqrt(S_r S_g) over the 128-d identity descriptors; the "
            "reported value is the plug-in FD_n",
    units="squared identity-descriptor units; >= 0, not comparable with FID on Inception features",
    interval="basic (reverse percentile) bootstrap over both sets, reference and generated rows redrawn "
             "independently, at the protocol's bootstrap level and count; it targets the population FD, so it can "
             "lie below the reported FD_n (docs/intervals.md)",
    sensitive="sample size: FD_n is biased upward, by roughly feature width / n, so compare only sets of equal size "
              "against the same reference (each reference is its own protocol hash); faces the detector missed are "
              "left out")(fd)
kid_identity = register_metric(
    "kid_identity", family="realism", higher_is_better=False, title="KID (identity descriptor)", reads=("features",),
    what="Unbiased squared MMD between face-api's identity descriptors of the scored photographs and of the "
         "reference photographs, with KID's cubic polynomial kernel (kid_world on the faces judge's features).",
    formula="mean over the protocol's kid_subsets seeded subsets of m = min(n_r, n_g, kid_subset_size) rows of each "
            "set of the unbiased MMD^2 U-statistic with kernel k(x, y) = (x.y / d + 1)^3, d = 128",
    units="raw MMD^2 in the kernel's units (not multiplied by 1000); can be slightly negative when the sets are close",
    interval="percentile bootstrap over both sets (reference and generated rows redrawn independently) of the "
             "complete U-statistic, at the protocol's bootstrap level and count (docs/intervals.md)",
    sensitive="unbiased in n but noisy for small sets (photograph sets are often small); the reference set chosen")(kid)


@register_metric("face_yield", family="realism", higher_is_better=True, label="face yield",
                 title="face yield (one face per image)",
                 what="The share of the generator's source images in which the import's face detector found exactly "
                      "one face (no face, a partial face or two faces are a face generator's failures).",
                 formula="#(images with exactly one detected face) / #(source images), from the face counts "
                         "`augen import` records",
                 units="share of source images, 0-1",
                 interval="95% Wilson score interval for a binomial share (nothing resampled; z = 1.96, not the "
                          "protocol's bootstrap)",
                 sensitive="the detector and its confidence threshold at import; the images' framing (crops with "
                           "several faces count as failures)")
def face_yield(x: ScoreInputs) -> Value:
    """Share of the source images with exactly one detected face; Wilson interval (a binomial share)."""
    counts = x.facts.get("face_counts")
    if counts is None:
        raise NotApplicable("the set records no face counts (import it with `augen import`)")
    out = F.face_yield(counts)
    return Value(out["value"], out["n"], tuple(out["ci95"]),
                 {"none": out["none"], "several": out["several"], "ci_method": "Wilson score interval"})
