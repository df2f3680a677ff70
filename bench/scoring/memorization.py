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


@register_metric("nn_distance_to_train", family="memorization", higher_is_better=True, reads=("features",))
def nn_distance_to_train(x: ScoreInputs) -> Value:
    return Value(float(_distances(x)[0].mean()), x.n)


@register_metric("near_copy_share", family="memorization", higher_is_better=False, reads=("features",))
def near_copy_share(x: ScoreInputs) -> Value:
    d_gen, d_ref = _distances(x)
    return Value(M.near_copy_share(d_gen, d_ref, x.proto.memorization.near_copy_quantile), x.n)
