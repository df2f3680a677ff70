"""The AU vocabulary: canonical Action Units, named subsets, intensity/occurrence rules, expressions.

Everything that reads or writes labels goes through these names so that every dataset, tool output and
generator lands on one canonical 17-AU vector (FACS numbers, intensity 0-5, NaN = not labelled).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

#: Canonical FACS AU numbers, in column order.
AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)
#: Column name of each canonical AU in labels.csv ("AU01" ... "AU26").
AU_COLUMNS: tuple[str, ...] = tuple(f"AU{a:02d}" for a in AUS)
#: Column name of each optional occurrence-probability column ("AU01_p" ...).
AU_P_COLUMNS: tuple[str, ...] = tuple(f"{c}_p" for c in AU_COLUMNS)
N_AUS = len(AUS)
AU_INDEX: dict[int, int] = {a: i for i, a in enumerate(AUS)}

#: FACS names of the canonical AUs (MAUGen initialises its AU cue tokens from these).
AU_NAMES: dict[int, str] = {
    1: "Inner Brow Raiser", 2: "Outer Brow Raiser", 4: "Brow Lowerer", 5: "Upper Lid Raiser",
    6: "Cheek Raiser", 7: "Lid Tightener", 9: "Nose Wrinkler", 10: "Upper Lip Raiser",
    12: "Lip Corner Puller", 14: "Dimpler", 15: "Lip Corner Depressor", 17: "Chin Raiser",
    20: "Lip Stretcher", 23: "Lip Tightener", 24: "Lip Presser", 25: "Lips Part", 26: "Jaw Drop",
}

#: Named AU subsets used by datasets and protocols.
SUBSETS: dict[str, tuple[int, ...]] = {
    "ALL17": AUS,
    "BP4D12": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),  # occurrence F1 (BP4D)
    "DISFA12": (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26),  # intensity (DISFA); MAUGen's label set
    "DISFA8": (1, 2, 4, 6, 9, 12, 25, 26),
    "FERA5": (6, 10, 12, 14, 17),
    # DISFA12's AUs the blendshapes reader reads (bench.judges.blendshapes.mapping.READABLE_AUS; a test checks): it
    # cannot read AU5, AU6, AU9 (dead blendshapes); faces-v1's au_reader scores these
    "DISFA12_BLENDSHAPES": (1, 2, 4, 12, 15, 17, 20, 25, 26),
}

INTENSITY_MIN, INTENSITY_MAX = 0.0, 5.0
#: Default occurrence threshold on intensity (FACS A = 1); DISFA's convention is 2.
DEFAULT_THRESHOLD = 1.0
DISFA_THRESHOLD = 2.0

#: Expression classes, AffectNet codes.
EXPRESSIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
N_EXPRESSIONS = len(EXPRESSIONS)
#: EMFACS prototype AUs of each expression on real faces (Ekman & Friesen, as tabulated in docs/sources.md), in
#: canonical AUs: what a posed photograph of the expression should show. Disgust's AU16 is outside the canonical
#: set (9+15 remain); contempt is one-sided 12+14. The world's generative table (bench.world.params.PROTOTYPES)
#: differs on purpose (its disgust is 9+10+15); this one is for photographs: validating AU readers, and the
#: claimed AUs of expression-labelled photos.
EMFACS_PROTOTYPES: dict[str, tuple[int, ...]] = {
    "neutral": (), "happy": (6, 12), "sad": (1, 4, 15), "surprise": (1, 2, 5, 26), "fear": (1, 2, 4, 5, 7, 20, 26),
    "disgust": (9, 15), "anger": (4, 5, 7, 23), "contempt": (12, 14),
}


def au_column(au: int) -> str:
    """'AU01'-style column name of a canonical AU; raises for AUs outside the vocabulary."""
    if au not in AU_INDEX:
        raise KeyError(f"AU{au} is not a canonical AU (canonical: {', '.join(map(str, AUS))})")
    return AU_COLUMNS[AU_INDEX[au]]


def subset(name: str) -> tuple[int, ...]:
    """AU numbers of a named subset ('BP4D12', 'DISFA12', 'DISFA8', 'FERA5', 'ALL17')."""
    try:
        return SUBSETS[name]
    except KeyError:
        raise KeyError(f"unknown AU subset {name!r}; known: {', '.join(SUBSETS)}") from None


def subset_indices(aus: str | Sequence[int]) -> list[int]:
    """Positions in the canonical vector of a subset given by name or by AU numbers."""
    numbers = subset(aus) if isinstance(aus, str) else tuple(aus)
    return [AU_INDEX[a] if a in AU_INDEX else _raise_unknown(a) for a in numbers]


def _raise_unknown(au: int) -> int:
    raise KeyError(f"AU{au} is not a canonical AU")


def empty_intensities(n: int | None = None) -> np.ndarray:
    """An all-NaN (not labelled) intensity vector (17,) or matrix (n, 17), float32."""
    shape = (N_AUS,) if n is None else (n, N_AUS)
    return np.full(shape, np.nan, dtype=np.float32)


def occurrence(intensity: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Occurrence from intensity (..., 17): 1.0 where >= threshold, 0.0 below, NaN where unlabelled."""
    intensity = np.asarray(intensity, dtype=np.float32)
    out = (intensity >= threshold).astype(np.float32)
    out[np.isnan(intensity)] = np.nan
    return out


def vector_from_mapping(values: dict[int, float], allow_unknown: bool = False) -> np.ndarray:
    """Canonical (17,) float32 vector from {AU number: intensity}; missing AUs are NaN."""
    vec = empty_intensities()
    for au, v in values.items():
        if au not in AU_INDEX:
            if allow_unknown:
                continue
            raise KeyError(f"AU{au} is not a canonical AU")
        vec[AU_INDEX[au]] = v
    return vec


def expression_code(name_or_code: str | int) -> int:
    """AffectNet code (0-7) from a name ('happy') or a code; raises for anything else."""
    if isinstance(name_or_code, (int, np.integer)):
        code = int(name_or_code)
        if 0 <= code < N_EXPRESSIONS:
            return code
        raise ValueError(f"expression code {code} outside 0-{N_EXPRESSIONS - 1}")
    key = str(name_or_code).strip().lower()
    if key in EXPRESSIONS:
        return EXPRESSIONS.index(key)
    raise ValueError(f"unknown expression {name_or_code!r}; known: {', '.join(EXPRESSIONS)}")


def format_aus(intensity: Iterable[float], threshold: float = DEFAULT_THRESHOLD) -> str:
    """Short human label of the active AUs, e.g. '6:2.5 12:3.1' (used on contact sheets)."""
    parts = [f"{au}:{v:.1f}" for au, v in zip(AUS, intensity) if not math.isnan(v) and v >= threshold]
    return " ".join(parts) if parts else "-"
