"""`augen import`: any generator's images (a folder or a tar of PNG/JPEG/WebP of any size, videos among them, or one
video) with the labels it claims (`bench.data.labelfiles`: SampleSet CSV, MAUGen records, SynFER-style CSV, AffectNet
CSV, LibreFace/OpenFace output) -> a validated SampleSet of face crops aligned by the real detector (face-api's SSD +
68 landmarks, ArcFace's five-point template, `bench.judges.faceapi.align`).

    augen import IMAGES --labels FILE --out SET [--format auto] [--size 256] [--faces largest|skip|fail]
                 [--min-confidence 0.5] [--shard-size 256] [--workers N] [--name NAME] [--generator NAME]
                 [--frame-stride 1] [--max-frames 0]

Order of work:
  1. check everything that can be checked without decoding (`--out` writable, IMAGES a folder or a tar, labels
     parsed and consistent, no name twice, no path or tar member escaping its folder, no links, the same bytes under
     two names with other labels); a failure is one DataError naming the file and row, and nothing is written.
     Files not read (unsupported formats, not images), labels naming no file, unlabelled images and duplicates with
     the same labels are skipped and logged;
  2. plan: every labelled video is probed (`bench.data.video.probe`: decoded up to its last kept frame, each kept
     frame hashed; a video that cannot be read is refused by name, outcome `refused`; IMAGES given as one video: a
     DataError, nothing written) and each kept frame becomes a row named `<video path without suffix>_f<index>`
     (`_video_units`); rows (images and frames) in sorted name order, output `{i:08d}.png` for row i; the plan's hash
     covers the label file, the image and video names and contents, the settings, the detector and the decoder, so a
     rerun with other inputs cannot resume this one;
  3. shards of `shard_size` source images are written in `<out's folder>/.<out name>.partial/` (each atomically), so
     after a crash or Ctrl-C (one line: the shards kept) a rerun of the same command resumes from the finished shards
     and says so; an unreadable image is refused by name (outcome `refused`), one under `min_side` px skipped as too
     small; an image `--faces fail` refuses removes the work folder; `--workers N` writes shards in N processes;
  4. the set is joined (`finalize_shards`) with `faces.csv`, `import_log.csv` (every input file: label row, outcome,
     reason, detail, detection score, output file), `frames.csv` when there are videos (each frame row's video, frame
     index, time and label key) and `import.json`, and renamed to `out` in one step; `summary` is the one line
     `augen import` prints.

Video labels (what a talking-head or reenactment generator claims): a label row naming the video (`talk.mp4`; stem-
keyed formats: its stem) labels every kept frame, as an emotional talking-head model claims one expression per clip;
a row naming one frame (`talk_f000012`, or `talk_f12`: frame 12 counted from 0) labels that frame and wins over the
video's row, as a reenactment claims the driving video's AUs frame by frame. A kept frame neither names is skipped as
`no label`; a frame row for a frame the stride or cap leaves out is skipped as `not sampled`, one past the video's end
as `no image`. The frames of one video record the video as their identity.

Faces: each image is read upright (`read_photo`) and searched for faces (min confidence 0.5). An image with no face
is skipped (`--faces fail`: an error); one with several faces keeps its largest face (`largest`, the default), is
skipped (`skip`) or stops the import (`fail`). The set records, per examined image, `faces.csv`: the source path,
the output file ('' when skipped), face count, the kept face's score, box (x, y, w, h) and five points in source
pixels; `import.json` holds the settings, the plan hash and the counts, and the manifest's generator stats hold the
counts with the face yield (`bench.metrics.faces.face_yield`: the share of examined images with exactly one face).
The detector's score cannot tell a face from a non-face (a cat scores 0.93; docs/photographs.md): kept faces under
`uncertain_below` are counted as uncertain, not skipped. A second, independent model decides instead: the kept
face's aligned crop must hold a face for MediaPipe's Face Landmarker too (`face_check`), else the image is skipped as
"not a face" and its face count for the yield leaves that detection out.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path, PurePosixPath

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError, check_writable, on_interrupt
from bench.core.threads import cap_torch, children_capped, thread_share
from bench.data.aus import AUS, EXPRESSIONS
from bench.data.imagesource import Matched, Unread, match_labels, open_images
from bench.data.labelfiles import STEM_KEYED, LabelRow, read_labels
from bench.data.safeio import read_photo, sha256_file
from bench.data.sampleset import Sample, SampleSetWriter, finalize_shards
from bench.data.video import Frame, VideoInfo, decoder_id, frame_name, is_video, parse_frame_name, probe, read_frames
from bench.metrics.faces import face_yield

FACE_POLICIES = ("largest", "skip", "fail")
IMPORT_VERSION = 3  # of the import procedure; in the plan hash (2: per-file outcomes, duplicates, too small;
#                     3: "not a face", MediaPipe's second opinion on the kept face's aligned crop)
RECORD_COLUMNS = ("source", "file", "face_count", "score", "box_x", "box_y", "box_w", "box_h",
                  *(f"p{k}_{c}" for k in range(5) for c in "xy"))
#: import_log.csv: every input file (and every label naming no file) with what became of it
LOG_COLUMNS = ("file", "label_row", "outcome", "reason", "detail", "score", "output")
OUTCOMES = ("imported", "skipped", "refused")
#: why a file is skipped, in the summary's order
SKIP_REASONS = ("unsupported format", "not an image", "no label", "no image", "not sampled", "duplicate", "too small",
                "no face", "several faces", "not a face")
#: frames.csv: every frame row of a video
FRAME_COLUMNS = ("file", "video", "frame", "time_s", "label", "output")


@dataclass(frozen=True)
class ImportConfig:
    """How images become the set's aligned crops."""

    size: int = 256  # side of the aligned square crop (px); ArcFace's template scaled to it
    faces: str = "largest"  # several faces in an image: keep the largest, skip the image, or fail
    min_confidence: float = 0.5  # the detector's score threshold
    shard_size: int = 256  # source images per shard (the unit of resuming and of parallel work)
    fmt: str = "auto"  # label format (bench.data.labelfiles.LABEL_FORMATS), auto = sniffed from the file
    name: str = ""  # the set's name (default: the output folder's name)
    generator: str = "imported"  # the generator name the set's manifest records
    # an image whose shorter side is below this is skipped as "too small": face-api's landmark net reads a 112 px
    # face crop and its SSD looks at the image at 512 px, so a face spanning under 32 px has too few pixels for
    # 68 landmarks (its aligned crop would be upsampled noise)
    min_side: int = 32
    # faces kept with a detection score below this are counted as "uncertain" in the summary and the log, not
    # skipped: the score cannot tell a face from a non-face (scikit-image's cat scores 0.93; on the shipped photos
    # 4 of 34 real faces score under 0.8, the lowest 0.62), and face-api's other nets give no better rule
    # (docs/photographs.md, "What the detector cannot tell")
    uncertain_below: float = 0.8
    # videos: frames 0, N, 2N, ... (presentation order) are kept, at most `max_frames` of them per video (0: all);
    # neighbouring frames of a clip are nearly the same face, so a stride keeps the set from counting one expression
    # many times (bench.data.video)
    frame_stride: int = 1
    max_frames: int = 0
    # the kept face's aligned crop must hold a face for MediaPipe's Face Landmarker too (an independent detector and
    # landmark model, bench.judges.blendshapes.runtime.find_face), else the image is skipped as "not a face": on the
    # shipped photos it rejects scikit-image's cat (face-api's SSD: 0.93) and misses 2 of 34 real faces (a profile,
    # a face looking down; docs/photographs.md). False: keep every face face-api's SSD finds
    face_check: bool = True

    def check(self) -> None:
        if self.faces not in FACE_POLICIES:
            raise UsageError(f"--faces must be one of {', '.join(FACE_POLICIES)}, not {self.faces!r}")
        if not 32 <= self.size <= 1024:
            raise UsageError(f"--size must be in 32-1024 px, not {self.size}")
        if not 0 < self.min_confidence <= 1:
            raise UsageError(f"--min-confidence must be in (0, 1], not {self.min_confidence}")
        if self.shard_size < 1:
            raise UsageError(f"--shard-size must be positive, not {self.shard_size}")
        if self.min_side < 1:
            raise UsageError(f"min_side must be positive, not {self.min_side}")
        if self.frame_stride < 1:
            raise UsageError(f"--frame-stride must be a positive number of frames, not {self.frame_stride}")
        if self.max_frames < 0:
            raise UsageError(f"--max-frames must be 0 (all frames) or more, not {self.max_frames}")


@dataclass
class _Plan:
    images: list[str]  # each row's name in output order: an image's path relative to the image folder, or a frame's
    labels: list[LabelRow]  # the label of each
    labelled_aus: tuple[int, ...]
    expression_labelled: bool
    with_prob: bool
    fmt: str
    digest: str  # the plan hash
    log: list[list]  # import_log rows of the files not examined (LOG_COLUMNS)
    frames: list[Frame | None]  # per row: the video frame it is, None for an image
    videos: dict[str, VideoInfo]  # the videos probed, by path


def _log_row(file: str, label: LabelRow | None, outcome: str, reason: str = "", detail: str = "", score: str = "",
             output: str = "") -> list:
    return [file, label.row if label is not None else "", outcome, reason, detail, score, output]


def _label_difference(a: LabelRow, b: LabelRow) -> str:
    """'' when two rows claim the same labels (AU intensities, expression, AU probabilities), else the first
    difference, e.g. 'expression surprise vs happy'."""
    if a.expression != b.expression:
        name = lambda e: EXPRESSIONS[e] if e >= 0 else "none"  # noqa: E731
        return f"expression {name(a.expression)} vs {name(b.expression)}"
    for what, x, y in (("", a.intensity, b.intensity), ("_p", a.prob, b.prob)):
        if x is None or y is None:
            continue
        for k in np.flatnonzero(~((x == y) | (np.isnan(x) & np.isnan(y)))):
            return f"AU{AUS[k]:02d}{what} {x[k]:g} vs {y[k]:g}"
    return ""


def _without_duplicates(folder: Path, pairs: list[tuple[LabelRow, str]]) -> tuple[list, list, dict[str, str]]:
    """(the (label, image) pairs to examine, log rows of the duplicates left out, sha256 of each kept image).
    The same bytes under two names: a later copy with the same labels is skipped as a duplicate; with other labels
    the import is refused (one line naming both files and rows)."""
    first: dict[str, tuple[LabelRow, str]] = {}
    kept, log, digests = [], [], {}
    for label, image in pairs:
        digest = sha256_file(folder / image)
        if digest in first:
            label0, image0 = first[digest]
            diff = _label_difference(label0, label)
            if diff:
                raise DataError(label.source, f"{image} is the same image as {image0} (row {label0.row}; same bytes) "
                                              f"but labelled differently ({diff}); keep one of them", label.row)
            log.append(_log_row(image, label, "skipped", "duplicate",
                                f"same bytes and labels as {image0} (row {label0.row})"))
            continue
        first[digest] = (label, image)
        kept.append((label, image))
        digests[image] = digest
    return kept, log, digests


def _unmatched_log(rows: list[LabelRow], m: Matched, unread: list[Unread], folder: Path) -> list[list]:
    """import_log rows of the files not read (named by a label or not), labels naming no file, unlabelled images."""
    named = {u.file for u in m.unread.values()}
    log = [_log_row(u.file, rows[i], "skipped", u.reason, u.detail) for i, u in m.unread.items()]
    log += [_log_row(u.file, None, "skipped", u.reason, u.detail) for u in unread if u.file not in named]
    log += [_log_row(rows[i].key, rows[i], "skipped", "no image", f"no such file in {folder}") for i in m.no_image]
    log += [_log_row(im, None, "skipped", "no label", "no row of the label file names it") for im in m.unlabelled]
    return log


def _frame_labels(rows: list[LabelRow], m: Matched, videos: list[str], by_stem: bool) -> dict[str, dict[int, int]]:
    """Label rows naming one frame of a video (`talk_f000012`): video -> {frame index: row index}. They are taken out
    of `m.no_image`, and a video with frame rows out of `m.unlabelled`. Two videos whose frames would share names, or
    two rows naming one frame, are one DataError."""
    prefix: dict[str, str] = {}
    for v in videos:
        p = PurePosixPath(v).stem if by_stem else PurePosixPath(v).with_suffix("").as_posix()
        if p in prefix:
            raise DataError(Path(v), f"would give its frames the names {prefix[p]}'s frames have ({frame_name(v, 0)}, "
                                     f"...); rename one of them")
        prefix[p] = v
    out: dict[str, dict[int, int]] = {}
    left = []
    for i in m.no_image:
        named = parse_frame_name(rows[i].key.removeprefix("./"))
        if named is None or named[0] not in prefix:
            left.append(i)
            continue
        video, index = prefix[named[0]], named[1]
        if index in out.setdefault(video, {}):
            first = rows[out[video][index]]
            raise DataError(rows[i].source, f"{rows[i].key} names frame {index} of {video}, as row {first.row} does; "
                                            f"keep one of them", rows[i].row)
        out[video][index] = i
    m.no_image = left
    m.unlabelled = [im for im in m.unlabelled if im not in out]
    return out


def _video_units(video: str, info: VideoInfo, whole: LabelRow | None, frames: dict[int, LabelRow],
                 cfg: ImportConfig) -> tuple[list[tuple[str, LabelRow, Frame]], list[list]]:
    """(the kept frames as rows: (name, label, frame), import_log rows of kept frames without a label and of frame
    labels for frames not kept or not in the video)."""
    units, log = [], []
    for f in info.frames:
        label = frames.get(f.index, whole)
        if label is None:
            log.append(_log_row(f.name, None, "skipped", "no label", f"no row of the label file names {f.name} or "
                                                                     f"{video}"))
        else:
            units.append((f.name, label, f))
    kept = {f.index for f in info.frames}
    for index, label in sorted(frames.items()):
        if index in kept:
            continue
        if info.complete and index >= info.decoded:
            log.append(_log_row(frame_name(video, index), label, "skipped", "no image",
                                f"{video} has {info.decoded} frames (0-{info.decoded - 1})"))
        else:
            log.append(_log_row(frame_name(video, index), label, "skipped", "not sampled",
                                f"frame {index} of {video} is not kept (--frame-stride {cfg.frame_stride}, "
                                f"--max-frames {cfg.max_frames})"))
    return units, log


def _videos_without_duplicates(folder: Path, videos: list[tuple[str, LabelRow | None, dict[int, LabelRow]]]
                               ) -> tuple[list, list, dict[str, str]]:
    """As `_without_duplicates`, for videos with their whole-video label and frame labels."""
    first: dict[str, tuple[str, LabelRow | None, dict[int, LabelRow]]] = {}
    kept, log, digests = [], [], {}
    for video, whole, frames in videos:
        digest = sha256_file(folder / video)
        if digest in first:
            video0, whole0, frames0 = first[digest]
            diff = "" if (whole is None) == (whole0 is None) and set(frames) == set(frames0) else "other rows"
            pairs = [(whole0, whole)] if whole is not None and whole0 is not None else []
            for a, b in pairs + [(frames0[k], frames[k]) for k in sorted(set(frames) & set(frames0))]:
                diff = diff or _label_difference(a, b)
            label = whole or frames[min(frames)]
            if diff:
                raise DataError(label.source, f"{video} is the same video as {video0} (same bytes) but labelled "
                                              f"differently ({diff}); keep one of them", label.row)
            log.append(_log_row(video, label, "skipped", "duplicate", f"same bytes and labels as {video0}"))
            continue
        first[digest] = (video, whole, frames)
        kept.append((video, whole, frames))
        digests[video] = digest
    return kept, log, digests


def _plan(image_folder: Path, found: list[str], unread: list[Unread], labels: Path, cfg: ImportConfig,
          detector_id: str, one_video: bool = False) -> _Plan:
    fmt, rows, labelled, has_expr = read_labels(labels, cfg.fmt)
    by_stem = fmt in STEM_KEYED
    m = match_labels([(r.key, r.source, r.row) for r in rows], found, image_folder, by_stem, unread)
    frame_rows = _frame_labels(rows, m, [f for f in found if is_video(f)], by_stem)
    if not m.images and not frame_rows:
        first = rows[m.no_image[0]] if m.no_image else rows[0]
        if one_video:
            raise DataError(first.source, f"no label names {found[0]} or one of its frames ({frame_name(found[0], 0)}, "
                                          f"...; this row names {first.key})", first.row)
        raise DataError(first.source, f"no label names an image in {image_folder} (this row names {first.key}; "
                                      f"label keys are paths relative to IMAGES)", first.row)
    pairs = sorted(((rows[i], im) for i, im in m.images.items() if not is_video(im)), key=lambda p: p[1])
    kept, duplicates, digests = _without_duplicates(image_folder, pairs)
    whole = {im: rows[i] for i, im in m.images.items() if is_video(im)}
    videos, video_duplicates, video_digests = _videos_without_duplicates(image_folder, [
        (v, whole.get(v), {k: rows[i] for k, i in frame_rows.get(v, {}).items()})
        for v in sorted(set(whole) | set(frame_rows))])
    units = [(im, lab, None) for lab, im in kept]
    log = _unmatched_log(rows, m, unread, image_folder) + duplicates + video_duplicates
    infos: dict[str, VideoInfo] = {}
    for video, whole_label, frames in videos:
        try:
            info = probe(image_folder, video, cfg.frame_stride, cfg.max_frames)
        except DataError as e:
            if one_video:
                raise
            log.append(_log_row(video, whole_label or frames[min(frames)], "refused", "unreadable", e.reason))
            continue
        infos[video] = info
        rows_of, log_of = _video_units(video, info, whole_label, frames, cfg)
        units += rows_of
        log += log_of
    units.sort(key=lambda u: u[0])
    h = hashlib.sha256()
    h.update(json.dumps({"version": IMPORT_VERSION, "format": fmt, "detector": detector_id,
                         "config": {k: v for k, v in asdict(cfg).items() if k not in ("name",)}},
                        sort_keys=True).encode())
    for f in [labels] if labels.is_file() else sorted(labels.glob("*.csv")):  # a file, or OpenFace's folder
        h.update(f"{f.name} {sha256_file(f)}".encode())
    for name, _, frame in units:
        h.update(f"\n{name} {digests[name] if frame is None else frame.digest}".encode())
    if infos:
        h.update(f"\n{decoder_id()} {' '.join(f'{v} {video_digests[v]}' for v in sorted(infos))}".encode())
    with_prob = any(r.prob is not None for r in rows)
    return _Plan([u[0] for u in units], [u[1] for u in units], labelled, has_expr, with_prob, fmt, h.hexdigest(), log,
                 [u[2] for u in units], infos)


def _choose(faces: list, policy: str, where: str, source: str, row: int):
    """The face an image keeps under `policy` (None: skip it)."""
    if len(faces) == 1:
        return faces[0]
    if policy == "fail":
        raise DataError(where, f"{source}: {len(faces)} faces found, --faces fail wants exactly one", row)
    if not faces or policy == "skip":
        return None
    return max(faces, key=lambda f: f.box[2] * f.box[3])


def _examine(pipeline, path: Path, source: str, label: LabelRow, cfg: ImportConfig, pixels: np.ndarray | None = None):
    """(pixels and the kept face, or None and the image's import_log row without its faces.csv part); `pixels`: a
    video frame's, else the image at `path` is read."""
    if pixels is None:
        try:
            pixels, _ = read_photo(path)
        except DataError as e:
            return None, _log_row(source, label, "refused", "unreadable", e.reason)
    h, w = pixels.shape[:2]
    if min(h, w) < cfg.min_side:
        return None, _log_row(source, label, "skipped", "too small",
                              f"{w}x{h} px; an image needs at least {cfg.min_side} px a side")
    faces = pipeline.locate(pixels, cfg.min_confidence)[0]
    face = _choose(faces, cfg.faces, label.source, source, label.row)
    if face is None:
        reason = "no face" if not faces else "several faces"
        detail = (f"no face scores {cfg.min_confidence} or more" if not faces
                  else f"{len(faces)} faces (--faces {cfg.faces})")
        return (pixels, faces, None), _log_row(source, label, "skipped", reason, detail)
    note = f"uncertain: score under {cfg.uncertain_below}" if face.score < cfg.uncertain_below else ""
    return (pixels, faces, face), _log_row(source, label, "imported", "", note, f"{face.score:.4f}")


def _pixels(image_folder: str, frames: list[Frame | None]) -> Iterator[np.ndarray | None]:
    """Per row of a shard: a video frame's pixels (consecutive frames of one video decoded in one pass), None for an
    image."""
    i = 0
    while i < len(frames):
        if frames[i] is None:
            yield None
            i += 1
            continue
        j = i
        while j < len(frames) and frames[j] is not None and frames[j].video == frames[i].video:
            j += 1
        yield from read_frames(image_folder, frames[i:j])
        i = j


def _shard(args: tuple) -> tuple[int, list[list]]:
    """Write shard k of the plan into the work folder (atomically); its records (LOG_COLUMNS + RECORD_COLUMNS, the
    latter empty for an image the detector did not see)."""
    k, work, image_folder, plan, cfg, start = args
    from bench.judges.blendshapes.runtime import find_face
    from bench.judges.faceapi import align
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipeline = shared_pipeline()
    shard_dir = Path(work) / f"shard-{k:05d}"
    records = []
    with SampleSetWriter(shard_dir, name=f"{cfg.name} shard {k}", generator={"name": cfg.generator},
                         image_size=(cfg.size, cfg.size), labelled_aus=plan.labelled_aus,
                         expression_labelled=plan.expression_labelled, with_prob=plan.with_prob,
                         created="") as writer:
        end = min(start + cfg.shard_size, len(plan.images))
        for i, pixels in zip(range(start, end), _pixels(image_folder, plan.frames[start:end])):
            source, label, frame = plan.images[i], plan.labels[i], plan.frames[i]
            seen, log = _examine(pipeline, Path(image_folder) / source, source, label, cfg, pixels)
            if seen is None:
                records.append(log + [""] * len(RECORD_COLUMNS))
                continue
            pixels, faces, face = seen
            if face is None:
                records.append(log + [source, "", len(faces), *[""] * (len(RECORD_COLUMNS) - 3)])
                continue
            crop, _ = align.align(pixels, face.landmarks, cfg.size)
            if cfg.face_check and not find_face(crop):
                log[LOG_COLUMNS.index("outcome"):LOG_COLUMNS.index("detail") + 1] = [
                    "skipped", "not a face", f"face-api's SSD scores it {face.score:.2f}, MediaPipe's Face Landmarker "
                    "finds no face in its aligned crop"]
                # that detection is not a face: the image's face count for the yield leaves it out
                records.append(log + [source, "", len(faces) - 1, *[""] * (len(RECORD_COLUMNS) - 3)])
                continue
            pts = align.five_points(face.landmarks)
            file = writer.add(Sample(image=crop, intensity=label.intensity, expression=label.expression,
                                     prob=label.prob, prompt=label.prompt, identity=frame.video if frame else "",
                                     file=f"{i:08d}.png"))
            log[LOG_COLUMNS.index("output")] = file
            records.append(log + [source, file, len(faces), f"{face.score:.4f}", *(f"{v:.2f}" for v in face.box),
                                  *(f"{v:.2f}" for v in pts.reshape(-1))])
    return k, records


def _records_path(work: Path, k: int) -> Path:
    return work / "records" / f"shard-{k:05d}.csv"


def _csv_text(header: tuple[str, ...], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _write_records(work: Path, k: int, records: list[list]) -> None:
    atomic_write_text(_records_path(work, k), _csv_text(LOG_COLUMNS + RECORD_COLUMNS, records))


def _kept(done: int, total: int, work: Path) -> str:
    return f"kept {done} of {total} shards in {work}; rerun the same command to resume"


def _start_work(work: Path, plan: _Plan, n_shards: int, log: Callable[[str], None]) -> list[int]:
    """The shards still to write; the work folder of another import is removed, a resumed one is said."""
    state = work / "import.json"
    if work.exists():
        old = json.loads(state.read_text()) if state.is_file() else {}
        if old.get("plan") != plan.digest:
            log(f"augen import: {work} holds another import's work (other inputs or settings); starting afresh")
            shutil.rmtree(work)
    done = [k for k in range(n_shards)
            if (work / f"shard-{k:05d}" / "manifest.yaml").is_file() and _records_path(work, k).is_file()]
    if work.exists():
        log(f"augen import: resuming in {work}: {len(done)} of {n_shards} shards already written")
    for k in range(n_shards):  # a shard without its records (or a half-written one) is redone
        if k not in done and (work / f"shard-{k:05d}").exists():
            shutil.rmtree(work / f"shard-{k:05d}")
    (work / "records").mkdir(parents=True, exist_ok=True)
    return [k for k in range(n_shards) if k not in done]


def _run_shards(jobs: list[tuple], workers: int) -> Iterator[tuple[int, list[list]]]:
    if workers > 1 and len(jobs) > 1:
        with children_capped(thread_share(workers)), ProcessPoolExecutor(
                max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
                initargs=(workers,)) as pool:
            yield from pool.map(_shard, jobs)
    else:
        for job in jobs:
            yield _shard(job)


def _stats(plan_log: list[list], records: list[list], cfg: ImportConfig,
           videos: dict[str, VideoInfo] | None = None) -> dict:
    """The counts of import.json and the summary line (with videos: how many, their frames decoded and kept)."""
    log = plan_log + [r[:len(LOG_COLUMNS)] for r in records]
    outcome = [r[2] for r in log]
    skipped = Counter(r[3] for r in log if r[2] == "skipped")
    counts = np.array([int(r[len(LOG_COLUMNS) + 2]) for r in records if r[len(LOG_COLUMNS) + 2] != ""])
    return {"files": len(log), "imported": outcome.count("imported"),
            "skipped": {k: skipped[k] for k in SKIP_REASONS if skipped[k]}, "refused": outcome.count("refused"),
            "uncertain": sum(1 for r in log if r[4].startswith("uncertain")), "uncertain_below": cfg.uncertain_below,
            "images": len(counts), "kept": outcome.count("imported"), "no_face": int((counts == 0).sum()),
            "one_face": int((counts == 1).sum()), "several_faces": int((counts > 1).sum()),
            "face_yield": face_yield(counts)["value"] if len(counts) else float("nan"), "policy": cfg.faces,
            **({"videos": len(videos), "frames_decoded": sum(v.decoded for v in videos.values()),
                "frames_kept": sum(len(v.frames) for v in videos.values()), "frame_stride": cfg.frame_stride,
                "max_frames": cfg.max_frames} if videos else {})}


def summary(out: str | os.PathLike, stats: dict) -> str:
    """The one line `augen import` prints: what became of every input file, the face yield, the uncertain faces."""
    n_skipped = sum(stats["skipped"].values())
    why = ", ".join(f"{n} {reason}" for reason, n in stats["skipped"].items())
    return (f"{out}: imported {stats['imported']}, skipped {n_skipped}{f' ({why})' if why else ''}, refused "
            f"{stats['refused']}; face yield {stats['face_yield']:.3f} ({stats['one_face']} of {stats['images']} "
            f"images with one face, policy {stats['policy']}); {stats['uncertain']} imported with a face score under "
            f"{stats['uncertain_below']} (uncertain){_frames_said(stats)}; per file: {Path(out) / 'import_log.csv'}")


def _frames_said(stats: dict) -> str:
    """The summary's clause on videos ('' without any): '; 2 videos: 136 frames kept of 544 decoded (--frame-stride
    4)'."""
    if not stats.get("videos"):
        return ""
    cap = f", --max-frames {stats['max_frames']}" if stats["max_frames"] else ""
    return (f"; {stats['videos']} video{'s' * (stats['videos'] > 1)}: {stats['frames_kept']} frames kept of "
            f"{stats['frames_decoded']} decoded (--frame-stride {stats['frame_stride']}{cap})")


def import_images(images: str | os.PathLike, labels: str | os.PathLike, out: str | os.PathLike,
                  cfg: ImportConfig = ImportConfig(), workers: int = 1, progress: bool = False,
                  overwrite: bool = False, log: Callable[[str], None] = lambda _msg: None) -> dict:
    """Import a folder or tar of images with their label file into the SampleSet `out` (module docstring); returns
    the counts written to import.json. `log` gets the one-line notes a rerun prints (resuming, starting afresh)."""
    from bench.judges.faceapi.judge import pins_sha256

    cfg.check()
    images, labels, out = Path(images), Path(labels), Path(out)
    cfg = ImportConfig(**{**asdict(cfg), "name": cfg.name or out.name})
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    check_writable(out, "imported set")
    work = out.parent / f".{out.name}.partial"
    with on_interrupt("nothing new was written (stopped while checking the inputs)"), \
            tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        folder, found, unread = open_images(images, tmp)
        plan = _plan(folder, found, unread, labels, cfg, f"faceapi-{pins_sha256()[:12]}",
                     one_video=images.is_file() and is_video(images.name))
        starts = list(range(0, len(plan.images), cfg.shard_size))
        todo = _start_work(work, plan, len(starts), log)
        meta = {"plan": plan.digest, "format": plan.fmt, "config": asdict(cfg), "images": len(plan.images),
                "labels": labels.name, "source": images.name,
                **({"videos": {v: {**{k: x for k, x in asdict(info).items() if k not in ("video", "frames")},
                                   "kept": len(info.frames)} for v, info in plan.videos.items()}}
                   if plan.videos else {})}
        atomic_write_text(work / "import.json", json.dumps(meta, indent=1) + "\n")
        jobs = [(k, str(work), str(folder), plan, cfg, starts[k]) for k in todo]
        from tqdm import tqdm

        bar = tqdm(total=len(plan.images), initial=len(plan.images) - sum(
            min(cfg.shard_size, len(plan.images) - starts[k]) for k in todo), unit="img", desc="import",
            disable=not progress)
        try:
            with on_interrupt(_kept(len(starts) - len(todo), len(starts), work)) as kept:
                for n, (k, records) in enumerate(_run_shards(jobs, workers), start=len(starts) - len(todo) + 1):
                    _write_records(work, k, records)
                    kept.message = _kept(n, len(starts), work)
                    bar.update(len(records))
        except DataError:  # --faces fail refused an image: nothing is kept, the error names it
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            bar.close()
        with on_interrupt(_kept(len(starts), len(starts), work)):
            return _finish(work, out, images, plan, meta, cfg, len(starts))


def _finish(work: Path, out: Path, images: Path, plan: _Plan, meta: dict, cfg: ImportConfig, n_shards: int) -> dict:
    """Join the shards, write faces.csv, import_log.csv and import.json, and move the set into place."""
    records = []
    for k in range(n_shards):
        with open(_records_path(work, k), newline="", encoding="utf-8") as f:
            records += list(csv.reader(f))[1:]
    stats = _stats(plan.log, records, cfg, plan.videos)
    if not stats["kept"]:
        shutil.rmtree(work)
        why = ", ".join(f"{n} {reason}" for reason, n in stats["skipped"].items())
        raise DataError(images, f"no image imported: skipped {sum(stats['skipped'].values())} ({why}), refused "
                                f"{stats['refused']}; nothing written")
    faces = [r[len(LOG_COLUMNS):] for r in records if r[len(LOG_COLUMNS) + 2] != ""]
    atomic_write_text(work / "faces.csv", _csv_text(RECORD_COLUMNS, faces))
    log = sorted(plan.log + [r[:len(LOG_COLUMNS)] for r in records], key=lambda r: (r[0], str(r[1])))
    atomic_write_text(work / "import_log.csv", _csv_text(LOG_COLUMNS, log))
    if plan.videos:
        output = {r[0]: r[LOG_COLUMNS.index("output")] for r in records}
        atomic_write_text(work / "frames.csv", _csv_text(FRAME_COLUMNS, [
            [name, f.video, f.index, f"{f.time:.6f}", label.key, output[name]]
            for name, label, f in zip(plan.images, plan.labels, plan.frames) if f is not None]))
    atomic_write_text(work / "import.json", json.dumps({**meta, "stats": stats}, indent=1) + "\n")
    shutil.rmtree(work / "records")
    generator = {"name": cfg.generator, "version": str(IMPORT_VERSION),
                 "config": {"import": {k: v for k, v in asdict(cfg).items() if k not in ("name", "generator")},
                            "label_format": plan.fmt},
                 "stats": {"import": stats}}
    finalize_shards(work, name=cfg.name, generator=generator, created="")
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    return stats


def _worker_init(workers: int) -> None:
    """Each worker gets its share of the cores (torch's float sums depend on the thread count, so a set written with
    --workers N equals a one-process import with the same threads per process, not one with more threads)."""
    cap_torch(thread_share(workers))
