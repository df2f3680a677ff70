"""The real-face judges on real photographs: detection, parity with face-api, readings, posed expressions, hostile
inputs. Written from a results file by code; nothing in it is typed by hand.

    augen study faces --out reports/faces [--json reports/results/faces/judges.json] [--no-node]

Steps (docs/faceapi.md §14):
  1. every annotated photo (`bench.data.photos.annotated_photos`: face-api's demo photos and the photos the pinned
     packages ship) is read by `read_photo` and run through face-api's whole chain on our ports;
  2. detection: faces found vs faces present (counted by eye, in the annotations), extra and missed;
  3. parity: face-api itself in Node (`tools/faceapi-node/pipeline.js`, wasm) on the same JPEGs, max |ours - theirs|
     per output over all faces, against the tolerances the tests hold (`node.CHAIN_TOLERANCES`);
  4. readings of every face (score, expression, age, gender, ITA) and the aligned crops as a contact sheet;
  5. the expression judge on the posed-expression photos: the posed label, face-api's reading, its probability;
  6. hostile inputs (`bench.data.hostile`), each read or refused, with the detector's face count.
The JSON holds every number; the markdown and the contact sheet are drawn from it and from the photos.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import DataError
from bench.data.hostile import face_mosaic, write_hostile
from bench.data.photos import photos as annotated_photos
from bench.data.safeio import read_photo
from bench.judges.faceapi import align, fetch, node, skintone
from bench.judges.faceapi.judge import FACEAPI_TO_AFFECTNET, pins_sha256
from bench.judges.faceapi.pipeline import Face, shared_pipeline

TILE = 112  # aligned crop size on the contact sheet (ArcFace's template size)
COLS = 8


def face_reading(image: np.ndarray, face: Face) -> dict:
    """One face's readings as plain numbers (JSON)."""
    ita, pixels = skintone.face_ita(image, face.landmarks)
    top = max(face.expressions, key=face.expressions.get)
    return {"box": [round(v, 1) for v in face.box], "score": round(face.score, 4),
            "expression": FACEAPI_TO_AFFECTNET[top], "expression_p": round(face.expressions[top], 4),
            "expressions": {FACEAPI_TO_AFFECTNET[k]: round(v, 4) for k, v in face.expressions.items()},
            "age": round(face.age, 1), "gender": face.gender, "gender_p": round(face.gender_probability, 4),
            "ita": None if not np.isfinite(ita) else round(ita, 1), "skin_pixels": pixels,
            "ita_band": skintone.ITA_BANDS[b][0] if (b := skintone.ita_band(ita)) >= 0 else None}


def _parity(photos: list, folder: Path) -> dict:
    """face-api in Node on the JPEG photos; max |ours - theirs| per output, and whether the faces and crops agree."""
    jpegs = {f"photo{i}": p.path for i, p in enumerate(photos) if p.path.suffix.lower() in (".jpg", ".jpeg")}
    meta, runs = node.run_pipeline(fetch.faceapi_dir(), jpegs, folder, "wasm")
    worst = dict.fromkeys(node.CHAIN_OUTPUTS, 0.0)
    same_faces = same_crops = True
    n_faces = 0
    for pixels, ref in runs.values():
        ours = shared_pipeline().analyse(pixels)[0]  # on the pixels face-api decoded (jpeg-js), not ours
        same_faces &= len(ours) == len(ref["detections"])
        for k, face in enumerate(ours[:len(ref["detections"])]):
            n_faces += 1
            same_crops &= bool(np.array_equal(np.array(face.crops), ref["crops"][k]))
            for key, diff in node.chain_differences(face, ref, k).items():
                worst[key] = max(worst[key], diff)
    names = [p.name for i, p in enumerate(photos) if f"photo{i}" in runs]
    return {"photos": names, "faces": n_faces, "same_face_count": bool(same_faces),
            "same_crops": bool(same_crops), "backend": meta["backend"],
            "max_abs_diff": worst, "tolerance": dict(node.CHAIN_TOLERANCES),
            "within": {k: worst[k] <= node.CHAIN_TOLERANCES[k] for k in worst}}


def _hostile(face: np.ndarray, crowd: np.ndarray, folder: Path) -> list[dict]:
    rows = []
    pipeline = shared_pipeline()
    for name, path in write_hostile(folder, face, crowd).items():
        try:
            pixels, notes = read_photo(path)
        except DataError as e:
            rows.append({"file": name, "read": "refused", "message": e.reason, "faces": None})
            continue
        rows.append({"file": name, "read": "read", "message": "; ".join(notes) or "as is",
                     "faces": len(pipeline.locate(pixels)[0]), "shape": list(pixels.shape)})
    return rows


def collect(node_folder: Path | None) -> dict:
    """Run every step; the results dict (JSON-ready). `node_folder` None skips the Node parity."""
    pipeline = shared_pipeline()
    photos = annotated_photos()
    images, faces, per_photo = {}, {}, []
    for photo in photos:
        pixels, notes = read_photo(photo.path)
        images[photo.name] = pixels
        faces[photo.name] = pipeline.analyse(pixels)[0]
        found = len(faces[photo.name])
        per_photo.append({"photo": photo.name, "source": photo.source, "shape": list(pixels.shape),
                          "present": photo.faces, "found": found, "extra": max(0, found - photo.faces),
                          "missed": max(0, photo.faces - found), "posed": photo.expression,
                          "notes": list(notes), "faces": [face_reading(pixels, f) for f in faces[photo.name]]})
    posed = []
    for row in per_photo:
        if row["posed"] and row["faces"]:
            best = max(row["faces"], key=lambda f: f["score"])
            posed.append({"photo": row["photo"], "posed": row["posed"], "read": best["expression"],
                          "p_read": best["expression_p"], "p_posed": best["expressions"].get(row["posed"], 0.0)})
        elif row["posed"]:
            posed.append({"photo": row["photo"], "posed": row["posed"], "read": None, "p_read": None, "p_posed": None})
    first = next((p for p in per_photo if p["found"] == p["present"] == 1),
                 next(p for p in per_photo if p["found"]))  # a one-face photo makes the hostile set
    x, y, w, h = (int(v) for v in first["faces"][0]["box"])
    pad = max(w, h)
    face = images[first["photo"]][max(0, y - pad // 2):y + h + pad // 2, max(0, x - pad // 2):x + w + pad // 2]
    crowd = face_mosaic([images[p["photo"]] for p in per_photo],
                        [[tuple(f["box"]) for f in p["faces"]] for p in per_photo], n=30)
    with tempfile.TemporaryDirectory() as tmp:
        hostile = _hostile(np.ascontiguousarray(face), crowd, Path(tmp))
    return {"judge": {"package": fetch.PINS["package"], "version": fetch.PINS["version"],
                      "weights_sha256": pins_sha256()},
            "photos": per_photo, "posed": posed, "hostile": hostile,
            "parity": _parity(photos, node_folder) if node_folder is not None else None}


def contact_sheet(results: dict) -> Image.Image:
    """The aligned crops of every face with its readings under it, one tile per face."""
    photos = {p.name: p.path for p in annotated_photos()}
    tiles = []
    for row in results["photos"]:
        pixels = read_photo(photos[row["photo"]])[0]
        located = shared_pipeline().locate(pixels)[0]
        for k, (face, reading) in enumerate(zip(located, row["faces"])):
            crop = align.align(pixels, face.landmarks, TILE)[0]
            ita = "n/a" if reading["ita"] is None else f"{reading['ita']:.0f}"
            text = [f"{row['photo']}#{k} {reading['score']:.2f}",
                    f"{reading['expression']} {reading['expression_p']:.2f}",
                    f"{reading['gender'][0]} {reading['gender_p']:.2f} age {reading['age']:.0f}",
                    f"ITA {ita} {reading['ita_band'] or ''}"]
            tiles.append((crop, text))
    line, rows = 11, -(-len(tiles) // COLS)
    height = TILE + 4 * line + 4
    sheet = Image.new("RGB", (COLS * TILE, max(rows, 1) * height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (crop, text) in enumerate(tiles):
        x, y = (i % COLS) * TILE, (i // COLS) * height
        sheet.paste(Image.fromarray(crop), (x, y))
        for j, t in enumerate(text):
            draw.text((x + 2, y + TILE + 1 + j * line), t[:22], fill=(0, 0, 0))
    return sheet


def _f(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def markdown(results: dict) -> str:
    """The report, drawn from the results dict."""
    j = results["judge"]
    lines = ["# Real face judges on real photographs", "",
             f"face-api `{j['package']}@{j['version']}` ported to torch (`bench/judges/faceapi/`), weights "
             f"`{j['weights_sha256'][:12]}`. Generated by `augen study faces` from "
             "`reports/results/faces/judges.json`; docs/faceapi.md §14 says how.", "",
             "## Detection", "", "Faces present are counted by eye (`bench/data/photos.py`); a face counts as found "
             "when the detector (SSD, min confidence 0.5) returns it.", "",
             "| photo | source | size | present | found | extra | missed |", "|---|---|---|---:|---:|---:|---:|"]
    for p in results["photos"]:
        lines.append(f"| {p['photo']} | {p['source']} | {p['shape'][1]}x{p['shape'][0]} | {p['present']} | "
                     f"{p['found']} | {p['extra']} | {p['missed']} |")
    tot = {k: sum(p[k] for p in results["photos"]) for k in ("present", "found", "extra", "missed")}
    lines += [f"| **all** | | | {tot['present']} | {tot['found']} | {tot['extra']} | {tot['missed']} |", ""]
    par = results["parity"]
    lines += ["## Parity with face-api in Node", ""]
    if par is None:
        lines += ["Not run (`--no-node`).", ""]
    else:
        lines += [f"face-api itself (`tools/faceapi-node/pipeline.js`, backend {par['backend']}) on the same decoded "
                  f"pixels of {len(par['photos'])} JPEG photos, {par['faces']} faces; same face count on every "
                  f"photo: {'yes' if par['same_face_count'] else 'NO'}; the three crops cut per face identical: "
                  f"{'yes' if par['same_crops'] else 'NO'}.", "",
                  "| output | max abs difference | tolerance | within |", "|---|---:|---:|---|"]
        for k, v in par["max_abs_diff"].items():
            lines.append(f"| {k} | {v:.2g} | {par['tolerance'][k]:.0e} | {'yes' if par['within'][k] else 'NO'} |")
        lines.append("")
    lines += ["## Readings", "", "Every face found, with face-api's expression (mapped to the AffectNet names; "
              "contempt absent), age, gender and the cheek skin's ITA (`skin-tone` judge). The aligned crops "
              "(ArcFace template, 112 px) with the same readings: `contact_sheet.png`.", "",
              "| photo | face | score | expression | p | age | gender | p | ITA | band |",
              "|---|---:|---:|---|---:|---:|---|---:|---:|---|"]
    for p in results["photos"]:
        for k, f in enumerate(p["faces"]):
            lines.append(f"| {p['photo']} | {k} | {f['score']:.3f} | {f['expression']} | {f['expression_p']:.2f} | "
                         f"{f['age']:.0f} | {f['gender']} | {f['gender_p']:.2f} | {_f(f['ita'], 1)} | "
                         f"{f['ita_band'] or 'none'} |")
    lines.append("")
    if results["posed"]:
        hits = sum(r["read"] == r["posed"] for r in results["posed"])
        lines += ["## The expression judge on posed expressions", "",
                  f"{hits} of {len(results['posed'])} posed photos read as posed (chance with 7 classes: 1/7).", "",
                  "| photo | posed | read | p(read) | p(posed) |", "|---|---|---|---:|---:|"]
        lines += [f"| {r['photo']} | {r['posed']} | {r['read'] or 'no face'} | {_f(r['p_read'])} | "
                  f"{_f(r['p_posed'])} |" for r in results["posed"]]
        lines.append("")
    lines += ["## Hostile inputs", "", "Made on the spot from a demo face (`bench/data/hostile.py`), read by "
              "`read_photo`, then counted by the detector.", "", "| file | read | message | faces found |",
              "|---|---|---|---:|"]
    for r in results["hostile"]:
        msg = r["message"].replace("|", "/")
        lines.append(f"| {r['file']} | {r['read']} | {msg} | {'' if r['faces'] is None else r['faces']} |")
    return "\n".join(lines) + "\n"


def run_study(args) -> int:
    """`augen study faces` (its arguments: bench.cli.study): the results JSON, judges.md and the contact sheet."""
    if args.no_node:
        results = collect(None)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = collect(Path(tmp))
    out = Path(args.out)
    atomic_write_text(args.json, json.dumps(results, indent=1) + "\n")
    atomic_write_text(out / "judges.md", markdown(results))
    png = Path(tempfile.mkstemp(suffix=".png")[1])
    try:
        contact_sheet(results).save(png)
        atomic_write_bytes(out / "contact_sheet.png", png.read_bytes())
    finally:
        png.unlink()
    print(f"wrote {out / 'judges.md'}, {out / 'contact_sheet.png'} and {args.json}")
    return 0
