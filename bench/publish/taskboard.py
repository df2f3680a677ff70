"""The board of a protocol with tasks (world-v3 on): one ranking per task, each on labels every ranked entry claims.

Per task (bench.downstream.tasks): the entries that claim its labels, whose claimed labels pass the task's gate
(lower 95% bound of the claimed-vs-judge kappa of its kind above `headline.gate_min`), whose near-copy share of real
data is at most `headline.copy_max_share` and whose real budget fits, are ranked by the task value on the columns
(AUs) that *every* ranked entry labels, with a Student t interval over replicate blocks and a paired t test over
blocks between adjacent ranks (Holm-corrected). Each row also shows the entry's own coverage and its value on all
it labels, the real-image equivalent of its largest run, the mixed run's gain over real-only of the same size, and
for AU tasks a per-AU table. Controls are reference rows; entries that do not claim a task's labels are not in it.
"""

from __future__ import annotations

import numpy as np

from bench.core.protocol import Protocol
from bench.downstream.tasks import TASK_KINDS, columns, paired_t, summary
from bench.generation.controls import CONTROL_NAMES
from bench.publish.significance import holm


def _lower(r: dict, name: str) -> float | None:
    e = r["metrics"].get(name) or {}
    return (e.get("ci95") or [None])[0]


def entry_status(r: dict, proto: Protocol, task_kind: str) -> tuple[str, str]:
    """(role, reason) of one result in one task: reference, not claimed, fails gate, copies real data, over budget,
    ranked."""
    h = proto.headline
    e = r["metrics"].get(TASK_KINDS[task_kind].metric) or {}
    if not e:  # first: a control scored without downstream has no row to place either
        return "not scored", "no downstream result (scored without downstream?)"
    if r["generator"]["name"] in CONTROL_NAMES:
        return "reference", ""
    if not e.get("claimed"):
        return "not claimed", "claims no label of this task"
    g = TASK_KINDS[task_kind].gate
    lo = _lower(r, g)
    if lo is None or not lo > h.gate_min:
        return "fails gate", f"{g} lower bound {'n/a' if lo is None else f'{lo:.3f}'} <= {h.gate_min:g}"
    copy = (r["metrics"].get("real_copy_share") or {}).get("value")
    if copy is None or not np.isfinite(copy):  # a copy check that did not run lets nothing through
        return "no copy check", "real_copy_share missing: copies of real data cannot be ruled out"
    if copy > h.copy_max_share:
        pools = (r["metrics"]["real_copy_share"].get("pools") or {})
        worst = max(pools, key=pools.get) if pools else "?"
        return "copies real data", f"real_copy_share {copy:.3f} > {h.copy_max_share:g} (pool: {worst})"
    n = (r["generator"].get("real_data") or {}).get("labelled_images")
    if proto.real_budget is not None and n is not None and n > proto.real_budget.max_images:
        return "over budget", f"{n:,} labelled real images > {proto.real_budget.max_images:,}"
    return "ranked", ""


def task_table(proto: Protocol, ok: list[tuple[str, dict]], task) -> dict:
    """One task's ranking: {kind, title, shared (columns compared), rows best first, per_au (AU tasks), absent
    (entries that claim none of its labels)}."""
    kind = TASK_KINDS[task.kind]
    status = {name: entry_status(r, proto, task.kind) for name, r in ok}
    ent = {name: r["metrics"].get(kind.metric) or {} for name, r in ok}
    ranked = [n for n, _ in ok if status[n][0] == "ranked"]
    task_cols = columns(task)
    shared = [c for c in task_cols if all(c in (ent[n].get("columns") or []) for n in ranked)]
    if ranked and not shared:  # nothing in common: no comparison, so no ranking
        status.update({n: ("no shared labels", "the ranked entries share no label of this task") for n in ranked})
    rows = []
    for name, r in ok:
        role, why = status[name]
        if role in ("not claimed", "not scored"):
            continue
        e = ent[name]
        own = summary(e)
        on_shared = summary(e, shared) if shared else {"value": None}
        if role == "ranked" and not np.isfinite(on_shared.get("value") if on_shared.get("value") is not None
                                                else np.nan):
            role, why = "no value", "its task value is not finite"
        rows.append({"name": name, "role": role, "why": why, "value": on_shared.get("value"),
                     "ci": on_shared.get("ci95"), "per_replicate": on_shared.get("per_replicate"),
                     "own_value": own.get("value"), "own_ci": own.get("ci95"), "coverage": e.get("coverage"),
                     "equivalent": on_shared.get("real_equivalent"), "mixed": on_shared.get("mixed"),
                     "real_data": (r["generator"].get("real_data") or {}).get("labelled_images"),
                     "copy": (r["metrics"].get("real_copy_share") or {}).get("value"),
                     "gate_lower": _lower(r, kind.gate),
                     "per_au": {c: float(np.mean([np.nan if v is None else v for v in e["per_column"][c]]))
                                for c in e.get("columns") or []}})

    def key(row):
        v = row["value"]
        return (row["role"] not in ("ranked", "reference"),
                -(v if v is not None and np.isfinite(v) else -np.inf), row["name"])
    rows.sort(key=key)
    ranked_rows = [row for row in rows if row["role"] == "ranked"]
    k = 0
    for i, row in enumerate(ranked_rows):
        k = k if i and row["value"] == ranked_rows[i - 1]["value"] else i + 1
        row["rank"] = k
    for row in rows:
        row.setdefault("rank", "ref" if row["role"] == "reference" else "-")
    p = [paired_t(a["per_replicate"], b["per_replicate"]) for a, b in zip(ranked_rows, ranked_rows[1:])]
    finite = [i for i, v in enumerate(p) if np.isfinite(v)]
    for i, q in zip(finite, holm([p[i] for i in finite])):
        ranked_rows[i + 1]["sig"] = {"p": p[i], "p_holm": q, "significant": q < proto.bootstrap.alpha}
    return {"kind": task.kind, "title": kind.title, "score": kind.score, "shared": shared, "columns": task_cols,
            "rows": rows, "absent": [n for n, _ in ok if status[n][0] == "not claimed"],
            "unscored": [n for n, _ in ok if status[n][0] == "not scored"]}


def task_tables(proto: Protocol, filed: list[tuple[str, dict]], current_hash: str
                ) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every task's table, and the stale (name, hash) left out."""
    ok = [(n, r) for n, r in filed if r["protocol"]["hash"] == current_hash]
    stale = [(n, r["protocol"]["hash"]) for n, r in filed if r["protocol"]["hash"] != current_hash]
    return [task_table(proto, ok, t) for t in proto.downstream.tasks], stale


def _f(v, d: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{d}f}"


def equivalent_cell(eq: dict | None) -> str:
    """"800 synthetic ≈ 310 real [250-390]" ('<'/'>' where it leaves the real-only curve's range)."""
    if not eq or eq.get("images") is None:
        return "n/a"

    def n(v, side):
        return f"{side} {v:,.0f}" if side else f"{v:,.0f}"
    lo, hi = eq["ci95"]
    s_lo, s_hi = eq.get("ci_sides") or ["", ""]
    return (f"{eq['synthetic_images']:,} ≈ {n(eq['images'], eq['side'])} real "
            f"[{n(lo, s_lo)}–{n(hi, s_hi)}]")


def row_cells(row: dict) -> list[str]:
    name = f"*{row['name']}*" if row["role"] == "reference" else row["name"]
    ci = row.get("ci")
    mark = " ≈" if row.get("sig") and not row["sig"]["significant"] else ""
    value = "n/a" if row["value"] is None else _f(row["value"]) + (f" ± {(ci[1] - ci[0]) / 2:.3f}" if ci else "") + mark
    cov = row.get("coverage") or [0, 0]
    mixed = row.get("mixed") or {}
    seen = row.get("real_data")
    return [str(row["rank"]), name, value, f"{cov[0]}/{cov[1]}", _f(row["own_value"]),
            equivalent_cell(row.get("equivalent")),
            _f(mixed.get("gain_vs_real_same_size")) if mixed else "n/a",
            "—" if row["role"] == "reference" else ("undeclared" if seen is None else f"{seen:,}"),
            _f(row.get("copy")), _f(row.get("gate_lower"), 2)]


HEAD = ["#", "submission", "value on shared labels ↑", "coverage", "value on own labels ↑",
        "synthetic ≈ real images (largest run)", "mixed gain vs real same size", "real imgs seen",
        "real copy share ↓", "gate: kappa lower bound"]


def how_ranked(proto: Protocol) -> str:
    """The board's one sentence on how it ranks (tasks)."""
    s, h = proto.downstream, proto.headline
    tasks = "; ".join(TASK_KINDS[t.kind].title + (f" on {t.aus}" if t.aus else "") for t in s.tasks)
    from bench.publish.headline import training_value_words

    words = training_value_words("task's chance-corrected score (Cohen's kappa; ICC for AU intensity)",
                                 "real world faces",
                                 f"training sizes of {min(s.scales):g}x-{max(s.scales):g}x of {s.real_train.n} images")
    return (f"One verdict per task ({tasks}): each ranks the entries that claim its labels by {words}, on the labels "
            f"every ranked entry claims (a label an entry does not claim is never scored; its coverage is shown), "
            f"with a Student t interval over {s.replicates} replicate blocks (each its own condition draw, generation "
            f"and training "
            f"seed), among entries whose claimed labels agree with the judge beyond chance (lower 95% bound of kappa "
            f"> {h.gate_min:g}), whose near-copy share of real data is at most {h.copy_max_share:g} and whose real "
            f"data fits the budget of {proto.real_budget.max_images} labelled images; controls are reference rows "
            f"(ref); ≈ marks a gap to the row above that a paired t test over blocks does not find significant "
            f"(Holm-corrected, 5%).")


def markdown_tasks(tables: list[dict]) -> list[str]:
    """The task sections of LEADERBOARD.md."""
    out = []
    for t in tables:
        shared = ", ".join(t["shared"]) if t["shared"] else "none"
        out += [f"## {t['title']}", "",
                f"Score: {t['score']}; compared on the labels every ranked entry claims: {shared} "
                f"({len(t['shared'])} of {len(t['columns'])}).", "",
                "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
        out += ["| " + " | ".join(row_cells(r)) + " |" for r in t["rows"]]
        notes = [f"{r['name']} ({r['role']}: {r['why']})" for r in t["rows"]
                 if r["role"] not in ("ranked", "reference")]
        if notes:
            out += ["", "Not ranked: " + "; ".join(notes) + "."]
        if t["absent"]:
            out += ["", "Not in this task (claim none of its labels): " + ", ".join(t["absent"]) + "."]
        if t["unscored"]:
            out += ["", "Not scored for this task (no downstream result): " + ", ".join(t["unscored"]) + "."]
        if t["kind"] != "expression" and t["rows"]:
            cols = t["columns"]
            out += ["", "Per AU (task value on that AU, mean over blocks; n/a: not labelled):", "",
                    "| submission | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
            out += [f"| {r['name']} | " + " | ".join(_f(r["per_au"].get(c)) for c in cols) + " |" for r in t["rows"]]
        out.append("")
    return out


def diagnostics(ok: list[tuple[str, dict]], heads: list[tuple[str, str]]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Rows (by name) and columns of the diagnostics table: every entry's labelled non-downstream metrics."""
    rows = []
    for name, r in ok:
        row = {"name": name, "rank": "ref" if r["generator"]["name"] in CONTROL_NAMES else "",
               "role": "reference" if r["generator"]["name"] in CONTROL_NAMES else "entry"}
        for m, _ in heads:
            row[m] = (r["metrics"].get(m) or {}).get("value")
        row["real_copy_share"] = (r["metrics"].get("real_copy_share") or {}).get("value")
        rows.append(row)
    present = {k for row in rows for k, v in row.items() if v is not None}
    cols = [("rank", "#"), ("name", "submission")] + [(m, lab) for m, lab in heads if m in present] + [
        ("real_copy_share", "real copy share")]
    return rows, cols


def markdown_to_html(lines: list[str]) -> str:
    """The task sections as HTML: `## ` headings, pipe tables, paragraphs (cells escaped)."""
    import html as H

    out, i = [], 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("## "):
            out.append(f"<h2>{H.escape(ln[3:])}</h2>")
        elif ln.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, body = rows[0], [r for r in rows[2:]]
            def td(c: str) -> str:  # a reference row's *name* in italics, as in the markdown
                return (f"<td><em>{H.escape(c[1:-1])}</em></td>" if len(c) > 2 and c[0] == c[-1] == "*"
                        else f"<td>{H.escape(c)}</td>")
            out.append("<table class=\"task\"><thead><tr>" + "".join(f"<th>{H.escape(c)}</th>" for c in head)
                       + "</tr></thead><tbody>" + "".join("<tr>" + "".join(td(c) for c in r) + "</tr>" for r in body)
                       + "</tbody></table>")
            continue
        elif ln.strip():
            out.append(f"<p>{H.escape(ln)}</p>")
        i += 1
    return "\n".join(out)
