"""The report of `augen study realfaults` (bench.studies.realfaults), a pure function of its results JSON:
report.md (per source of real faces: the tau table, the findings, the values behind each expected tau) and taus.png
(one heatmap of tau per source, the cells where a fault is expected to worsen the metric framed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.protocol import FAMILIES
from bench.publish.report import render_md
from bench.studies.metaeval_checks import fmt, kendall, number

FIGURE = "taus.png"
VERDICTS = ("pass", "weak", "wrong sign", "flat", "n/a")
#: the scorer's reasons for skipping a metric, shortened for a table cell (first match; else "n/a")
SHORT_REASONS = (("reads no AUs", "no AU reader"), ("no intensities", "no AU intensities"),
                 ("no face counts", "not imported"), ("no training set", "no train set"))


def variant_name(fault: str, severity: float) -> str:
    """A scored variant's key in the results JSON: `clean` (severity 0), else e.g. `blur-0.25`."""
    return "clean" if severity == 0 else f"{fault}-{severity:.2f}"


def short_reason(why: str) -> str:
    return next((short for key, short in SHORT_REASONS if key in why), "n/a")


def ordered(data: dict, key: str) -> dict:
    """data[key] ("faults" or "sources", a dict the JSON stores with sorted keys) in the run's order
    (data["order"][key])."""
    return {name: data[key][name] for name in data["order"][key]}


def metric_order(data: dict) -> list[str]:
    """The protocol's metrics in its order, by family."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    family = {r["metric"]: r["family"] for src in data["sources"].values() for r in src["taus"]}
    return sorted(data["metrics"], key=lambda m: rank[family[m]])


def _cell(r: dict) -> str:
    if r["status"] == "n/a":
        return short_reason(r["why"])
    text = "flat" if r["status"] == "flat" else fmt(r["tau"], 2)
    if not r["expected"]:
        return text
    return f"**{text}**" + (f" {r['verdict']}" if r["verdict"] != text else "")


def findings(src: dict, faults: dict) -> list[str]:
    """One line per expected (metric, fault) of a source that does not pass, then the label faults' sanity check."""
    out, missing = [], {}
    for r in src["taus"]:
        if r["expected"] and r["status"] == "n/a":
            missing.setdefault((r["metric"], r["why"] or "not computed"), []).append(f"`{r['fault']}`")
        elif r["expected"] and r["verdict"] != "pass":
            what = f" (tau {fmt(r['tau'], 2)})" if r["status"] == "ok" else ""
            out.append(f"`{r['metric']}` under `{r['fault']}`: {r['verdict']}{what}")
    out += [f"`{m}` under {', '.join(fs)}: not computed ({why})" for (m, why), fs in missing.items()]
    label = [f for f, s in faults.items() if s["target"] in ("expression", "aus")]
    moved = [f"`{r['metric']}` under `{r['fault']}`" for r in src["taus"] if r["fault"] in label
             and r["family"] in ("realism", "diversity") and r["status"] == "ok"]
    if label:
        out.append("Sanity: the label faults leave the pixels alone, so every realism and diversity metric must stay "
                   "exactly where it was under them: " + ("it does." if not moved else "it does not: "
                                                           + ", ".join(moved) + " moved (a bug in the harness)."))
    return out


def _n(src: dict) -> tuple[int, int]:
    """(faces in the scored half, faces in the reference)."""
    n_gen = sum(f["half"] == "scored" for f in src["faces"])
    return n_gen, len(src["faces"]) - n_gen


def summary(src: dict) -> str:
    counts = {v: sum(r["expected"] and r["verdict"] == v for r in src["taus"]) for v in VERDICTS}
    return (f"Of {sum(r['expected'] for r in src['taus'])} expected (metric, fault) pairs: "
            + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".")


def value_rows(src: dict, severities: list[float]) -> list[list[str]]:
    """The values behind each computed expected tau: clean [95% interval], then each severity."""
    rows = []
    for r in src["taus"]:
        if not r["expected"] or r["status"] == "n/a":
            continue
        chain = [src["variants"]["clean"]] + [src["variants"][variant_name(r["fault"], s)] for s in severities[1:]]
        entries = [v["metrics"].get(r["metric"]) or {} for v in chain]
        ci = entries[0].get("ci95")
        clean = number(entries[0].get("value")) + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci and None not in ci else "")
        better = next((e["higher_is_better"] for e in entries if e), None)
        rows.append([f"`{r['fault']}`", f"`{r['metric']}`", {True: "higher", False: "lower", None: "-"}[better],
                     clean, *[number(e.get("value")) for e in entries[1:]],
                     fmt(r["tau"], 2) if r["status"] == "ok" else r["status"],
                     "n/a" if r["p"] is None or not math.isfinite(r["p"]) else f"{r['p']:.3f}", r["verdict"]])
    return rows


def source_blocks(name: str, src: dict, data: dict) -> list[tuple]:
    n_gen, n_ref = _n(src)
    metrics, faults = metric_order(data), data["order"]["faults"]
    by = {(r["metric"], r["fault"]): r for r in src["taus"]}
    skipped = {k: v for k, v in src["skipped"].items() if v}
    stride = f" (every {src['frame_stride']}th frame)" if src.get("frame_stride", 1) > 1 else ""
    head = (f"{src['what'].capitalize()}{stride}: {len(src['faces'])} faces, {n_gen} scored against a reference of "
            f"{n_ref}" + (" (skipped: " + ", ".join(f"{v} {k}" for k, v in skipped.items()) + ")" if skipped else "")
            + f"; protocol `{src['protocol']['id']}` hash `{src['protocol']['hash'][:12]}` (its reference is this "
            f"source's); found and aligned in {src['seconds']['faces']:.0f} s, {len(src['variants'])} variants scored "
            f"in {src['seconds']['scoring']:.0f} s. {summary(src)}")
    rows = [[f"`{m}`", by[(m, faults[0])]["family"], *[_cell(by[(m, f)]) for f in faults]] for m in metrics]
    return [("h", f"Source: {name}", 2), ("p", head),
            ("table", ["metric", "family", *[f"`{f}`" for f in faults]], rows),
            ("h", f"Findings ({name})", 3),
            ("p", "Expected pairs that do not pass, as measured (no metric was tuned to pass):"),
            ("p", "\n".join(f"- {line}" for line in findings(src, ordered(data, "faults")))),
            ("h", f"Values of the expected pairs ({name})", 3),
            ("p", "Clean value with the scorer's 95% interval where it gives one (resampling the faces; FD's and "
                  "KID's are for their bias-corrected values, so they can lie below the value shown: "
                  "docs/intervals.md), then the value at each severity."),
            ("table", ["fault", "metric", "better", "clean [95%]", *[f"{s:g}" for s in data["severities"][1:]],
                       "tau", "p", "verdict"], value_rows(src, data["severities"]))]


def limits(data: dict) -> str:
    """What the numbers cannot say, with this run's n and AU reader."""
    srcs = ordered(data, "sources")
    ns = "; ".join(f"{name}: {_n(s)[0]} scored, {_n(s)[1]} reference" for name, s in srcs.items())
    first = next(iter(srcs.values()))
    au = first.get("au_reader") or {}
    skipped = first["variants"]["clean"]["not_applicable"].values()
    no_reader = any(short_reason(why) == "no AU reader" for why in skipped)
    reader = ("No AU reader: the protocol's judge reads no AUs and the faces ship no AU tool's readings, so the AU "
              "rows are not computed (nothing is filled in)." if no_reader else
              f"AU readings: `{au.get('id')}`" + (f", {au['what']}" if au.get("what") else "") + "; the AU rows are "
              "as good as that reader.")
    happy = {name: sum(f["expression"] == "happy" for f in s["faces"]) / len(s["faces"]) for name, s in srcs.items()}
    video = (" The video frames are two people, so its identity and demographic metrics say little, and neighbouring "
             "frames land in both halves, so its realism starts near its ceiling." if "video" in srcs else "")
    return (f"Few faces ({ns}): FD and KID are dominated by their small-sample bias and the k-NN metrics (k = 3 and 5) "
            "saturate near 1; a tau says whether a metric moves the right way as one set of faces is degraded, not "
            "by how much a generator would move it. The taus are over the severity points of one draw of the faults "
            "and one split of the faces; no interval over faces is computed for them (each would need every variant "
            "re-scored per resample). The realism family reads face-api's 128-d identity descriptor, a "
            "face-recognition embedding trained to ignore image quality, so insensitivity to blur, compression, noise "
            "and colour is partly by design. The faults hit the aligned crops after import, so `face_yield` (the "
            "import's detector on the source images) is not measured. The share of faces labelled happy ("
            + ", ".join(f"{name} {v:.0%}" for name, v in happy.items()) + ") means a shuffle changes fewer labels "
            f"than it moves.{video} {reader}")


def markdown(data: dict) -> str:
    k = len(data["severities"])
    tau1, p1, _ = kendall(np.arange(k), np.arange(k))
    tau2, p2, _ = kendall(np.arange(k), np.r_[1, 0, np.arange(2, k)])  # one adjacent pair out of order
    severities = ", ".join(f"{v:g}" for v in data["severities"])
    load = data["load_average"]
    intro = (f"Generated by `{data['command']}` from its results JSON, in {data['seconds']:.0f} s on "
             f"{data['device']} with {data['cpus']} cores (1-minute load average {load[0]:g} at the start, {load[1]:g} "
             "at the end: other work shares them, so the time is an upper bound). Each source of real faces (below) "
             "is aligned as `augen import` aligns it "
             f"({data['size']} px); each face claims its expression (posed, or labelled by eye) and the EMFACS "
             f"prototype AUs of that expression at intensity {data['prototype_intensity']:g}. Faces at even "
             "positions are the \"generator\", odd ones the reference; each fault spoils the generator half at "
             f"severities {severities} (0: the clean half), and each variant is scored under faces-v1's settings "
             "(`faces-demo`). Per metric and fault: Kendall tau-b of the severity with the metric's degradation "
             "(direction applied: +1 = worse at every step, -1 = better at every step). Where the fault is expected "
             f"to worsen the metric (bold) the verdict is pass (tau >= {data['strong']:g}), weak (0 < tau < that), "
             f"wrong sign, or flat (no change). With {k} severity points a tau of {tau1:+g} has an exact p of "
             f"{p1:.3f} and {tau2:+g} of {p2:.3f}: the taus say whether a metric moves the right way on these faces; "
             "the few faces make every metric's own interval wide (the tables of values).")
    frows = [[f"`{f}`", s["doc"], s["parameter"], ", ".join(f"{v:g}" for v in s["values"][1:]),
              ", ".join(s["worsens"])] for f, s in ordered(data, "faults").items()]
    skipped = sorted({(r["metric"], r["why"]) for s in data["sources"].values() for r in s["taus"]
                      if r["status"] == "n/a"})
    blocks = [("h", "Metric sanity on real pixels: graded faults on real faces", 1), ("p", intro),
              ("img", FIGURE, "Kendall tau of each metric's degradation with fault severity, per source"),
              ("h", "The faults", 2),
              ("table", ["fault", "what it does", "severity sets",
                         "at " + ", ".join(f"{v:g}" for v in data["severities"][1:]), "expected to worsen"], frows)]
    for name, src in ordered(data, "sources").items():
        blocks += source_blocks(name, src, data)
    if skipped:
        blocks += [("h", "Not computed", 2), ("p", "With the scorer's reason:"),
                   ("p", "\n".join(f"- `{m}`: {why}" for m, why in skipped))]
    blocks += [("h", "Limits", 2), ("p", limits(data))]
    return render_md(blocks)


def figure(data: dict, path: Path) -> None:
    """One heatmap of tau (metrics x faults) per source, expected cells framed; flat cells 0, n/a cells grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults, metrics, srcs = data["order"]["faults"], metric_order(data), ordered(data, "sources")
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("0.85")
    fig, axes = plt.subplots(1, len(srcs), figsize=(1.6 + 0.95 * len(faults) * len(srcs), 1.2 + 0.3 * len(metrics)),
                             squeeze=False, sharey=True)
    for ax, (name, src) in zip(axes[0], srcs.items()):
        by = {(r["metric"], r["fault"]): r for r in src["taus"]}
        grid = np.array([[by[(m, f)]["tau"] if by[(m, f)]["status"] != "n/a" else math.nan for f in faults]
                         for m in metrics], dtype=float)
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
        for i, m in enumerate(metrics):
            for j, f in enumerate(faults):
                r = by[(m, f)]
                text = {"n/a": "n/a", "flat": "flat"}.get(r["status"]) or f"{r['tau']:+.2f}"
                dark = r["status"] == "ok" and r["tau"] is not None and abs(r["tau"]) > 0.6
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
                if r["expected"]:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.8, color="black"))
        ax.set_xticks(range(len(faults)), faults, rotation=35, ha="right", fontsize=7.5)
        ax.set_yticks(range(len(metrics)), metrics, fontsize=7)
        ax.set_title(f"{name}: n = {_n(src)[0]} scored, {_n(src)[1]} reference", fontsize=8)
    fig.suptitle("Kendall tau of severity with each metric's degradation (+1 = worse at every step); framed: "
                 "expected to worsen", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_report(json_path: Path, out: Path) -> Path:
    """report.md and taus.png in `out` from the results JSON alone; returns the markdown path."""
    data = json.loads(Path(json_path).read_text())
    figure(data, out / FIGURE)
    md = out / "report.md"
    atomic_write_text(md, markdown(data))
    return md
