"""Where one result stands: its headline value (or why it has none) and its place among the filed results of the
same protocol hash, computed by the board's own ranking (bench.publish.leaderboard, bench.publish.taskboard), so
`augen score` and `augen submit` say what the board will say.

    standing(proto, "mine", result, filed) -> ["headline: ...", "rank: ..."]
"""

from __future__ import annotations

import math

from bench.core.protocol import Protocol
from bench.publish.headline import training_value_words
from bench.publish.leaderboard import board
from bench.publish.taskboard import task_tables


def _num(v, ci=None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    lo, hi = (ci or [None, None])[:2]
    return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "")


def _among(name: str, result: dict, filed: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The filed results with this one in (replacing a filed entry of the same name)."""
    return [(n, r) for n, r in filed if n != name] + [(name, result)]


def standing(proto: Protocol, name: str, result: dict, filed: list[tuple[str, dict]] | None) -> list[str]:
    """Lines saying the result's headline and rank; `filed` None: no board to compare with (no workspace)."""
    h = proto.headline
    entries = _among(name, result, filed or [])
    current = result["protocol"]["hash"]
    n_filed = sum(1 for n, r in entries if r["protocol"]["hash"] == current and n != name)
    where = (f"among {n_filed} filed result{'s' * (n_filed != 1)} of this protocol hash" if filed is not None
             else "not compared: no workspace (set AUGEN_HOME or run inside a clone)")
    if h is None:
        rows = board(proto, entries, current)[0]
        row = next(r for r in rows if r["name"] == name)
        return [f"headline: {proto.id} declares no headline; its board ranks by mean win rate over the headline "
                f"metrics (this set: {_num(row.get('win_rate'))})", f"rank: {row['rank']} of {len(rows)} ({where})"]
    if proto.kind == "faces":  # one board per reference set (bench.publish.facesboard)
        e = result["metrics"].get(h.rank_by) or {}
        head = (f"headline (training value): {_num(e['value'], e.get('ci95'))}" if e.get("value") is not None else
                "headline (training value): not computed: give --data-root DIR (the headline protocol's dataset) "
                "or --downstream-results FILE")
        return [head, f"rank: one table per reference set: `augen leaderboard --protocol {proto.id}` ({where})"]
    if h.rank_by == "tasks":
        tables, _ = task_tables(proto, entries, current)
        lines = [f"headline: {training_value_words('task score', 'real world test faces', 'each task')}"]
        for t in tables:
            row = next((r for r in t["rows"] if r["name"] == name), None)
            if row is None:
                why = ("not scored: no downstream result (score with --downstream)" if name in t["unscored"]
                       else "not claimed: the set claims no label of this task")
                lines.append(f"  {t['title']}: {why}")
                continue
            place = (f"rank {row['rank']} of {sum(r['role'] == 'ranked' for r in t['rows'])} ranked"
                     if row["role"] == "ranked" else f"{row['role']}" + (f": {row['why']}" if row["why"] else ""))
            lines.append(f"  {t['title']}: {_num(row['value'], row['ci'])}, {place}")
        return lines + [f"rank: per task, {where}"]
    rows = board(proto, entries, current)[0]
    row = next(r for r in rows if r["name"] == name)
    tv = row.get("training_value")
    head = (f"headline (training value): {_num(tv, row.get('training_value_ci'))}" if tv is not None else
            "headline (training value): not computed: no downstream result (score with --downstream)")
    ranked = sum(r["role"] == "ranked" for r in rows)
    place = (f"rank {row['rank']} of {ranked} ranked" if row["role"] == "ranked" else
             f"not ranked ({row['role']}" + (f": {row['gate_why']}" if row["role"] == "fails gate" else "") + ")")
    return [head, f"rank: {place} ({where})"]
