"""Memorization: nearest-neighbour distance from each scored image to the protocol's train reference, and the
share of near copies (closer than the `near_copy_quantile` of held-out reference images)."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import memorization as M
from bench.scoring.context import NotApplicable, ScoreInputs, Value


def _distances(x: ScoreInputs) -> tuple[np.ndarray, np.ndarray]:
    """(generated -> train, reference -> train) nearest-neighbour distances in judge feature space."""
    if x.train.get("features") is None:
        raise NotApplicable("no training set to compare with (faces protocols: --train-set, the generator's "
                            "declared training faces)")

    def compute():
        ft = x.train["features"].astype(np.float64)
        return (M.nn_distances(x.gen["features"].astype(np.float64), ft),
                M.nn_distances(x.ref["features"].astype(np.float64), ft))
    return x.memo("nn", compute)


@register_metric("nn_distance_to_train", family="memorization", higher_is_better=True, reads=("features",),
                 what="How far the scored images sit from the generator's training data: the mean distance from each "
                      "image's judge features to its nearest neighbour in the protocol's train reference (world "
                      "train images; on photographs the generator's declared training set, --train-set).",
                 formula="mean over generated rows g of min over train rows t of ||f_g - f_t|| (Euclidean, judge "
                         "features)",
                 units="Euclidean distance in the judge's feature units (not comparable across judges)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="realism as much as copying: a poor generator, far from every real image, scores high; "
                           "the train reference's size (more rows, smaller distances); n/a without a training set")
def nn_distance_to_train(x: ScoreInputs) -> Value:
    return Value(float(_distances(x)[0].mean()), x.n)


@register_metric("near_copy_share", family="memorization", higher_is_better=False, reads=("features",),
                 what="The share of scored images that are near copies of training images: closer to the train "
                      "reference than all but the closest few held-out real images are (calibrated: about the "
                      "quantile for a generator that never copies, near 1 for one that replays its training set).",
                 formula="mean over generated rows of [d(g) < Q_q(d(r))], d = nearest-neighbour distance to the train "
                         "reference, r = the protocol's held-out reference images, q = memorization.near_copy_quantile "
                         "(0.01)",
                 units="share of generated rows, 0-1; the expected value without copying is q",
                 interval="none (a point value; no interval is computed)",
                 sensitive="the quantile q and the reference size (Q_0.01 of 2000 rows rests on the closest ~20); "
                           "realism: a generator too poor to resemble real faces never copies, so the board does "
                           "not rank by it; n/a without a training set")
def near_copy_share(x: ScoreInputs) -> Value:
    d_gen, d_ref = _distances(x)
    return Value(M.near_copy_share(d_gen, d_ref, x.proto.memorization.near_copy_quantile), x.n)


def copy_pools(x: ScoreInputs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real data the protocol touches, each with held-out real images to calibrate against: {pool: (pool features,
    held-out features)}: the train reference (held out: the reference split), the reference split itself (held out:
    the train reference) and, on the world, the real images of the conditions the set answers (held out: the
    reference split)."""
    pools = {}
    if x.train.get("features") is not None:
        pools["train"] = (x.train["features"], x.ref["features"])
        pools["reference"] = (x.ref["features"], x.train["features"])
    cond = x.facts.get("conditions_real")
    if cond is not None:
        pools["conditions"] = (cond["features"], x.ref["features"])
    return pools


@register_metric("real_copy_share", family="memorization", higher_is_better=False, reads=("features",),
                 what="The share of scored images that are near copies of any real data the protocol touches: its "
                      "train reference (what generators learn from), its reference (test) split and, on the world, "
                      "the real images of the conditions themselves; the largest of the pools' shares. The copy gate "
                      "(headline.copy_max_share, world-v3 on) lists a set above it without ranking it.",
                 formula="max over pools P of mean over generated rows g of [min_p ||f_g - f_p|| < Q_q(d_H)], d_H = "
                         "nearest-neighbour distances to P of held-out real rows (train pool: the reference split; "
                         "reference pool: the train reference; conditions pool: the reference split), q = "
                         "memorization.near_copy_quantile",
                 units="share of generated rows, 0-1; about q per pool for a set that copies nothing, 1 for exact "
                       "re-renders (an exact copy sits at distance 0)",
                 interval="none (a point value; the gate compares it with the protocol's stated threshold)",
                 sensitive="copies outside the pools go unseen (world-v3's train reference: the first 4,000 world "
                           "train images; a train copy beyond them is a near copy only if it sits closer than real "
                           "faces do); the quantile q and the pools' sizes")
def real_copy_share(x: ScoreInputs) -> Value:
    def compute():
        return {name: M.near_copy_share(M.nn_distances(x.gen["features"].astype(np.float64), p.astype(np.float64)),
                                        M.nn_distances(h.astype(np.float64), p.astype(np.float64)),
                                        x.proto.memorization.near_copy_quantile)
                for name, (p, h) in copy_pools(x).items()}
    shares = x.memo("copy_pools", compute)
    if not shares:
        raise NotApplicable("no real data to compare with")
    return Value(max(shares.values()), x.n, extra={"pools": shares})
