"""Results as pandas DataFrames: the tidy frame of any set of results files, and a results file's per-sample table.

    import bench
    df = bench.results_frame("leaderboards/results/world-v1")       # one row per (entry, metric[, seed])
    df[df.seed.isna()].pivot(index="metric", columns="entry", values="value")
    s = bench.samples_frame("leaderboards/results/world-v1/real.json")   # one row per image

`augen table --format csv` writes `results_frame` of its arguments (`frame_csv`). docs/results.md lists the columns.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from bench.core.errors import DataError, UsageError
from bench.core.protocol import FAMILIES
from bench.core.results import entry_names, load_results

COLUMNS = ("entry", "generator", "file", "protocol", "protocol_hash", "family", "metric", "value", "ci_low",
           "ci_high", "n", "higher_is_better", "seed", "config")
TEXT_COLUMNS = ("file", "claimed_expression", "judge_expression")  # of the per-sample table


def results_paths(paths_or_folder: str | Path | Iterable[str | Path]) -> list[Path]:
    """The results files named: a file, a folder (every `*.json` below it, sorted, but `*.timing.json`), or a list
    of files and folders, in the order given."""
    if isinstance(paths_or_folder, (str, Path)):
        paths_or_folder = [paths_or_folder]
    paths_or_folder = list(paths_or_folder)
    out: list[Path] = []
    for p in map(Path, paths_or_folder):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.json") if not q.name.endswith(".timing.json")
                          and not q.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(p, "no such results file or folder")
    if not out:
        raise UsageError(f"no results files in {', '.join(map(str, paths_or_folder))}")
    return out


def _float(v) -> float:
    return math.nan if v is None else float(v)


def metric_rows(res: dict) -> list[dict]:
    """One results dict's metrics as frame rows (without the entry columns), in family order, then by name: each
    metric's aggregate (seed NaN) followed by its per-seed values where it holds a `per_seed` list (seed = the
    position in the protocol's downstream seeds, n = 1, no interval)."""
    def order(kv):
        fam = kv[1].get("family")
        return (FAMILIES.index(fam) if fam in FAMILIES else len(FAMILIES), kv[0])

    rows = []
    for name, m in sorted(res["metrics"].items(), key=order):
        ci = m.get("ci95") or (None, None)
        base = {"family": m.get("family"), "metric": name, "higher_is_better": bool(m["higher_is_better"])}
        rows.append({**base, "value": _float(m["value"]), "ci_low": _float(ci[0]), "ci_high": _float(ci[1]),
                     "n": int(m["n"]), "seed": math.nan})
        for i, v in enumerate(m.get("per_seed") or []):
            rows.append({**base, "value": _float(v), "ci_low": math.nan, "ci_high": math.nan, "n": 1,
                         "seed": float(i)})
    return rows


def results_frame(paths_or_folder: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Tidy DataFrame of results files (see `results_paths`): one row per (entry, metric[, seed]), columns
    `COLUMNS`. `entry` is the generator name, made unique within a protocol by the file's stem where names
    collide (bench.core.results.entry_names); `file` the results file's name; `config` the generator config as
    JSON (sorted keys). Results of different protocols or hashes may be mixed: filter on `protocol_hash`."""
    paths = results_paths(paths_or_folder)
    results = load_results(paths)
    heads, body = [], []
    for path, res in zip(paths, results):
        try:
            heads.append({"generator": str(res["generator"]["name"]), "file": path.name,
                          "protocol": str(res["protocol"]["id"]), "protocol_hash": str(res["protocol"]["hash"]),
                          "config": json.dumps(res["generator"].get("config", {}), sort_keys=True)})
            body.append(metric_rows(res))
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise DataError(path, f"not a results JSON of this schema ({type(e).__name__}: {e})") from None
    rows = [{"entry": entry, **head, **r}
            for entry, head, rs in zip(entry_names(results, paths), heads, body) for r in rs]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64", "n": "int64",
                      "higher_is_better": "bool", "seed": "float64"})


def frame_csv(df: pd.DataFrame) -> str:
    """The tidy frame as CSV text, byte-identical for identical input (seed written as an integer, empty for the
    aggregate; floats in full precision)."""
    out = df.copy()
    out["seed"] = out["seed"].astype("Int64")
    return out.to_csv(index=False, lineterminator="\n")


def samples_frame(results_path: str | Path) -> pd.DataFrame:
    """The per-sample table of a results file (its `samples` field names the `.samples.csv.gz` beside it; the
    file's sha256 is checked). Columns: bench.scoring.samples; empty cells read as NaN."""
    path = Path(results_path)
    (res,) = load_results([path])
    info = res.get("samples")
    if not info:
        raise DataError(path, "holds no per-sample table (`samples`); scored before per-sample tables were written: "
                              "score it again")
    table = path.parent / info["file"]
    if Path(info["file"]).name != info["file"]:
        raise DataError(path, f"samples.file {info['file']!r} must be a file name beside the results file")
    try:
        data = table.read_bytes()
    except OSError as e:
        raise DataError(table, f"per-sample table named by {path.name} is not readable ({e})") from None
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise DataError(table, f"sha256 differs from the one {path.name} records (rewritten after scoring?)")
    df = pd.read_csv(io.BytesIO(data), compression="gzip", dtype={c: str for c in TEXT_COLUMNS})
    if len(df) != info.get("rows", len(df)):
        raise DataError(table, f"{len(df)} rows; {path.name} records {info['rows']}")
    return df
