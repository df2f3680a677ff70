"""The results JSON: one file per (protocol, generator) score, versioned and written atomically.

Schema (`SCHEMA_VERSION`): protocol {id, hash}, generator {name, version, config[, stats]}, sampleset {folder,
content_hash, n}, metrics {name: {value, ci95, n, higher_is_better, family}}, judges {id: {sha256,
ceiling}}, seeds, packages, git, device, stage_seconds, throughput_images_per_s, created; optional: not_applicable
{name: reason} (listed metrics that do not apply to the set, e.g. the control family of a set outside the suite).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import platform
import subprocess
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.protocol import FAMILIES

SCHEMA_VERSION = "1"
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
            rows.append(f"    {k:<26} {v:>10}{ci}  ({arrow})")
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


def markdown_table(results: list[dict]) -> str:
    """Generators as columns, metrics as rows (grouped by family), one protocol hash only."""
    hashes = {r["protocol"]["hash"] for r in results}
    if len(hashes) != 1:
        raise UsageError(f"results come from {len(hashes)} different protocol hashes; they are not comparable")
    names = [r["generator"]["name"] for r in results]
    first = results[0]
    lines = [f"Protocol `{first['protocol']['id']}` (hash `{first['protocol']['hash'][:12]}`), "
             f"n = {first['sampleset']['n']} per generator; judge ceiling (held-out world test): "
             + ", ".join(f"{k} {v:.3f}" for j in first["judges"].values() for k, v in j["ceiling"].items()
                         if isinstance(v, float)), "",
             "| family | metric | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    order = FAMILIES
    for name, m in sorted(first["metrics"].items(), key=lambda kv: (order.index(kv[1]["family"]), kv[0])):
        arrow = "↑" if m["higher_is_better"] else "↓"
        cells = []
        for r in results:
            v = r["metrics"].get(name, {}).get("value")
            cells.append("n/a" if v is None else f"{v + 0.0:.3f}".replace("-0.000", "0.000"))
        lines.append(f"| {m['family']} | {name} {arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
