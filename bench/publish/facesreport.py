"""The report of a photograph protocol (`kind: faces`, faces-v1): markdown + HTML from its filed results, one section
per protocol hash (one reference set and one downstream dataset), built by `augen report --protocol faces-v1`.

Each section holds the board (bench.publish.facesboard: ranked by training value where the protocol has a headline),
every metric of every entry with its interval and, for label agreement, the reference agreement (the reference set's
own labels read by the same judge; not a bound), what was not scored and why, and, for entries with a downstream
result, the raw downstream scores beside the real test set's image-blind baselines and the scaling tables
(bench.publish.report's tables and figure). `--sets NAME=SET` adds a sample grid of an imported set with its claimed
labels.
"""

from __future__ import annotations

from pathlib import Path

from bench.core.errors import DataError
from bench.core.paths import results_root
from bench.core.protocol import FAMILIES, Protocol
from bench.publish import facesboard
from bench.publish import leaderboard as L
from bench.publish.refreport import sample_grid
from bench.publish.report import figure_scaling, scaling_rows, trivial_rows, write_report


def metric_rows(entries: list[tuple[str, dict]], proto: Protocol) -> tuple[list[str], list[list[str]]]:
    """Every metric but the raw downstream ones (those have their own tables), in family order, one column per
    entry: 'value [lo, hi] (reference agreement)'; a metric an entry did not score reads 'n/a' (its reason is listed
    apart)."""
    names = {k for _, r in entries for k in r["metrics"]} | {k for _, r in entries for k in r.get("not_applicable", {})}
    names = {n for n in names if not n.startswith("downstream_") or n == "downstream_training_value"}

    def family(n: str) -> str:
        e = next((r["metrics"][n] for _, r in entries if n in r["metrics"]), None)
        return (e or {}).get("family") or proto.metric_info.get(n, {}).get("family", "")
    listed = list(proto.metrics) + (["downstream_training_value"] if proto.headline else [])
    order = {n: i for i, n in enumerate(listed)}
    ranked = sorted(names, key=lambda n: (FAMILIES.index(family(n)) if family(n) in FAMILIES else len(FAMILIES),
                                          order.get(n, len(order)), n))
    head = ["family", "metric", *[name for name, _ in entries]]
    return head, [[family(n), n, *[facesboard.cell(r["metrics"].get(n)) for _, r in entries]] for n in ranked]


def section(proto: Protocol, digest: str, entries: list[tuple[str, dict]], out_dir: Path) -> list[tuple]:
    """The blocks of one protocol hash's section."""
    ref = entries[0][1].get("reference", {})
    down = (entries[0][1].get("downstream") or {}).get("protocol", {})
    blocks: list[tuple] = [
        ("h", f"Against {ref.get('folder', '?')} (n = {ref.get('n', '?')})"
              + (f", trained on {down['id']}" if down else ""), 2),
        ("p", f"Protocol hash {digest[:12]}; {len(entries)} entries."),
    ]
    if words := facesboard.au_reader_words(entries[0][1]):
        blocks.append(("p", words))
    rows = facesboard.group_rows(proto, digest, entries)
    if proto.headline is not None:
        cols = [("rank", "#"), ("name", "entry"), ("training_value", "training value"), ("gate", "labels valid"),
                ("real_data", "real imgs seen")]
        blocks += [("h", "Board", 3), ("p", facesboard.how_ranked(proto)),
                   ("table", [h for _, h in cols], [[L.cell(r, c) if c != "name" else r["name"] for c, _ in cols]
                                                    for r in rows])]
        if L.not_ranked(rows):
            blocks.append(("p", "Not ranked: " + L.not_ranked(rows)))
    ordered = [(r["name"], dict(entries)[r["name"]]) for r in rows]
    head, mrows = metric_rows(ordered, proto)
    blocks += [("h", "Every metric", 3),
               ("p", "Value [95% interval] (reference agreement: the same metric on the reference set, its own "
                     "labels against the same judge's readings, i.e. how well this judge reads the reference "
                     "photographs' labels; a point of comparison, not a bound: a set can score above it). Intervals "
                     "say what they resample (docs/intervals.md); the downstream training value's is over training "
                     "seeds."),
               ("table", head, mrows)]
    skipped = [f"{name}: {m} ({why})" for name, r in ordered for m, why in sorted(r.get("not_applicable", {}).items())]
    if skipped:
        blocks += [("p", "Not scored: " + "; ".join(skipped))]
    trained = [(n, r) for n, r in ordered if "downstream_training_value" in r["metrics"]]
    if trained:
        head, trows = trivial_rows(trained)
        if trows:
            blocks += [("h", "Downstream at 1x beside image-blind baselines", 3),
                       ("p", "Raw scores on the real test split of recognizers trained on each set's claimed labels "
                             "at 1x, beside a recognizer that never looks at the image (kappa 0): every AU present, "
                             "base-rate guessing, the majority class. n/a: the test set labels no such kind."),
                       ("table", head, trows)]
        for kind, label in (("utility", "utility (chance-corrected)"), ("expression_accuracy", "expression accuracy")):
            head, srows = scaling_rows(trained, kind)
            if srows:
                blocks += [("h", f"Downstream scaling: {label} on the real test split, %", 3), ("table", head, srows)]
                fig = figure_scaling(trained, out_dir / f"scaling_{kind}_{digest[:8]}.png", kind)
                if fig:
                    blocks.append(("img", fig.name, f"downstream scaling, {label}"))
    return blocks


def build_faces_report(proto: Protocol, out_dir: Path, sets: dict[str, str] | None = None,
                       results_dir: Path | None = None) -> tuple[Path, Path]:
    """Write report.md and report.html (and figures) into `out_dir` from the filed results of a faces protocol; the
    folder is rebuilt (bench.publish.report.write_report: the report's own files of an earlier run removed)."""
    folder = facesboard.default_folder(proto, results_dir or results_root())
    filed = L.load_filed(folder)
    if not filed:
        raise DataError(folder, f"no filed {proto.id} results (`augen submit IMAGES --labels FILE --protocol "
                                f"{proto.id} --reference REF`)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[tuple[str, dict]]] = {}
    for name, res in filed:
        groups.setdefault(res["protocol"]["hash"], []).append((name, res))
    blocks: list[tuple] = [("h", f"AUGen-Bench report: {proto.id} (photographs)", 1),
                           ("p", f"{len(filed)} filed results in {len(groups)} protocol hashes (one reference set and "
                                 f"one downstream dataset each). Written by `augen report --protocol {proto.id}`.")]
    for digest, entries in sorted(groups.items(), key=lambda kv: min(n for n, _ in kv[1])):
        blocks += section(proto, digest, entries, out_dir)
    for name, where in (sets or {}).items():
        grid = sample_grid(where, out_dir / f"samples_{name}.png")
        blocks += [("h", f"Samples: {name} (claimed labels)", 2), ("img", grid.name, f"samples of {name}")]
    return write_report(out_dir, blocks, f"AUGen-Bench report: {proto.id}")  # earlier runs' figures removed
