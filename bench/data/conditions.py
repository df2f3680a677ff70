"""Conditions: what a protocol asks a generator for, one request per sample, and readers of condition files.

A Condition carries the index, seed, prompt, target AU vector, expression and optional identity/demographic
targets of one request; `read_condition_file` reads MAUGen's sample format (a prompt and the 12 DISFA12
intensities per entry). World protocols build their suites in `bench.world.conditions`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, N_AUS


@dataclass(frozen=True)
class Condition:
    """One request of a protocol's condition suite."""

    index: int  # position in the suite (also names the output file)
    seed: int  # seed the generator should use for this sample
    prompt: str  # text description (MAUGen-style caption of the AU vector)
    aus: np.ndarray  # (17,) float32 target AU intensities 0-5 (NaN = unconstrained)
    expression: int  # target AffectNet code 0-7 (-1 = unconstrained)
    identity: str = ""  # optional identity key to reproduce
    demographics: dict[str, int] = field(default_factory=dict)  # optional demographic targets


def read_condition_file(path: str | Path, labelled_aus: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
                        ) -> list[Condition]:
    """Conditions from a JSON list (or JSON-lines) of `{"prompt": str, "intensity": [12 numbers 0-5]}` entries,
    the format of MAUGen's sample file (intensities of the DISFA12 AUs, in that order); optional "seed" (int).

    Every entry is checked; the first bad one raises DataError naming the file and entry (1-based).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such condition file")
    if path.stat().st_size > 64 << 20:
        raise DataError(path, "condition file is over 64 MiB")
    text = path.read_text(encoding="utf-8")
    try:
        entries = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise DataError(path, f"not JSON or JSON lines: {e.msg}", e.lineno) from None
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or not isinstance(e.get("prompt"), str):
            raise DataError(path, "entry needs a string 'prompt'", i)
        v = e.get("intensity")
        if (not isinstance(v, list) or len(v) != len(labelled_aus)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            raise DataError(path, f"'intensity' must be a list of {len(labelled_aus)} numbers", i)
        if any(math.isnan(x) or not 0 <= x <= 5 for x in v):
            raise DataError(path, f"intensities must be in [0, 5], got {v}", i)
        seed = e.get("seed", i - 1)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise DataError(path, f"'seed' must be a non-negative integer, got {seed!r}", i)
        aus = np.full(N_AUS, np.nan, dtype=np.float32)
        aus[[AU_INDEX[a] for a in labelled_aus]] = v
        out.append(Condition(index=i - 1, seed=seed, prompt=e["prompt"], aus=aus, expression=-1))
    if not out:
        raise DataError(path, "no conditions")
    return out
