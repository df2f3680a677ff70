"""The benchmark report of one protocol: markdown + HTML + matplotlib figures from its filed results.

    augen report --protocol world-v1 --out reports/world-v1 [--sets NAME=SAMPLESET ...] [--data-root DIR]

The report reads the filed results of the current protocol hash (`leaderboards/results/<protocol>/`): the
leaderboard, the downstream scaling table and curves (seed means with 95% intervals, real-only for reference),
per-AU F1 bars, predicted demographic distributions, and sample grids with their claimed labels for the sets
named with --sets (default: each filed entry's own set where the run cache holds it, matched by content hash).
(Paper tables with our values beside: bench.publish.papers.)
"""

from __future__ import annotations

import fnmatch
import html
import io
import math
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.paths import results_root
from bench.publish.leaderboard import board, cell, headline, load_filed
from bench.publish.refreport import sample_grid
from bench.scoring.protocols import current_hash as current_protocol_hash
from bench.scoring.protocols import load_protocol

# -- blocks rendered to both markdown and HTML ---------------------------------------------------------------


def render_md(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        if b[0] == "h":
            out += ["#" * b[2] + " " + b[1], ""]
        elif b[0] == "p":
            out += [b[1], ""]
        elif b[0] == "table":
            out += ["| " + " | ".join(b[1]) + " |", "|" + "---|" * len(b[1])]
            out += ["| " + " | ".join(r) + " |" for r in b[2]] + [""]
        elif b[0] == "img":
            out += [f"![{b[2]}]({b[1]})", ""]
    return "\n".join(out)


def render_html(blocks: list[tuple], title: str) -> str:
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:"
           "collapse;margin:1em 0}th,td{padding:3px 9px;border-bottom:1px solid #ddd;text-align:right}"
           "th:first-child,td:first-child{text-align:left}img{max-width:100%}</style></head><body>"]
    for b in blocks:
        if b[0] == "h":
            out.append(f"<h{b[2]}>{html.escape(b[1])}</h{b[2]}>")
        elif b[0] == "p":
            out.append(f"<p>{html.escape(b[1])}</p>")
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in b[1]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in b[2]]
            out.append("</table>")
        elif b[0] == "img":
            out.append(f"<p><img src='{html.escape(b[1])}' alt='{html.escape(b[2])}'></p>")
    return "\n".join(out + ["</body></html>"])


# -- the output folder: rebuilt on every run, never accumulated -----------------------------------------------

#: Every file a report writes (bench.publish.report and bench.publish.facesreport): only these are ever removed.
REPORT_FILES = ("report.md", "report.html", "scaling_*.png", "per_au_*.png", "pareto.png", "demographics.png",
                "samples_*.png")


def write_report(out_dir: Path, blocks: list[tuple], title: str) -> tuple[Path, Path]:
    """Write report.md and report.html (atomically) into `out_dir`, whose figures `blocks` already wrote, then
    remove the files an earlier run wrote that this one did not (a figure or sample grid no longer shown): regular
    files named like the report's own (REPORT_FILES) only, never anything else in the folder."""
    md, page = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md, render_md(blocks))
    atomic_write_text(page, render_html(blocks, title))
    prune(out_dir, {md.name, page.name} | {b[1] for b in blocks if b[0] == "img"})
    return md, page


def save_figure(fig, out: Path) -> None:
    """A matplotlib figure as PNG at `out`, written atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(out, buf.getvalue())


def prune(out_dir: Path, written: set[str]) -> list[Path]:
    """Remove the regular files of `out_dir` named like a report's own (REPORT_FILES) but not in `written`;
    returns them."""
    gone = []
    for p in sorted(Path(out_dir).iterdir()):
        if p.name in written or not any(fnmatch.fnmatchcase(p.name, pat) for pat in REPORT_FILES):
            continue
        if p.is_file() and not p.is_symlink():
            p.unlink()
            gone.append(p)
    return gone


# -- the benchmark report ----------------------------------------------------------------------------------


def _fmt(v, ci=None, pct=False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    k = 100 if pct else 1
    s = f"{v * k:.1f}" if pct else f"{v:.3f}"
    if ci and None not in ci:
        s += f" ± {(ci[1] - ci[0]) * k / 2:.1f}" if pct else f" ± {(ci[1] - ci[0]) / 2:.3f}"
    return s


def scaling_rows(filed: list[tuple[str, dict]], kind: str = "expression_accuracy") -> tuple[list[str], list[list]]:
    """The downstream scaling table: one row per result (+ real only), cells mean ± CI half-width in %."""
    scales = sorted({k.split("_")[-1] for _, r in filed for k in r["metrics"]
                     if k.startswith(f"downstream_{kind}_") and k.endswith("x")}, key=lambda s: float(s[:-1]))
    head = ["generator", *[f"synthetic {s}" for s in scales], "real 1x + synthetic 1x", "gain per doubling"]
    rows, real = [], None
    for name, r in filed:
        m = r["metrics"]
        if f"downstream_{kind}_mixed" not in m:
            continue
        mix = m[f"downstream_{kind}_mixed"]
        real = real or (mix.get("real_only"), mix.get("real_only_ci95"))
        slope = m.get(f"downstream_{kind}_slope", {})
        rows.append([name, *[_fmt(m.get(f"downstream_{kind}_{s}", {}).get("value"),
                                  m.get(f"downstream_{kind}_{s}", {}).get("ci95"), True) for s in scales],
                     _fmt(mix["value"], mix.get("ci95"), True), _fmt(slope.get("value"), None, True)])
    if real:
        rows.append(["real only (1x, true labels)", *["" for _ in scales], _fmt(real[0], real[1], True), ""])
    return head, rows


def figure_scaling(filed, out: Path, kind: str = "expression_accuracy") -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    real = None
    drew = False
    for name, r in filed:
        pts = sorted((float(k.split("_")[-1][:-1]), v) for k, v in r["metrics"].items()
                     if k.startswith(f"downstream_{kind}_") and k.endswith("x") and v["value"] is not None)
        if not pts:
            continue
        x = [p[0] for p in pts]
        y = [p[1]["value"] for p in pts]
        err = [[p[1]["value"] - (p[1]["ci95"] or [p[1]["value"]] * 2)[0] for p in pts],
               [(p[1]["ci95"] or [p[1]["value"]] * 2)[1] - p[1]["value"] for p in pts]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
        drew = True
        mix = r["metrics"].get(f"downstream_{kind}_mixed", {})
        real = real or mix.get("real_only")
    if not drew:
        plt.close(fig)
        return None
    if real is not None:
        ax.axhline(real, color="k", ls="--", lw=1, label="real only, 1x")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("synthetic training set size (x real train size)")
    ax.set_ylabel(kind.replace("_", " ") + " on real test")
    ax.set_title("Downstream scaling (seed mean, 95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def figure_pareto(rows: list[dict], out: Path, rank_by: str) -> Path | None:
    """Training value against realism (FD, log scale) and against diversity (Vendi): one point per board row,
    controls hollow, entries failing the label gate marked x. Diagnostics beside the headline, not in it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [r for r in rows if r.get("training_value") is not None and np.isfinite(r["training_value"])]
    if not pts:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "fd_world", "FD (world judge), log scale"), (axes[1], "vendi", "Vendi")):
        for r in pts:
            if r.get(key) is None:
                continue
            ref, ok = r["role"] == "reference", r["passes"]
            # an x has no face, so only its colour is set (an edge colour on it is a matplotlib UserWarning)
            style = ({"marker": "x", "color": "C0" if ref else "C1"} if not ok
                     else {"marker": "o", "facecolors": "none", "edgecolors": "C0"} if ref
                     else {"marker": "o", "color": "C1"})
            ax.scatter(r[key], r["training_value"], s=50, **style)
            ax.annotate(r["name"], (r[key], r["training_value"]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        ax.set_xlabel(label)
        ax.set_ylabel("training value")
        if key == "fd_world":
            ax.set_xscale("log")
    fig.suptitle("Training value vs realism and diversity (hollow: controls; x: labels fail the gate)")
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def trivial_rows(filed: list[tuple[str, dict]], scale: str = "1x") -> tuple[list[str], list[list[str]]]:
    """Each entry's raw downstream scores at one scale beside the test set's trivial baselines and the
    chance-corrected kinds (protocols with a validation split)."""
    head = ["generator", f"AU F1 {scale}", "all present", "base-rate guess", f"AU kappa {scale}",
            f"expr. acc. {scale}", "majority class", "base-rate guess", f"expr. kappa {scale}"]
    out = []
    for name, r in filed:
        m = r["metrics"]
        f1, ex = m.get(f"downstream_au_f1_{scale}", {}), m.get(f"downstream_expression_accuracy_{scale}", {})
        if "trivial" not in f1:
            continue
        tf, te = f1["trivial"], ex.get("trivial", {})
        out.append([name, _fmt(f1.get("value")), _fmt(tf.get("all_present")), _fmt(tf.get("base_rate_random")),
                    _fmt(m.get(f"downstream_au_kappa_{scale}", {}).get("value")), _fmt(ex.get("value")),
                    _fmt(te.get("majority")), _fmt(te.get("base_rate_random")),
                    _fmt(m.get(f"downstream_expression_kappa_{scale}", {}).get("value"))])
    return head, out


def figure_per_au(filed, out: Path, key: str = "au_f1") -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [(n, r["metrics"][key]["per_au"]) for n, r in filed if r["metrics"].get(key, {}).get("per_au")]
    if not data:
        return None
    aus = sorted({a for _, d in data for a in d})
    fig, ax = plt.subplots(figsize=(max(6.4, 0.5 * len(aus) * max(1, len(data)) / 2), 4))
    w = 0.8 / len(data)
    for i, (n, d) in enumerate(data):
        ax.bar(np.arange(len(aus)) + i * w, [d.get(a) if d.get(a) is not None else 0 for a in aus], w, label=n)
    ax.set_xticks(np.arange(len(aus)) + 0.4 - w / 2, aus, rotation=60, fontsize=8)
    ax.set_ylabel(f"{key} per AU")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def figure_demographics(filed, out: Path) -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attrs = ("skin_tone", "gender", "age_group")
    have = [(n, r) for n, r in filed if all(r["metrics"].get(f"{a}_entropy", {}).get("distribution") for a in attrs)]
    if not have:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, a in zip(axes, attrs):
        left = np.zeros(len(have))
        k = len(have[0][1]["metrics"][f"{a}_entropy"]["distribution"])
        cmap = plt.get_cmap("viridis", k)
        for c in range(k):
            v = np.array([r["metrics"][f"{a}_entropy"]["distribution"][c] for _, r in have])
            ax.barh([n for n, _ in have], v, left=left, color=cmap(c), label=str(c))
            left += v
        ax.set_title(f"predicted {a.replace('_', ' ')}")
        ax.set_xlim(0, 1)
    axes[0].tick_params(axis="y", labelsize=8)
    for ax in axes[1:]:
        ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def sizes_text(filed: list[tuple[str, dict]]) -> str:
    """'n = 2000 samples each', or each entry's own n where they differ."""
    sizes = [r["sampleset"]["n"] for _, r in filed]
    if len(set(sizes)) == 1:
        return f"n = {sizes[0]} samples each"
    return "n = " + ", ".join(f"{n} ({name})" for n, (name, _) in zip(sizes, filed))


def cached_sets(proto_id: str, filed: list[tuple[str, dict]]) -> dict[str, str]:
    """Sets in this machine's run cache (`augen submit generator:NAME` runs) that filed entries were scored on:
    entry name -> set folder. A candidate is a cached set folder of the name the result records; it counts only if
    its content hash (labels and every image's bytes) is the one the result records, so a grid always shows the
    filed set, never a later run of the same generator."""
    from bench.core.paths import cache_root
    from bench.data.sampleset import SampleSet

    out = {}
    for name, r in filed:
        ss = r.get("sampleset", {})
        for cand in sorted((cache_root() / "runs" / proto_id).glob(f"*/{ss.get('folder', '-')}/manifest.yaml")):
            try:
                if SampleSet(cand.parent).content_hash() == ss.get("content_hash"):
                    out[name] = str(cand.parent)
                    break
            except (DataError, OSError):  # an incomplete or damaged cached set is no candidate
                continue
    return out


def build_report(proto_id: str, out_dir: Path, sets: dict[str, str] | None = None,
                 results_dir: Path | None = None, current_hash: str | None = None,
                 data_root: Path | None = None) -> tuple[Path, Path]:
    """Write report.md, report.html and figures into out_dir from the filed results of the current hash (a
    real-data protocol's hash needs `data_root`, or `current_hash`). The folder is rebuilt: the report's own files
    (REPORT_FILES) an earlier run wrote and this one does not are removed; nothing else in it is touched."""
    proto = load_protocol(proto_id)
    if proto.kind == "faces":
        raise UsageError(f"{proto.id} is a photograph protocol: its report is bench.publish.facesreport "
                         f"(`augen report --protocol {proto.id}`)")
    current_hash = current_hash or current_protocol_hash(proto, data_root)
    folder = Path(results_dir or results_root()) / proto.id
    filed_all = load_filed(folder)
    filed = [(n, r) for n, r in filed_all if r["protocol"]["hash"] == current_hash]
    if not filed:
        raise DataError(folder, f"no results of the current {proto.id} hash {current_hash[:12]}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    heads = headline(proto)
    blocks: list[tuple] = [
        ("h", f"AUGen-Bench report: {proto.id}", 1),
        ("p", f"Protocol hash {current_hash[:12]}; {len(filed)} generators; {sizes_text(filed)}. Written by "
              f"`augen report --protocol {proto.id}`."),
    ]
    by_task = proto.headline is not None and proto.headline.rank_by == "tasks"
    if by_task:  # one verdict per task (bench.publish.taskboard)
        from bench.publish import taskboard as TB

        tables, stale = TB.task_tables(proto, filed_all, current_hash)
        blocks += [("h", "Leaderboard: one verdict per task", 2), ("p", TB.how_ranked(proto))]
        for t in tables:
            blocks += [("h", t["title"], 3), ("p", f"Score: {t['score']}; compared on: "
                                                  f"{', '.join(t['shared']) or 'none'}."),
                       ("table", TB.HEAD, [TB.row_cells(r) for r in t["rows"]])]
    else:
        rows, stale, cols, sentence = board(proto, filed_all, current_hash)
        blocks += [("h", "Leaderboard", 2), ("p", sentence),
                   ("table", [h for _, h in cols], [[cell(r, k) for k, _ in cols] for r in rows])]
    if proto.headline is not None and not by_task:
        fig = figure_pareto(rows, out_dir / "pareto.png", proto.headline.rank_by)
        if fig:
            blocks += [("h", "Training value against realism and diversity", 2), ("img", fig.name, "pareto")]
    if proto.headline is not None:
        head, trows = trivial_rows(filed)
        if trows:
            blocks += [("h", "Downstream at 1x beside image-blind baselines", 2),
                       ("p", "Raw scores of recognizers trained on each set at 1x, on the real test split, beside what "
                             "a recognizer that never looks at the image scores there (kappa 0 for each): every AU "
                             "present, guessing at the base rates, the majority class. Kappa is the chance-corrected "
                             "score (AU decisions at per-AU thresholds chosen on a real validation split)."),
                       ("table", head, trows)]
    kinds = (("utility", "utility (mean of expression and AU kappa)"), ("expression_accuracy", "expression accuracy"),
             ("au_f1", "AU F1 (BP4D12)")) if proto.headline is not None else (
        ("expression_accuracy", "expression accuracy"), ("au_f1", "AU F1 (BP4D12)"))
    for kind, label in kinds:
        head, srows = scaling_rows(filed, kind)
        if srows:
            blocks += [("h", f"Downstream scaling: {label} on the real test split, %", 2),
                       ("p", "Recognizers trained on each generator's claimed labels; mean over seeds ± half the "
                             "95% interval. 'gain per doubling' is the slope of a log2-linear fit."),
                       ("table", head, srows)]
            fig = figure_scaling(filed, out_dir / f"scaling_{kind}.png", kind)
            if fig:
                blocks.append(("img", fig.name, f"downstream scaling, {label}"))
    for key, label in (("au_f1", "claimed AUs vs the judge"), ("au_f1_condition", "requested AUs vs the judge")):
        fig = figure_per_au(filed, out_dir / f"per_au_{key}.png", key)
        if fig:
            blocks += [("h", f"Per-AU F1, {label}", 2), ("img", fig.name, f"per-AU F1, {label}")]
    fig = figure_demographics(filed, out_dir / "demographics.png")
    if fig:
        blocks += [("h", "Predicted demographics", 2), ("img", fig.name, "demographic distributions")]
    if sets is None:  # the filed entries' own sets, where this machine's run cache still holds them
        sets = cached_sets(proto.id, filed)
        if missing := [n for n, _ in filed if n not in sets]:
            blocks.append(("p", "No sample grid for " + ", ".join(missing) + ": their sets are not in this "
                                "machine's run cache (`augen submit generator:NAME` regenerates a registered "
                                "generator's set; `--sets NAME=FOLDER` names any set)."))
    for name, folder in sets.items():
        grid = sample_grid(folder, out_dir / f"samples_{name}.png")
        blocks += [("h", f"Samples: {name} (claimed labels)", 2), ("img", grid.name, f"samples of {name}")]
    if stale:
        blocks.append(("p", "Not included (other protocol hash): " + ", ".join(n for n, _ in stale)))
    blocks.append(("p", "Headline metrics: " + ", ".join(m for m, _ in heads)))
    return write_report(out_dir, blocks, f"AUGen-Bench report: {proto.id}")
