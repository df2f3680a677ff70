"""Paper tables filled from our runs: a table (`bench/publish/paper_tables/<id>.yaml`) lists the published rows
and, per row, which of our results stands beside it; `reproduce` prints paper / ours cell by cell.

    augen reproduce synfer_scaling [--protocol world-v1] [--out reports/paper_tables/synfer_scaling.md]
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.core.errors import DataError
from bench.core.paths import PAPER_TABLES, result_roots


def load_table(name: str) -> dict:
    path = Path(name) if Path(name).suffix else PAPER_TABLES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PAPER_TABLES.glob("*.yaml")))
        raise DataError(path, f"no such paper table (known: {known})")
    t = yaml.safe_load(path.read_text())
    for i, r in enumerate(t.get("rows", [])):
        if len(r.get("paper", [])) != len(t["columns"]):
            raise DataError(path, f"row {r.get('name')!r} has {len(r.get('paper', []))} paper values for "
                                  f"{len(t['columns'])} columns", i + 1)
    return t


def find_result(ref: str, protocol: str, roots=None) -> dict | None:
    """Our results named `ref` (a path under <root>/<protocol>/, without .json) in the first root holding it."""
    for root in roots or result_roots():
        p = Path(root) / protocol / f"{ref}.json"
        if p.is_file():
            return json.loads(p.read_text())
    return None


def ours_value(res: dict | None, metric: str | None, scale: float) -> float | None:
    if res is None or not metric:
        return None
    name, _, field = metric.partition(":")
    m = res["metrics"].get(name)
    v = None if m is None else m.get(field or "value")
    return None if v is None else v * scale


def reproduce(table: str, protocol: str = "world-v1", roots=None) -> str:
    """The paper table as markdown with our value beside each published one ("paper / ours")."""
    t = load_table(table)
    head = ["row", *[c["name"] + " (paper / ours)" for c in t["columns"]]]
    rows = []
    for r in t["rows"]:
        res = find_result(r["ours"], protocol, roots or result_roots()) if r.get("ours") else None
        cells = [r["name"] + ("" if not r.get("ours") else f" — ours: `{r['ours']}`" + ("" if res else " (not run)"))]
        for c, pv in zip(t["columns"], r["paper"]):
            scale = c.get("scale", 100 if t.get("percent") else 1)
            ov = ours_value(res, c.get("ours"), scale)
            cells.append(f"{'—' if pv is None else pv} / {'—' if ov is None else f'{ov:.2f}'}")
        rows.append(cells)
    notes = [f"- {c['name']}: {c['note']}" for c in t["columns"] if c.get("note")]
    return "\n".join([f"# {t['title']}", "", f"Source: {t['source']}. Ours: protocol `{protocol}`.", "",
                      "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      *["| " + " | ".join(r) + " |" for r in rows], "", *notes, ""])
