"""Output pins of the committed tiny checkpoints: a few samples' images and labels kept in tests/fixtures/pins/ and
compared within what float kernels move between CPU kinds.

Why not a digest: the same code and weights give bytes that differ between CPU kinds (AVX2 vs AVX-512 kernels,
and between two AMD EPYC generations): a pixel one level off, now and then. A code change that alters sampling
(scheduler, steps, guidance, conditioning) moves images by tens of levels and labels by whole units, far outside the
bounds below. Re-pin after an intended change with `AUGEN_REPIN=1 pytest TEST`: the test then writes the fixture
and fails, naming the file to commit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pins"

IMAGE_MEAN_LEVELS = 1.0  # mean |difference| over every pixel channel, in 0-255 levels
IMAGE_FAR_LEVELS = 8  # a pixel channel this many levels off counts as far ...
IMAGE_FAR_SHARE = 0.01  # ... and at most this share of them may be
INTENSITY_OFF = 0.5  # an AU intensity this far off counts as a different label ...
INTENSITY_OFF_SHARE = 0.05  # ... and at most this share of (sample, AU) cells may be
EXPRESSION_OFF = 1  # samples whose expression code may differ (a logit near a tie)


def sample_arrays(samples: Iterable) -> dict[str, np.ndarray]:
    """images (n, H, W, 3) uint8, intensity (n, 17) float32 with NaN -> -1, expression (n,) int64."""
    s = list(samples)
    return {"images": np.stack([np.ascontiguousarray(x.image) for x in s]),
            "intensity": np.stack([np.nan_to_num(np.asarray(x.intensity, np.float32), nan=-1) for x in s]),
            "expression": np.array([int(x.expression) for x in s], np.int64)}


def compare(want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> list[str]:
    """What lies outside the bounds (empty when the samples match)."""
    out = []
    for k in want:
        if want[k].shape != got[k].shape:
            return [f"{k}: shape {got[k].shape}, pinned {want[k].shape}"]
    d = np.abs(want["images"].astype(np.int16) - got["images"].astype(np.int16))
    if d.mean() > IMAGE_MEAN_LEVELS:
        out.append(f"images: mean |difference| {d.mean():.3f} levels > {IMAGE_MEAN_LEVELS}")
    if (d >= IMAGE_FAR_LEVELS).mean() > IMAGE_FAR_SHARE:
        out.append(f"images: {(d >= IMAGE_FAR_LEVELS).mean():.4f} of pixel channels {IMAGE_FAR_LEVELS}+ levels off")
    off = np.abs(want["intensity"] - got["intensity"]) > INTENSITY_OFF
    if off.mean() > INTENSITY_OFF_SHARE:
        out.append(f"intensity: {off.mean():.3f} of cells off by more than {INTENSITY_OFF}")
    if (want["expression"] != got["expression"]).sum() > EXPRESSION_OFF:
        out.append(f"expression: {got['expression'].tolist()}, pinned {want['expression'].tolist()}")
    return out


def assert_pinned(samples: Iterable, name: str) -> None:
    """The samples match tests/fixtures/pins/NAME.npz within the bounds above (module docstring)."""
    got = sample_arrays(samples)
    path = FIXTURES / f"{name}.npz"
    if os.environ.get("AUGEN_REPIN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **got)
        raise AssertionError(f"pinned anew: commit {path.relative_to(FIXTURES.parents[2])}")
    assert path.is_file(), f"no pin {path.name}: run this test with AUGEN_REPIN=1 and commit the file"
    with np.load(path) as z:
        want = {k: z[k] for k in z.files}
    problems = compare(want, got)
    assert not problems, f"{name} moved: " + "; ".join(problems)
