"""Face metrics on detector counts: face yield, the share of a generator's images that hold exactly one detectable
face (a face generator's real failure mode: no face, a partial face, two faces).

`face_yield(counts)` returns the share with its 95 % Wilson score interval (Wilson 1927), which resamples nothing:
it is the binomial interval for a share of n independent images, and stays inside [0, 1] at 0 and n successes.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share successes / n."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def face_yield(face_counts: np.ndarray) -> dict:
    """(n,) faces found per image -> {value, ci95, n, one, none, several}: the share with exactly one face."""
    counts = np.asarray(face_counts)
    if counts.ndim != 1 or (len(counts) and (counts.min() < 0 or not np.issubdtype(counts.dtype, np.integer))):
        raise ValueError("face_yield: face counts must be a 1-D array of non-negative integers")
    n, one = len(counts), int((counts == 1).sum())
    return {"value": one / n if n else math.nan, "ci95": list(wilson_interval(one, n)), "n": n, "one": one,
            "none": int((counts == 0).sum()), "several": int((counts > 1).sum())}
