"""The results JSON: one file per (protocol, generator) score, versioned and written atomically.

Schema (`SCHEMA_VERSION`): protocol {id, hash}, generator {name, version, config[, stats]}, sampleset {folder,
content_hash, n}, metrics {name: {value, ci95, n, higher_is_better, family}}, judges {id: {sha256,
ceiling}}, seeds, packages, git, device, stage_seconds, throughput_images_per_s, created; optional: not_applicable
{name: reason} (listed metrics that do not apply to the set, e.g. the control family of a set outside the suite),
samples {file, sha256, rows} (the per-sample table beside the results file, `write_samples`). docs/results.md.
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import hashlib
import importlib.metadata
import io
import json
import math
import platform
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.protocol import FAMILIES

SCHEMA_VERSION = "1"
SAMPLES_SUFFIX = ".samples.csv.gz"  # the per-sample table beside `<stem>.json`
PACKAGES = ("torch", "numpy", "scipy", "augen-bench", "diffusers", "transformers")


def metric(value: float, n: int, higher_is_better: bool, family: str, ci95: tuple[float, float] | None = None,
           **extra) -> dict:
    """One metric entry (NaN values are stored as null)."""
    def clean(v):
        return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
    return {"value": clean(value), "ci95": [clean(c) for c in ci95] if ci95 else None, "n": int(n),
            "higher_is_better": higher_is_better, "family": family, **extra}


def environment() -> dict:
    import torch

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    try:
        git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        git = None
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or 'x86'})"
    return {"packages": versions, "git": git, "device": device, "python": platform.python_version(),
            "torch_threads": torch.get_num_threads()}


def write_results(path: str | Path, results: dict) -> None:
    atomic_write_text(path, json.dumps(results, indent=1, sort_keys=True) + "\n")


def new_results(**fields) -> dict:
    return {"schema_version": SCHEMA_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **fields}


def format_table(results: dict) -> str:
    """A plain-text table of the metrics, family by family."""
    rows = [f"{results['generator']['name']} on {results['protocol']['id']} "
            f"(hash {results['protocol']['hash'][:12]}, n={results['sampleset']['n']})"]
    for fam in FAMILIES:
        items = [(k, m) for k, m in results["metrics"].items() if m["family"] == fam]
        if not items:
            continue
        rows.append(f"  {fam}")
        for k, m in items:
            v = "n/a" if m["value"] is None else f"{m['value']:.4f}"
            ci = f"  [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]" if m.get("ci95") and None not in m["ci95"] else ""
            arrow = "higher better" if m["higher_is_better"] else "lower better"
            ceiling = m.get("ceiling")
            top = f"  ceiling {ceiling['value']:.4f}" if ceiling and ceiling.get("value") is not None else ""
            rows.append(f"    {k:<26} {v:>10}{ci}  ({arrow}){top}")
    for k, why in results.get("not_applicable", {}).items():
        rows.append(f"  skipped {k}: {why}")
    return "\n".join(rows)


def load_results(paths: list[str | Path]) -> list[dict]:
    out = []
    for p in paths:
        try:
            r = json.loads(Path(p).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(p, f"not a readable results JSON ({e})") from None
        if r.get("schema_version") != SCHEMA_VERSION:
            raise DataError(p, f"schema_version {r.get('schema_version')!r}, expected {SCHEMA_VERSION!r}")
        out.append(r)
    return out


def markdown_table(results: list[dict], names: Sequence[str] | None = None) -> str:
    """Entries as columns (headed `names`; default the submission name each records, else its generator's name,
    numbered where two are equal; `entry_names` names them from their files), metrics as rows (grouped by family;
    every metric any result holds), one protocol hash only. The header gives each set's own n where they differ."""
    hashes = {r["protocol"]["hash"] for r in results}
    if len(hashes) != 1:
        raise UsageError(f"results come from {len(hashes)} different protocol hashes; they are not comparable")
    if names is None:
        names = [str((r.get("submission") or {}).get("name") or r["generator"]["name"]) for r in results]
        count, seen = Counter(names), Counter()
        for i, name in enumerate(list(names)):
            seen[name] += 1
            names[i] = f"{name} #{seen[name]}" if count[name] > 1 else name
    names = list(names)
    if len(names) != len(results):
        raise ValueError(f"{len(names)} names for {len(results)} results")
    first = results[0]
    sizes = [r["sampleset"]["n"] for r in results]
    n_text = (f"n = {sizes[0]} per generator" if len(set(sizes)) == 1
              else "n = " + ", ".join(f"{n} ({name})" for n, name in zip(sizes, names)))
    lines = [f"Protocol `{first['protocol']['id']}` (hash `{first['protocol']['hash'][:12]}`), "
             f"{n_text}; judge accuracy against the truth on held-out world test images: "
             + ", ".join(f"{k} {v:.3f}" for j in first["judges"].values() for k, v in j["ceiling"].items()
                         if isinstance(v, float)), "",
             "| family | metric | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    order = FAMILIES
    every = {}
    for r in results:  # a metric the first result lacks (e.g. downstream not run) still gets its row
        for k, m in r["metrics"].items():
            every.setdefault(k, m)
    for name, m in sorted(every.items(), key=lambda kv: (order.index(kv[1]["family"]), kv[0])):
        arrow = "↑" if m["higher_is_better"] else "↓"
        cells = []
        for r in results:
            v = r["metrics"].get(name, {}).get("value")
            cells.append("n/a" if v is None else f"{v + 0.0:.3f}".replace("-0.000", "0.000"))
        lines.append(f"| {m['family']} | {name} {arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def filed_name(result: dict, path: str | Path) -> str:
    """The name an entry is filed under: the submission name it records, else its file's stem when the file sits in
    a protocol's results folder (`<results>/<protocol id>/<name>.json`), else its generator's name."""
    sub = (result.get("submission") or {}).get("name")
    if sub:
        return str(sub)
    p = Path(path)
    if p.parent.name == str(result["protocol"]["id"]):
        return p.stem
    return str(result["generator"]["name"])


def entry_names(results: Sequence[dict], paths: Sequence[str | Path]) -> list[str]:
    """One unique label per results file: its filed name (`filed_name`); where names collide within a protocol,
    the name and the file's stem (`real (real-v2)`), then a running number if that still collides. The same file
    given twice is a UsageError."""
    resolved = [Path(p).resolve() for p in paths]
    twice = [p for p, k in Counter(resolved).items() if k > 1]
    if twice:
        raise UsageError(f"results file given twice: {twice[0].name}")
    protos = [r["protocol"]["id"] for r in results]

    def colliding(labels: list[str]) -> list[bool]:
        count = Counter(zip(protos, labels))
        return [count[key] > 1 for key in zip(protos, labels)]

    labels = [filed_name(r, p) for r, p in zip(results, paths)]
    labels = [f"{lab} ({Path(p).stem})" if c else lab for lab, p, c in zip(labels, paths, colliding(labels))]
    numbered: Counter = Counter()
    out = []
    for key, c in zip(zip(protos, labels), colliding(labels)):
        numbered[key] += c
        out.append(f"{key[1]} #{numbered[key]}" if c else key[1])
    return out


def samples_path(results_path: str | Path) -> Path:
    """Where the per-sample table of `<stem>.json` lives: `<stem>.samples.csv.gz` in the same folder."""
    p = Path(results_path)
    return p.with_name(p.stem + SAMPLES_SUFFIX)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def samples_csv_gz(columns: dict[str, Sequence]) -> bytes:
    """A table (column name -> one value per row; None or NaN written empty, floats as given) as gzipped CSV,
    byte-identical for identical input (no time or file name in the gzip header)."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in zip(*columns.values()):
        w.writerow([_cell(v) for v in row])
    return gzip.compress(buf.getvalue().encode("utf-8"), compresslevel=6, mtime=0)


def write_samples(results_path: str | Path, columns: dict[str, Sequence]) -> dict:
    """Write the per-sample table beside `results_path` (atomic); returns the results' `samples` field: the file's
    name (relative to the results file), its sha256 and its row count. Write it before the results JSON, so a
    results file never names a table that is not there."""
    data = samples_csv_gz(columns)
    path = samples_path(results_path)
    atomic_write_bytes(path, data)
    rows = len(next(iter(columns.values()))) if columns else 0
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "rows": rows}
