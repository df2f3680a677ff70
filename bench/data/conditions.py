"""Conditions: what a protocol asks a generator for, one request per sample, and readers of condition files.

A Condition carries the index, seed, prompt, target AU vector, expression and optional identity/demographic
targets of one request. `read_condition_file` reads MAUGen's sample format (a prompt and the 12 DISFA12
intensities per entry) and the suite files `export_conditions` writes (`augen conditions`: JSON lines with every
field, or a CSV of the same columns for reading). World protocols build their suites in `bench.world.conditions`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.data.aus import AU_COLUMNS, AU_INDEX, EXPRESSIONS, N_AUS


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


DEMOGRAPHICS = ("skin_tone", "gender", "age_group")  # the demographic targets a suite may carry, in CSV order


def condition_record(c: Condition) -> dict:
    """One condition as a JSON-able record: index, seed, prompt, aus {"AU01": v, ...} (unconstrained AUs left out),
    expression (AffectNet code, null when unconstrained) and its name, identity, demographics."""
    return {"index": c.index, "seed": c.seed, "prompt": c.prompt,
            "aus": {col: round(float(v), 4) for col, v in zip(AU_COLUMNS, c.aus) if not math.isnan(v)},
            "expression": c.expression if c.expression >= 0 else None,
            "expression_name": EXPRESSIONS[c.expression] if c.expression >= 0 else None,
            "identity": c.identity, "demographics": dict(c.demographics)}


def export_conditions(conditions: list[Condition], out: str | Path) -> Path:
    """Write a suite (atomically) as JSON lines (`.jsonl`, read back by `read_condition_file`) or CSV (`.csv`:
    index, seed, prompt, AU01..AU26 (empty = unconstrained), expression, expression_name, identity, demographics)."""
    out = Path(out)
    records = [condition_record(c) for c in conditions]
    if out.suffix == ".jsonl":
        atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in records))
    elif out.suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["index", "seed", "prompt", *AU_COLUMNS, "expression", "expression_name", "identity",
                    *DEMOGRAPHICS])
        for r in records:
            w.writerow([r["index"], r["seed"], r["prompt"], *[r["aus"].get(col, "") for col in AU_COLUMNS],
                        "" if r["expression"] is None else r["expression"], r["expression_name"] or "", r["identity"],
                        *[r["demographics"].get(k, "") for k in DEMOGRAPHICS]])
        atomic_write_text(out, buf.getvalue())
    else:
        raise UsageError(f"{out}: the suite is written as .jsonl or .csv, not {out.suffix or 'no suffix'!r}")
    return out


def _suite_entry(e: dict, path: Path, i: int) -> Condition:
    """A condition from one record written by `export_conditions`."""
    aus = np.full(N_AUS, np.nan, dtype=np.float32)
    if not isinstance(e["aus"], dict):
        raise DataError(path, "'aus' must map AU columns (AU01 ... AU26) to intensities", i)
    for col, v in e["aus"].items():
        if col not in AU_COLUMNS:
            raise DataError(path, f"'aus' names {col!r}, not one of {', '.join(AU_COLUMNS)}", i)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 5:
            raise DataError(path, f"{col} must be a number in [0, 5], got {v!r}", i)
        aus[AU_COLUMNS.index(col)] = v
    expr = e.get("expression")
    if expr is not None and (not isinstance(expr, int) or isinstance(expr, bool) or not 0 <= expr < len(EXPRESSIONS)):
        raise DataError(path, f"'expression' must be an AffectNet code 0-7 or null, got {expr!r}", i)
    index, seed = e.get("index", i - 1), e.get("seed", i - 1)
    for key, v in (("index", index), ("seed", seed)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise DataError(path, f"{key!r} must be a non-negative integer, got {v!r}", i)
    demo = e.get("demographics") or {}
    if not isinstance(demo, dict) or not all(k in DEMOGRAPHICS and isinstance(v, int) for k, v in demo.items()):
        raise DataError(path, f"'demographics' must map {', '.join(DEMOGRAPHICS)} to integers, got {demo!r}", i)
    return Condition(index=index, seed=seed, prompt=e["prompt"], aus=aus, expression=-1 if expr is None else expr,
                     identity=str(e.get("identity") or ""), demographics=dict(demo))


def read_condition_file(path: str | Path, labelled_aus: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
                        ) -> list[Condition]:
    """Conditions from a JSON list (or JSON-lines) of `{"prompt": str, "intensity": [12 numbers 0-5]}` entries,
    the format of MAUGen's sample file (intensities of the DISFA12 AUs, in that order); optional "seed" (int). Entries
    with an `aus` mapping instead are suite records (`export_conditions`: every AU, expression, identity kept).

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
        if "aus" in e:
            out.append(_suite_entry(e, path, i))
            continue
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
