"""The leaderboard: rank the filed results of one protocol hash, render markdown and a sortable HTML page.

    augen leaderboard --protocol world-v1     -> leaderboards/LEADERBOARD.md, leaderboards/index.html

Only results whose protocol hash equals the current one (protocol settings + judge weights) are ranked;
others are listed as stale, never mixed in. The rank is a mean win rate, as in HELM: for each headline
metric, the share of other ranked entries this one beats (ties half, metrics a result lacks skipped),
averaged within each metric family, then over families, so no family counts more for having more headline
metrics. Every headline metric is shown so a reader can sort by the one they care about.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError
from bench.core.paths import results_root, workspace
from bench.core.protocol import FAMILIES, Protocol
from bench.core.registry import METRICS
from bench.downstream.harness import suffixes
from bench.scoring.protocols import current_hash as current_protocol_hash
from bench.scoring.protocols import load_protocol


def headline(proto: Protocol) -> list[tuple[str, str]]:
    """(metric, short header) of the protocol's headline metrics: those declared with a `label`, in family order
    (realism, diversity, alignment, control, memorization, downstream), then in the order their modules declare
    them; a downstream kind's labelled suffixes in the order of the protocol's scales, then mixed, then slope.
    Memorization declares none: its near-copy share is won outright by any generator too poor to resemble its
    training data."""
    plain = [(e.name, e.meta) for e in METRICS.entries() if not e.meta["suffixed"] and e.meta["label"]
             and e.name in proto.metric_info]
    out = [(n, m["label"]) for fam in FAMILIES for n, m in plain if m["family"] == fam]
    if proto.downstream is not None:
        kinds = [e for e in METRICS.entries() if e.meta["suffixed"]]
        out += [(f"{e.name}_{sfx}", e.meta["labels"][sfx]) for sfx in suffixes(proto.downstream) for e in kinds
                if sfx in e.meta["labels"]]
    return out


def load_filed(folder: Path) -> list[tuple[str, dict]]:
    """(name, results) for every results JSON in a protocol's folder, sorted by name."""
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        if p.name.endswith(".timing.json"):
            continue
        try:
            out.append((p.stem, json.loads(p.read_text())))
        except json.JSONDecodeError as e:
            raise DataError(p, f"not valid JSON ({e})") from None
    return out


def win_rates(entries: list[dict], metrics: list[str]) -> np.ndarray:
    """Per entry: the share of other entries it beats on each metric (ties half), averaged within each metric
    family, then over families; NaN if it has no comparable metric."""
    n = len(entries)
    rates: list[dict[str, list[float]]] = [{} for _ in range(n)]
    for m in metrics:
        vals = [e["metrics"].get(m, {}).get("value") for e in entries]
        hib = next((e["metrics"][m]["higher_is_better"] for e in entries if m in e["metrics"]), True)
        fam = next((e["metrics"][m].get("family", m) for e in entries if m in e["metrics"]), m)
        have = [i for i, v in enumerate(vals) if v is not None]
        if len(have) < 2:
            continue
        for i in have:
            wins = sum((vals[i] > vals[j]) if hib else (vals[i] < vals[j]) for j in have if j != i)
            ties = sum(vals[i] == vals[j] for j in have if j != i)
            rates[i].setdefault(fam, []).append((wins + 0.5 * ties) / (len(have) - 1))
    return np.array([np.mean([np.mean(v) for v in r.values()]) if r else np.nan for r in rates])


def rank(filed: list[tuple[str, dict]], current_hash: str, heads: list[tuple[str, str]]
         ) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows of the ranked table (best first) over the headline metrics `heads`, and the (name, hash) of stale
    results left out."""
    ok = [(n, r) for n, r in filed if r["protocol"]["hash"] == current_hash]
    stale = [(n, r["protocol"]["hash"]) for n, r in filed if r["protocol"]["hash"] != current_hash]
    metrics = [m for m, _ in heads if any(m in r["metrics"] for _, r in ok)]
    wr = win_rates([r for _, r in ok], metrics)
    rows = []
    for (name, r), w in zip(ok, wr):
        row = {"name": name, "generator": r["generator"]["name"], "n": r["sampleset"]["n"], "win_rate": w}
        for m in metrics:
            entry = r["metrics"].get(m)
            row[m] = None if entry is None else entry["value"]
        rows.append(row)
    rows.sort(key=lambda x: (-(x["win_rate"] if np.isfinite(x["win_rate"]) else -1), x["name"]))
    for i, row in enumerate(rows):
        row["rank"] = i + 1
    return rows, stale


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def columns(rows: list[dict], heads: list[tuple[str, str]]) -> list[tuple[str, str]]:
    present = {k for r in rows for k in r}
    return [("rank", "#"), ("name", "submission"), ("win_rate", "mean win rate")] + [
        (m, h) for m, h in heads if m in present]


def markdown(rows: list[dict], stale: list[tuple[str, str]], proto_id: str, current_hash: str,
             arrows: dict[str, bool], heads: list[tuple[str, str]]) -> str:
    cols = columns(rows, heads)
    head = [h + ("" if k not in arrows else (" ↑" if arrows[k] else " ↓")) for k, h in cols]
    lines = [f"# Leaderboard: `{proto_id}` (hash `{current_hash[:12]}`)", "",
             "Ranked by mean win rate over the headline metrics, averaged within each family, then over families "
             "(↑ higher is better, ↓ lower). "
             "`augen leaderboard` writes this file and `index.html` (sortable) from `leaderboards/results/`.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(k)) for k, _ in cols) + " |" for r in rows]
    if stale:
        lines += ["", "Not ranked (scored under another protocol hash; rescore to compare): "
                  + ", ".join(f"{n} (`{h[:12]}`)" for n, h in stale)]
    return "\n".join(lines) + "\n"


def html_page(rows: list[dict], stale: list[tuple[str, str]], proto_id: str, current_hash: str,
              arrows: dict[str, bool], heads: list[tuple[str, str]]) -> str:
    """A self-contained page; clicking a header sorts by that column (numbers numerically, n/a last)."""
    cols = columns(rows, heads)
    def tip(k: str) -> str:
        return k if k not in arrows else f"{k} ({'higher' if arrows[k] else 'lower'} is better)"

    th = "".join(f'<th data-col="{i}" title="{html.escape(tip(k))}">{html.escape(h)}<span class="arrow"></span></th>'
                 for i, (k, h) in enumerate(cols))
    body = []
    for r in rows:
        tds = []
        for k, _ in cols:
            v = r.get(k)
            num = "" if not isinstance(v, (int, float)) or (isinstance(v, float) and not np.isfinite(v)) else \
                f' data-value="{float(v)!r}"'
            tds.append(f"<td{num}>{html.escape(_cell(v))}</td>")
        body.append(f'<tr data-name="{html.escape(r["name"])}">' + "".join(tds) + "</tr>")
    stale_html = "" if not stale else "<p>Not ranked (other protocol hash): " + ", ".join(
        f"{html.escape(n)} (<code>{h[:12]}</code>)" for n, h in stale) + "</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AUGen-Bench leaderboard: {html.escape(proto_id)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }}
th {{ cursor: pointer; background: #f3f3f3; user-select: none; }}
th:nth-child(2), td:nth-child(2) {{ text-align: left; }}
th.sorted {{ background: #dde8f6; }}
</style></head><body>
<h1>AUGen-Bench leaderboard: <code>{html.escape(proto_id)}</code></h1>
<p>Protocol hash <code>{current_hash[:12]}</code>. Ranked by mean win rate over the headline metrics
(averaged within each metric family, then over families); click a
column header to sort by it (click again to reverse).</p>
<table id="board"><thead><tr>{th}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
{stale_html}
<script>
document.querySelectorAll("#board th").forEach(function (th) {{
  th.addEventListener("click", function () {{
    var col = +th.dataset.col, tbody = document.querySelector("#board tbody");
    var asc = th.dataset.dir !== "asc";
    document.querySelectorAll("#board th").forEach(function (h) {{
      h.classList.remove("sorted"); h.dataset.dir = ""; h.querySelector(".arrow").textContent = ""; }});
    th.classList.add("sorted"); th.dataset.dir = asc ? "asc" : "desc";
    th.querySelector(".arrow").textContent = asc ? " \\u25B2" : " \\u25BC";
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {{
      var x = a.cells[col], y = b.cells[col];
      var xv = x.dataset.value, yv = y.dataset.value;
      if (xv === undefined && yv === undefined) return x.textContent.localeCompare(y.textContent) * (asc ? 1 : -1);
      if (xv === undefined) return 1;
      if (yv === undefined) return -1;
      return (parseFloat(xv) - parseFloat(yv)) * (asc ? 1 : -1);
    }});
    rows.forEach(function (r) {{ tbody.appendChild(r); }});
  }});
}});
</script>
</body></html>
"""


def build(proto_id: str = "world-v1", results_dir: Path | None = None, out_md: Path | None = None,
          out_html: Path | None = None, current_hash: str | None = None,
          data_root: Path | None = None) -> tuple[Path, Path]:
    """Rank `results_dir/<protocol>/*.json` and write the markdown and HTML leaderboards. A real-data protocol's
    hash includes its label files, so ranking one needs `data_root` (or `current_hash`)."""
    proto = load_protocol(proto_id)
    current_hash = current_hash or current_protocol_hash(proto, data_root)
    heads = headline(proto)
    filed = load_filed(Path(results_dir or results_root()) / proto.id)
    rows, stale = rank(filed, current_hash, heads)
    arrows = {m: v["higher_is_better"] for m, v in proto.metric_info.items()}
    arrows["win_rate"] = True
    board = workspace() / "leaderboards"
    out_md = Path(out_md or board / "LEADERBOARD.md")
    out_html = Path(out_html or board / "index.html")
    atomic_write_text(out_md, markdown(rows, stale, proto.id, current_hash, arrows, heads))
    atomic_write_text(out_html, html_page(rows, stale, proto.id, current_hash, arrows, heads))
    return out_md, out_html
