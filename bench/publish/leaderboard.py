"""The leaderboard: rank the filed results of one protocol hash, render markdown and a sortable HTML page.

    augen leaderboard --protocol world-v2     -> leaderboards/LEADERBOARD.md, leaderboards/index.html

Only results whose protocol hash equals the current one (protocol settings + judge weights) are ranked;
others are listed as stale, never mixed in.

A protocol with a `headline` section (world-v2 on; docs/verdicts.md) ranks by training value: what a recognizer
trained on the set's claimed labels achieves on real test faces (`headline.rank_by`), among the entries whose labels
pass the validity gate (for each label kind a set claims, the lower 95% bound of claimed-vs-judge kappa above
`headline.gate_min`) and whose declared real budget fits the protocol's. Controls (real, shuffled, collapsed, noise)
are reference rows, placed where their scores put them but not ranked; entries that fail the gate or the budget
are listed below the ranked ones. Adjacent ranks carry a paired test (bench.publish.significance); realism,
diversity, alignment and memorization stay beside as diagnostics.

Older protocols (world-v1) rank by mean win rate, as in HELM: for each headline metric, the share of other
ranked entries this one beats (ties half, metrics a result lacks skipped), averaged within each metric family,
then over families.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.paths import results_root, workspace
from bench.core.protocol import DEFAULT_PROTOCOL, FAMILIES, Headline, Protocol
from bench.core.registry import METRICS
from bench.downstream.spec import suffixes
from bench.generation.controls import CONTROL_NAMES
from bench.publish.headline import training_value_words
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
                if sfx in e.meta["labels"] and f"{e.name}_{sfx}" in proto.metric_info]
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
    results left out. Equal win rates share a rank (1, 2, 2, 4)."""
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
    for row, k in zip(rows, competition_ranks([r["win_rate"] for r in rows])):
        row["rank"] = k
    return rows, stale


def competition_ranks(values: list[float | None]) -> list[int]:
    """Standard competition ranks ("1, 2, 2, 4") of values sorted best first: equal values (to 12 significant
    digits, so that one number summed in two orders is still one value; missing or NaN values equal each other)
    share the rank of the first of them."""
    def norm(v):
        return None if v is None or not np.isfinite(v) else float(f"{v:.12g}")
    out: list[int] = []
    for i, v in enumerate(values):
        out.append(out[-1] if i and norm(v) == norm(values[i - 1]) else i + 1)
    return out


# -- ranking by training value (protocols with a headline section) -------------------------------------------

UNRANKED = ("over budget", "no training value")  # roles listed below the ranked entries beside "fails gate"


def gate(r: dict, h: Headline) -> tuple[bool, str]:
    """Label validity: for each gate metric the set answers (a kind it claims), the lower bound of its 95% interval
    must exceed `h.gate_min`. (passes, reason when not)."""
    read = []
    for g in h.gate:
        e = r["metrics"].get(g)
        if e is None or e.get("value") is None or not np.isfinite(e["value"]):
            continue  # the set claims no label of this kind
        lo = (e.get("ci95") or [float("nan")])[0]
        if lo is None or not lo > h.gate_min:
            return False, f"{g} lower bound {lo:.3f} <= {h.gate_min:g}"
        read.append(g)
    return (True, "") if read else (False, "claims no label the gate reads")


def budget(r: dict, proto: Protocol) -> tuple[int | None, str]:
    """(labelled real images the generator declares it learned from, status): within, over, undeclared."""
    n = ((r["generator"].get("real_data") or {}).get("labelled_images"))
    if n is None:
        return None, "undeclared"
    cap = proto.real_budget.max_images if proto.real_budget else None
    return int(n), "over" if cap is not None and n > cap else "within"


def rank_by_training_value(filed: list[tuple[str, dict]], current_hash: str, proto: Protocol,
                           heads: list[tuple[str, str]]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows of the board, best first, and the stale (name, hash) left out. Entries whose labels pass the gate come
    first, by training value; controls are reference rows (`rank` "ref") placed by their scores; entries failing the
    gate or over the real budget follow, unranked; equal training values share a rank (1, 2, 2, 4). Each row: name,
    generator, n, role, rank, training value and its interval, gate, budget, the real-only bar at that budget and the
    labelled diagnostic metrics."""
    h = proto.headline
    ok = [(n, r) for n, r in filed if r["protocol"]["hash"] == current_hash]
    stale = [(n, r["protocol"]["hash"]) for n, r in filed if r["protocol"]["hash"] != current_hash]
    rows = []
    for name, r in ok:
        tv = r["metrics"].get(h.rank_by, {})
        passes, why = gate(r, h)
        seen, status = budget(r, proto)
        control = r["generator"]["name"] in CONTROL_NAMES
        trained = tv.get("value") is not None and np.isfinite(tv["value"])
        role = ("reference" if control else "fails gate" if not passes else "over budget" if status == "over"
                else "ranked" if trained else "no training value")
        bar = (tv.get("real_baselines") or {}).get("real_budget") or {}
        row = {"name": name, "generator": r["generator"]["name"], "n": r["sampleset"]["n"], "role": role,
               "passes": passes, "gate_why": why, "budget_status": status, "real_data": seen,
               "training_value": tv.get("value"), "training_value_ci": tv.get("ci95"),
               "training_value_seeds": tv.get("per_seed"), "budget_bar": bar.get("utility"),
               "budget_bar_n": bar.get("n"), "gate": "pass" if passes else "fail",
               **{f"gate_{g}": ((r["metrics"].get(g) or {}).get("ci95") or [None])[0] for g in h.gate}}
        for m, _ in heads:
            e = r["metrics"].get(m)
            row[m] = None if e is None else e["value"]
        rows.append(row)

    def key(row):
        tv = row["training_value"]
        return (not row["passes"] or row["role"] in UNRANKED, -(tv if tv is not None and np.isfinite(tv)
                                                                    else -np.inf), row["name"])
    rows.sort(key=key)
    ranked = [row for row in rows if row["role"] == "ranked"]
    for row, k in zip(ranked, competition_ranks([row["training_value"] for row in ranked])):
        row["rank"] = k  # equal training values share a rank; the paired test still runs between them
    for row in rows:
        if row["role"] != "ranked":
            row["rank"] = "ref" if row["role"] == "reference" else "-"
    return rows, stale


def not_ranked(rows: list[dict]) -> str:
    """The board's note on the entries it lists but does not rank, each with its reason ('' when none)."""
    def why(r: dict) -> str:
        return (r["gate_why"] if r["role"] == "fails gate" else r["budget_status"] if r["role"] == "over budget"
                else "no downstream result")
    return "; ".join(f"{r['name']} ({r['role']}: {why(r)})" for r in rows if r.get("role") in ("fails gate",
                                                                                            *UNRANKED))


def v2_columns(proto: Protocol, heads: list[tuple[str, str]], rows: list[dict]) -> list[tuple[str, str]]:
    present = {k for r in rows for k, v in r.items() if v is not None}
    diag = [(m, lab) for m, lab in heads if m != proto.headline.rank_by and m in present]
    return [("rank", "#"), ("name", "submission"), ("training_value", "training value"), ("gate", "labels valid"),
            ("real_data", "real imgs seen"), ("budget_bar", "real-only at budget")] + diag


def how_ranked(proto: Protocol) -> str:
    """The board's one sentence on how it ranks."""
    h, s = proto.headline, proto.downstream
    n1 = s.real_train.n
    lo, hi = min(s.scales), max(s.scales)
    words = training_value_words("chance-corrected score (Cohen's kappa of expression and of AUs, averaged)",
                                 "real world faces", f"training sizes of {lo:g}x-{hi:g}x of {n1} images")
    return (f"Ranked by {words}, among entries whose claimed labels agree with the judge beyond chance "
            f"(lower 95% bound of kappa > {h.gate_min:g}) and whose real data fits the budget of "
            f"{proto.real_budget.max_images if proto.real_budget else 'any'} labelled images; controls are reference "
            f"rows (ref); ≈ marks a gap to the row above that a paired test over seeds and test items does not find "
            f"significant (Holm-corrected, 5%).")


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def columns(rows: list[dict], heads: list[tuple[str, str]]) -> list[tuple[str, str]]:
    present = {k for r in rows for k in r}
    return [("rank", "#"), ("name", "submission"), ("win_rate", "mean win rate")] + [
        (m, h) for m, h in heads if m in present]


def board(proto: Protocol, filed: list[tuple[str, dict]], current_hash: str
          ) -> tuple[list[dict], list[tuple[str, str]], list[tuple[str, str]], str]:
    """(rows best first, stale (name, hash), columns (key, header), the sentence saying how it ranks) of one
    protocol's filed results: by training value (protocols with a headline section), else by mean win rate. With
    a headline, adjacent ranked rows carry the paired test against the row above (`sig`)."""
    heads = headline(proto)
    if proto.headline is None:
        rows, stale = rank(filed, current_hash, heads)
        return rows, stale, columns(rows, heads), ("Ranked by mean win rate over the headline metrics, averaged "
                                                   "within each family, then over families.")
    from bench.publish.significance import adjacent

    rows, stale = rank_by_training_value(filed, current_hash, proto, heads)
    by_name = dict(filed)
    ranked = [r for r in rows if r["role"] == "ranked"]
    for row, t in zip(ranked, adjacent([by_name[r["name"]] for r in ranked], proto)):
        row["sig"] = t
    return rows, stale, v2_columns(proto, heads, rows), how_ranked(proto)


def cell(row: dict, key: str) -> str:
    """A board cell: training value with its interval half-width and the significance mark, gate with the
    kappa bounds, real data seen with its budget status; numbers to 3 decimals; n/a for missing."""
    v = row.get(key)
    if key == "training_value" and v is not None and np.isfinite(v):
        ci = row.get("training_value_ci")
        t = row.get("sig")
        mark = " ≈" if t is not None and not t["significant"] else ""
        return f"{v:.3f}" + (f" ± {(ci[1] - ci[0]) / 2:.3f}" if ci else "") + mark
    if key == "gate":
        bounds = [f"{k[5:]} ≥ {b:.2f}" for k, b in row.items() if k.startswith("gate_") and k != "gate_why"
                  and isinstance(b, float) and np.isfinite(b)]
        return ("yes" if row["passes"] else "no") + (f" ({', '.join(bounds)})" if bounds else "")
    if key == "real_data":
        if v is None:
            return "—" if row.get("role") == "reference" else "undeclared"
        return f"{v:,}" + (" (over budget)" if row["budget_status"] == "over" else "")
    if key == "budget_bar" and v is not None:
        return f"{v:.3f} ({row['budget_bar_n']:,})"
    return _cell(v)


def markdown_board(rows: list[dict], stale: list[tuple[str, str]], proto_id: str, current_hash: str,
                   arrows: dict[str, bool], cols: list[tuple[str, str]], sentence: str) -> str:
    head = [h + ("" if k not in arrows else (" ↑" if arrows[k] else " ↓")) for k, h in cols]
    lines = [f"# Leaderboard: `{proto_id}` (hash `{current_hash[:12]}`)", "", sentence, "",
             "`augen leaderboard` writes this file and `index.html` (sortable) from `leaderboards/results/`; "
             "docs/verdicts.md says how to read it.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [cell(r, k) for k, _ in cols]
        if r.get("role") == "reference":
            cells[1] = f"*{cells[1]}*"
        lines.append("| " + " | ".join(cells) + " |")
    out = not_ranked(rows)
    if out:
        lines += ["", "Not ranked: " + out]
    if stale:
        lines += ["", "Not ranked (scored under another protocol hash; rescore to compare): "
                  + ", ".join(f"{n} (`{h[:12]}`)" for n, h in stale)]
    return "\n".join(lines) + "\n"


def html_page(rows: list[dict], stale: list[tuple[str, str]], proto_id: str, current_hash: str,
              arrows: dict[str, bool], heads: list[tuple[str, str]], cols: list[tuple[str, str]] | None = None,
              sentence: str = "Ranked by mean win rate over the headline metrics (averaged within each metric "
                               "family, then over families).") -> str:
    """A self-contained page; clicking a header sorts by that column (numbers numerically, n/a last)."""
    cols = cols or columns(rows, heads)
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
            tds.append(f"<td{num}>{html.escape(cell(r, k))}</td>")
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
<p>Protocol hash <code>{current_hash[:12]}</code>. {html.escape(sentence)} Click a
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


def build(proto_id: str = DEFAULT_PROTOCOL, results_dir: Path | None = None, out_md: Path | None = None,
          out_html: Path | None = None, current_hash: str | None = None,
          data_root: Path | None = None) -> tuple[Path, Path | None]:
    """Rank `results_dir/<protocol>/*.json` and write the markdown and HTML leaderboards. A real-data protocol's
    hash includes its label files, so ranking one needs `data_root` (or `current_hash`). (Faces protocols:
    bench.publish.facesboard.)"""
    proto = load_protocol(proto_id)
    if proto.kind == "faces":
        raise UsageError(f"{proto.id} is a photograph protocol: its board is bench.publish.facesboard "
                         f"(`augen leaderboard --protocol {proto.id}`)")
    current_hash = current_hash or current_protocol_hash(proto, data_root)
    heads = headline(proto)
    filed = load_filed(Path(results_dir or results_root()) / proto.id)
    arrows = {m: v["higher_is_better"] for m, v in proto.metric_info.items()}
    arrows["win_rate"] = arrows["training_value"] = True
    folder = workspace() / "leaderboards"
    out_md = Path(out_md or folder / "LEADERBOARD.md")
    out_html = Path(out_html or folder / "index.html")
    if proto.headline is not None and proto.headline.rank_by == "tasks":
        md, page = tasks_board(proto, filed, current_hash, heads, arrows)
        atomic_write_text(out_md, md)
        atomic_write_text(out_html, page)
        return out_md, out_html
    rows, stale, cols, sentence = board(proto, filed, current_hash)
    atomic_write_text(out_md, markdown_board(rows, stale, proto.id, current_hash, arrows, cols, sentence))
    atomic_write_text(out_html, html_page(rows, stale, proto.id, current_hash, arrows, heads, cols, sentence))
    return out_md, out_html


def tasks_board(proto: Protocol, filed: list[tuple[str, dict]], current_hash: str, heads: list[tuple[str, str]],
                arrows: dict[str, bool]) -> tuple[str, str]:
    """(LEADERBOARD.md, index.html) of a protocol that ranks per task (bench.publish.taskboard): the sentence, one
    section per task, then every entry's diagnostics (sortable in the page)."""
    from bench.publish import taskboard as TB

    tables, stale = TB.task_tables(proto, filed, current_hash)
    sentence = TB.how_ranked(proto)
    sections = TB.markdown_tasks(tables)
    ok = [(n, r) for n, r in filed if r["protocol"]["hash"] == current_hash]
    drows, dcols = TB.diagnostics(ok, heads)
    arrows = {**arrows, "real_copy_share": False}
    diag = markdown_board(drows, stale, proto.id, current_hash, arrows, dcols, sentence).split("\n")
    table = [ln for ln in diag if ln.startswith("|")]
    undeclared = [r["name"] for t in tables for r in t["rows"] if r["role"] != "reference" and r["real_data"] is None]
    md = diag[:6] + sections + ["## Diagnostics (not ranked by)", "", *table, ""]
    if undeclared:
        md += [f"Undeclared real data: {', '.join(sorted(set(undeclared)))}. A generator declares the real labelled "
               "images it learned from as `real_data` in its manifest's generator record (`SampleSetWriter(..., "
               "generator={'name': ..., 'real_data': {'labelled_images': N, 'split': 'train'}})`; docs/verdicts.md).",
               ""]
    if stale:
        md += ["Not ranked (scored under another protocol hash; rescore to compare): "
               + ", ".join(f"{n} (`{h[:12]}`)" for n, h in stale), ""]
    page = html_page(drows, stale, proto.id, current_hash, arrows, heads, dcols, sentence)
    page = page.replace('<table id="board">', TB.markdown_to_html(sections) + '\n<h2>Diagnostics (not ranked by)</h2>'
                        '\n<table id="board">', 1)
    return "\n".join(md), page
