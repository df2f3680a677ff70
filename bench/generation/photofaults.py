"""Graded faults on a set of real face crops: the metric sanity check on real pixels (bench.studies.realfaults).

The world's faults (bench.generation.faults) spoil rendered faces whose truth is known; these spoil a set of real
aligned face crops with their claimed labels, graded by a severity in [0, 1] (0: the set unchanged, the very arrays
returned; 1: the strongest of the graded range). The pixel faults are the world's own functions (`gaussian_blur`,
`jpeg_roundtrip`, `add_pixel_noise`, `colour_cast`), applied to every crop; the set faults change which rows the set
holds or which labels they claim:

    pixels       blur, jpeg, noise, colour_cast: every crop degraded, labels kept
    rows         identity_repeat: a share of the rows replaced by copies of one face (its image and labels)
    expression   expression_shuffle: the claimed expressions of a share of the rows rotated among those rows
    aus          au_shuffle: the claimed AU vectors of a share of the rows rotated among those rows

Every draw is a function of (seed, fault, row) or (seed, fault, n): the rows a severity hits are the first
round(share * n) of one seeded permutation, so a higher severity hits a superset of the rows a lower one hits.
`PHOTO_FAULTS` says per fault what the severity sets and which metrics it is expected to worsen (a family or
metric names): the expectation the study checks, stated before any number exists.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.core.errors import UsageError
from bench.generation.faults import add_pixel_noise, colour_cast, gaussian_blur, jpeg_roundtrip

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the graded severities a study scores, 0 = the clean set


@dataclass(frozen=True)
class PhotoFault:
    """One fault on a face set: what it touches, what the severity sets, what it should worsen."""

    target: str  # pixels, rows, expression or aus
    parameter: str  # what the severity sets, in words (with units)
    strength: Callable[[float], float]  # severity (0-1) -> parameter value
    worsens: tuple[str, ...]  # metric families or metric names expected to get worse as the severity grows
    doc: str  # what the fault does


PHOTO_FAULTS: dict[str, PhotoFault] = {
    "blur": PhotoFault("pixels", "Gaussian blur std (px of the crop)", lambda s: 4.0 * s, ("realism",),
                       "every crop blurred"),
    "jpeg": PhotoFault("pixels", "JPEG quality", lambda s: float(round(95 - 90 * s)), ("realism",),
                       "every crop JPEG-compressed (severity 0: not encoded at all)"),
    "noise": PhotoFault("pixels", "Gaussian noise std (0-255)", lambda s: 48.0 * s, ("realism",),
                        "Gaussian pixel noise added to every crop"),
    "colour_cast": PhotoFault("pixels", "red gain - 1 (blue gain 1 - it)", lambda s: 0.4 * s, ("realism",),
                              "a warm colour cast on every crop"),
    "identity_repeat": PhotoFault("rows", "share of the other faces replaced", lambda s: float(s), ("diversity",),
                                  "this share of the rows replaced by copies of one face (image and labels)"),
    "expression_shuffle": PhotoFault("expression", "share of rows shuffled", lambda s: float(s),
                                     ("expression_accuracy", "expression_kappa"),
                                     "the claimed expressions of this share of the rows rotated among them"),
    "au_shuffle": PhotoFault("aus", "share of rows shuffled", lambda s: float(s), ("au_f1", "au_kappa", "au_icc"),
                             "the claimed AU vectors of this share of the rows rotated among them"),
}


def expected(fault: str, metric: str, family: str) -> bool:
    """Whether `fault` is expected to worsen `metric` (of `family`)."""
    w = PHOTO_FAULTS[fault].worsens
    return metric in w or family in w


def _key(fault: str) -> int:
    return zlib.crc32(fault.encode())


def hit_rows(n: int, share: float, seed: int, fault: str) -> np.ndarray:
    """(round(share * n),) the rows a fault hits: a prefix of one seeded permutation of the n rows (nested in
    share)."""
    order = np.random.default_rng([seed, _key(fault), n]).permutation(n)
    return order[:int(round(share * n))]


def repeat_rows(n: int, share: float, seed: int, fault: str = "identity_repeat") -> np.ndarray:
    """(n,) the row each output row takes: the permutation's first row is the repeated face, and a `share` of the
    other n - 1 rows (the permutation's next ones) take it; the rest keep their own."""
    order = np.random.default_rng([seed, _key(fault), n]).permutation(n)
    rows = np.arange(n)
    rows[order[1:1 + int(round(share * (n - 1)))]] = order[0]
    return rows


def rotate_rows(n: int, share: float, seed: int, fault: str) -> np.ndarray:
    """(n,) the row whose label each row claims: the hit rows (`hit_rows`) each take the next hit row's label (a
    rotation, so with two or more hit rows none keeps its own row's label); the rest keep their own."""
    hit = hit_rows(n, share, seed, fault)
    rows = np.arange(n)
    rows[hit] = np.roll(hit, -1)
    return rows


def spoil_pixels(image: np.ndarray, fault: str, value: float, rng: np.random.Generator) -> np.ndarray:
    """One (H, W, 3) uint8 crop through a pixel fault whose parameter is `value`."""
    if fault == "blur":
        return gaussian_blur(image, value)
    if fault == "jpeg":
        return jpeg_roundtrip(image, int(value))
    if fault == "noise":
        return add_pixel_noise(image, value, rng)
    if fault == "colour_cast":
        return colour_cast(image, value)
    raise AssertionError(f"{fault} is not a pixel fault")


def apply(fault: str, severity: float, images: np.ndarray, intensity: np.ndarray, expression: np.ndarray,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A face set (images (n, H, W, 3) uint8, claimed intensity (n, 17), claimed expression (n,)) with `fault` at
    `severity` -> the same three arrays spoiled; severity 0 returns the inputs themselves."""
    if fault not in PHOTO_FAULTS:
        raise UsageError(f"unknown fault {fault!r}; known: {', '.join(PHOTO_FAULTS)}")
    if isinstance(severity, bool) or not isinstance(severity, int | float) or not 0.0 <= severity <= 1.0:
        raise UsageError(f"{fault}: severity must be a number in [0, 1], not {severity!r}")
    if severity == 0:
        return images, intensity, expression
    spec, n = PHOTO_FAULTS[fault], len(images)
    value = spec.strength(float(severity))
    if spec.target == "pixels":
        spoiled = [spoil_pixels(img, fault, value, np.random.default_rng([seed, _key(fault), i]))
                   for i, img in enumerate(images)]
        return np.stack(spoiled), intensity, expression
    if spec.target == "rows":
        rows = repeat_rows(n, value, seed, fault)
        return images[rows], intensity[rows], expression[rows]
    rows = rotate_rows(n, value, seed, fault)
    if spec.target == "expression":
        return images, intensity, expression[rows]
    return images, intensity[rows], expression
