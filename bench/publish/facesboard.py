"""The board of a photograph protocol (`kind: faces`, faces-v1): the filed results of `augen submit IMAGES --labels
... --reference REF`, grouped by protocol hash (each reference set, and each downstream dataset, is its own hash:
results against different references are never put in one table).

A protocol with a `headline` (faces-v1) ranks each table as the world boards do (bench.publish.leaderboard,
docs/verdicts.md): by training value on the headline's real dataset (affectnet-v1), among entries whose claimed labels
pass the gate (claimed-vs-judge kappa above chance) and that declare no more real data than allowed. Entries without
a downstream result, or failing the gate, are listed below, unranked. A protocol without a headline (faces-demo: no
real dataset ships) lists its entries by name. Realism, diversity and label agreement are diagnostics beside, with
their intervals and, for label agreement, the reference agreement (the reference set's own labels against the
same judge: a comparison, not a bound). Each table says what read its AUs (`au_reader_words`): an external tool, or the
protocol's au_reader, MediaPipe's blendshapes mapped to AUs, named a proxy. (The paired significance test of the
world boards needs the world's test truth; these tables have none.)

    augen leaderboard --protocol faces-v1        -> leaderboards/faces-v1.md
"""

from __future__ import annotations

from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.paths import results_root, workspace
from bench.core.protocol import Protocol

#: The columns, in order: metric, header.
COLUMNS = (("face_yield", "face yield"), ("fd_identity", "FD id"), ("precision", "prec."), ("recall", "recall"),
           ("vendi", "Vendi"), ("skin_tone_entropy", "ITA H"), ("expression_kappa", "expr. kappa (ref. agreement)"),
           ("au_f1", "AU F1 (ref. agreement)"))
NO_HEADLINE = ("Not ranked: this protocol names no real dataset to train on (headline), and the project ranks by "
               "what the data trains (docs/verdicts.md); these are diagnostics, listed by name.")


def cell(m: dict | None) -> str:
    """A metric as 'value [lo, hi] (r)', r its reference agreement (the reference set's own labels vs the judge),
    or 'n/a'."""
    if not m or m.get("value") is None:
        return "n/a"
    text = f"{m['value']:.3g}"
    if m.get("ci95") and None not in m["ci95"]:
        text += f" [{m['ci95'][0]:.3g}, {m['ci95'][1]:.3g}]"
    if m.get("ceiling") and m["ceiling"].get("value") is not None:
        text += f" ({m['ceiling']['value']:.3g})"
    return text


def au_reader_words(res: dict) -> str:
    """What read the AUs of a table's entries (one protocol hash, one AU reader), saying so when it is a proxy; ''
    when the protocol's judge read them (or nothing did)."""
    j = res.get("au_judge") or {}
    if j.get("proxy"):
        return (f"AUs read by `{j['id']}`, a proxy: {j['what']}. AU agreement says how claimed AUs match this "
                "proxy, not a FACS coder.")
    if j.get("id") and j["id"] not in (res.get("judges") or {}):
        return f"AUs read by the external tool's readings `{j['id']}`."
    return ""


def how_ranked(proto: Protocol) -> str:
    """The board's sentence on how it ranks."""
    h = proto.headline
    if h is None:
        return NO_HEADLINE
    from bench.publish.headline import training_value_words
    from bench.scoring.protocols import load_protocol

    s = load_protocol(h.downstream).downstream
    words = training_value_words("chance-corrected score", f"{h.downstream}'s real test set",
                                 f"training sizes of {min(s.scales):g}x-{max(s.scales):g}x of {s.real_train.n:,} "
                                 f"images" if s is not None and s.real_train.n else "its training sizes")
    return (f"Each table is ranked by {words}, among entries whose claimed labels agree with the judges beyond "
            f"chance (lower 95% bound of kappa > {h.gate_min:g}{gate_aus(proto)}). Entries without a downstream "
            f"result (`--data-root` or `--downstream-results` when scoring) or failing the gate are listed, not "
            f"ranked. Each table holds one reference set and one downstream dataset (one protocol hash).")


def gate_aus(proto: Protocol) -> str:
    """', AU kappa on AU01, ... only' when the protocol's gate reads only its au_gate AUs (the validated ones)."""
    if not proto.au_gate or "au_kappa_gate" not in proto.headline.gate:
        return ""
    return f"; AU kappa on {', '.join(f'AU{a:02d}' for a in proto.au_gate)} only, the AUs validated for the AU reader"


def group_rows(proto: Protocol, digest: str, entries: list[tuple[str, dict]]) -> list[dict]:
    """One table's rows, best first: {name, rank, training value, gate, ...} ranked by the headline (rank '-' for
    entries listed but not ranked), or by name without one."""
    if proto.headline is None:
        return [{"name": name, "rank": "", "role": "listed"} for name, _ in sorted(entries)]
    from bench.publish.leaderboard import rank_by_training_value

    rows, _ = rank_by_training_value(entries, digest, proto, [])
    return rows


def markdown(proto: Protocol, filed: list[tuple[str, dict]]) -> str:
    from bench.publish import leaderboard as L

    groups: dict[str, list[tuple[str, dict]]] = {}
    for name, res in filed:
        groups.setdefault(res["protocol"]["hash"], []).append((name, res))
    lines = [f"# {proto.id}: photographs", "", how_ranked(proto), ""]
    if not groups:
        lines += ["No results filed yet (`augen submit IMAGES --labels FILE --protocol "
                  f"{proto.id} --reference REF`)."]
    ranked = proto.headline is not None
    lead = [("rank", "#"), ("name", "entry"), ("training_value", "training value"), ("gate", "labels valid"),
            ("real_data", "real imgs seen")] if ranked else [("name", "entry")]
    for digest, entries in sorted(groups.items(), key=lambda kv: min(n for n, _ in kv[1])):
        by_name = dict(entries)
        ref = entries[0][1].get("reference", {})
        down = (entries[0][1].get("downstream") or {}).get("protocol", {})
        trained_on = f", trained on {down['id']}" if down else ""
        lines += [f"## Against `{ref.get('folder', '?')}` (n = {ref.get('n', '?')}{trained_on}, protocol hash "
                  f"`{digest[:12]}`)", "",
                  *([words, ""] if (words := au_reader_words(entries[0][1])) else []),
                  "| " + " | ".join(h for _, h in lead) + " | n | " + " | ".join(h for _, h in COLUMNS) + " |",
                  "|" + "---|" * len(lead) + "---:|" + "---|" * len(COLUMNS)]
        rows = group_rows(proto, digest, entries)
        for row in rows:
            res = by_name[row["name"]]
            lead_cells = [L.cell(row, k) if k != "name" else row["name"] for k, _ in lead]
            lines.append("| " + " | ".join(lead_cells) + f" | {res['sampleset']['n']} | "
                         + " | ".join(cell(res["metrics"].get(m)) for m, _ in COLUMNS) + " |")
        if ranked and L.not_ranked(rows):
            lines += ["", "Not ranked: " + L.not_ranked(rows)]
        skipped = sorted({k for _, r in entries for k in r.get("not_applicable", {})})
        if skipped:
            lines += ["", f"Not scored for some entries (no input for them): {', '.join(skipped)}."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def build(proto: Protocol, filed: list[tuple[str, dict]], out_md: Path | None = None) -> Path:
    out = Path(out_md or workspace() / "leaderboards" / f"{proto.id}.md")
    atomic_write_text(out, markdown(proto, filed))
    return out


def default_folder(proto: Protocol, results_dir: Path | None = None) -> Path:
    return Path(results_dir or results_root()) / proto.id
