"""The board of a photograph protocol (`kind: faces`, faces-v1): the filed results of `augen submit IMAGES --labels
... --reference REF`, grouped by protocol hash (each reference set is its own hash: results against different
references are never put in one table) and listed by name, **not ranked**.

Faces protocols have no headline yet. The project ranks by what a set trains (docs/verdicts.md), and for photographs
that needs downstream results on a real dataset (`augen downstream SET --protocol affectnet-v1`), which no filed
faces result carries; realism, diversity and label agreement stay diagnostics, shown with their intervals and, for
label agreement, the judge's ceiling on the reference.

    augen leaderboard --protocol faces-v1        -> leaderboards/faces-v1.md
"""

from __future__ import annotations

from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.paths import results_root, workspace
from bench.core.protocol import Protocol

#: The columns, in order: metric, header.
COLUMNS = (("face_yield", "face yield"), ("fd_identity", "FD id"), ("precision", "prec."), ("recall", "recall"),
           ("vendi", "Vendi"), ("skin_tone_entropy", "ITA H"), ("expression_kappa", "expr. kappa (ceiling)"),
           ("au_f1", "AU F1 (ceiling)"))
NO_HEADLINE = ("Not ranked: faces protocols rank by what the data trains (docs/verdicts.md), which needs downstream "
               "results on a real dataset; these are diagnostics, listed by name.")


def cell(m: dict | None) -> str:
    """A metric as 'value [lo, hi] (ceiling c)', or 'n/a'."""
    if not m or m.get("value") is None:
        return "n/a"
    text = f"{m['value']:.3g}"
    if m.get("ci95") and None not in m["ci95"]:
        text += f" [{m['ci95'][0]:.3g}, {m['ci95'][1]:.3g}]"
    if m.get("ceiling") and m["ceiling"].get("value") is not None:
        text += f" ({m['ceiling']['value']:.3g})"
    return text


def markdown(proto: Protocol, filed: list[tuple[str, dict]]) -> str:
    groups: dict[str, list[tuple[str, dict]]] = {}
    for name, res in filed:
        groups.setdefault(res["protocol"]["hash"], []).append((name, res))
    lines = [f"# {proto.id}: photographs", "", NO_HEADLINE, ""]
    if not groups:
        lines += ["No results filed yet (`augen submit IMAGES --labels FILE --protocol "
                  f"{proto.id} --reference REF`)."]
    for digest, entries in sorted(groups.items(), key=lambda kv: kv[1][0][0]):
        ref = entries[0][1].get("reference", {})
        lines += [f"## Against `{ref.get('folder', '?')}` (n = {ref.get('n', '?')}, protocol hash `{digest[:12]}`)", "",
                  "| entry | n | " + " | ".join(h for _, h in COLUMNS) + " |",
                  "|---|---:|" + "---|" * len(COLUMNS)]
        for name, res in sorted(entries):
            lines.append(f"| {name} | {res['sampleset']['n']} | "
                         + " | ".join(cell(res["metrics"].get(m)) for m, _ in COLUMNS) + " |")
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
