"""Memorization: how close generated samples sit to the generator's training data.

`nn_distances` gives each generated sample's nearest-neighbour distance to the training features;
`near_copy_share` calls a sample a near copy when that distance is below what held-out *real* samples
achieve at a low quantile, so the figure is calibrated: a generator that never copies scores about
`quantile`, one that replays its training images scores near 1.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.realism import pairwise_sq_dists


def nn_distances(query: np.ndarray, reference: np.ndarray, block: int = 1024) -> np.ndarray:
    """(len(query),) Euclidean distance from each query row to its nearest reference row."""
    out = np.empty(len(query))
    for lo in range(0, len(query), block):
        out[lo:lo + block] = np.sqrt(pairwise_sq_dists(query[lo:lo + block], reference).min(1))
    return out


def near_copy_share(gen_to_train: np.ndarray, holdout_to_train: np.ndarray, quantile: float = 0.01) -> float:
    """Share of generated samples closer to the training set than the `quantile` of held-out real samples."""
    threshold = np.quantile(np.asarray(holdout_to_train, np.float64), quantile)
    return float((np.asarray(gen_to_train) < threshold).mean())
