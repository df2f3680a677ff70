"""The pins' bounds (tests/helpers/pins.py) pass float-kernel drift and catch a change in sampling."""

from __future__ import annotations

import numpy as np

from tests.helpers.pins import compare


def _samples(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"images": rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8),
            "intensity": rng.integers(0, 6, (4, 17)).astype(np.float32),
            "expression": rng.integers(0, 8, 4)}


def test_drift_of_float_kernels_passes():
    want = _samples()
    got = {k: v.copy() for k, v in want.items()}
    got["images"][0, 3, 4, 1] ^= 1  # one pixel channel one level off
    got["expression"][2] = (got["expression"][2] + 1) % 8  # one near-tie flips
    assert compare(want, got) == []


def test_a_change_in_sampling_is_caught():
    want = _samples()
    other = _samples(seed=1)  # other images and labels, as a different scheduler or guidance would give
    problems = compare(want, other)
    assert any(p.startswith("images: mean") for p in problems)
    assert any(p.startswith("intensity") for p in problems) and any(p.startswith("expression") for p in problems)
    brighter = {**want, "images": np.clip(want["images"].astype(int) + 12, 0, 255).astype(np.uint8)}
    assert [p.split(":")[0] for p in compare(want, brighter)] == ["images", "images"]
    assert compare(want, {**want, "images": want["images"][:2]})[0].startswith("images: shape")
