"""DISFA as a training set: `augen import-disfa DISFA --out SET` (docs/sources.md, "DISFA as training data").

DISFA (Mavadati et al., 2013) ships one video per subject and camera (`Videos_LeftCamera/LeftVideoSN001_comp.avi`)
and per-AU intensity files (`ActionUnit_Labels/SN001/SN001_au1.txt`, "frame,intensity", frames 1..N, read and
checked by bench.data.datasets.read_disfa). This module turns them into the label file `augen import` reads, so the
set is made like any imported set (face-api's detector and 68 landmarks, ArcFace alignment, MediaPipe's face check):

    frames      DISFA frame n (1-based, as the label files count) is the video's decoded frame n-1 (a row
                `<video>_f<n-1>`, bench.data.video), or the extracted image `SNxxx/<n-1>.png|.jpg` (ME-GraphAU's
                naming: frame images counted from 0). The label files must number frames 1..N without a gap, and a
                video that lists a frame count must list N. Frames n-1 = 0, S, 2S, ... (`frame_stride` S) are kept,
                at most `max_frames` per subject.
    labels      the 12 DISFA intensities (0-5); the other canonical AUs unlabelled (empty: a trainer masks them,
                reference/common/worlddata.py); no expression.
    captions    the world grammar over the 12 labelled AUs (bench.world.prompts.prompt_from_aus), the rule named
                in CAPTION_RULE; MAUGen's trainer reads it as the set's own caption (captions=dataset).
    split       DISFA has no official split. PARTS: the three subject-exclusive parts of 9 subjects as ME-GraphAU's
                `tool/DISFA_image_label_process.py` lists them (fold k tests one part and trains on the other two;
                docs/sources.md); `subjects` picks any list instead.
    identity    the frames of one video record the video (hence the subject) as their identity; extracted frames
                record none (bench.generation.importer).

Every problem is one DataError naming the file and row (a label file whose frames differ from the subject's other
files or from its video, an intensity outside 0-5, a subject with no labels or no video/frames).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.core.errors import DataError, UsageError
from bench.data.aus import AU_COLUMNS
from bench.data.datasets import read_disfa
from bench.data.video import VIDEO_SUFFIXES, frame_name
from bench.world.prompts import prompt_from_aus

#: The three subject-exclusive parts (as ME-GraphAU's tool/DISFA_image_label_process.py lists them).
PARTS = (("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
         ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
         ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"))
#: fold -> index of the part it tests (it trains on the other two): fold 1 tests part 3, fold 2 part 2, fold 3 part 1.
TEST_PART = {1: 2, 2: 1, 3: 0}
CAPTION_RULE = "world grammar (bench.world.prompts.prompt_from_aus) over the 12 DISFA AUs"
_FRAME_IMAGE = re.compile(r"^(\d+)\.(png|jpe?g)$", re.IGNORECASE)


def fold_subjects(fold: int, part: str) -> tuple[str, ...]:
    """The subjects of fold 1-3's `train` (two parts, 18 subjects) or `test` (one part, 9) side."""
    if fold not in TEST_PART or part not in ("train", "test"):
        raise UsageError(f"--fold must be 1, 2 or 3 and --part train or test, not {fold!r} and {part!r}")
    test = TEST_PART[fold]
    return tuple(sorted(s for i, p in enumerate(PARTS) if (i == test) == (part == "test") for s in p))


def _kept(n_frames: int, stride: int, cap: int) -> list[int]:
    """0-based frame indices kept: 0, stride, 2*stride, ... below n_frames, at most `cap` (0: no cap)."""
    idx = list(range(0, n_frames, stride))
    return idx[:cap] if cap else idx


def _listed_frames(path: Path) -> int:
    """The frame count the video's container lists (0: it lists none), read from its header without decoding."""
    from bench.data.video import _av, _open

    av = _av()
    container, stream = _open(path, av)
    with container:
        return int(stream.frames or 0)


def _source(images: Path, subject: str, au_file: Path) -> tuple[str, Path | None, dict[int, str]]:
    """('video', its path, {}) or ('frames', None, {index: relative image path}) for `subject` under `images`."""
    videos = sorted(p for p in images.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                    and re.search(rf"(?<!\d){subject}(?!\d)", p.stem))
    folder = images / subject
    if len(videos) > 1:
        raise DataError(images, f"{len(videos)} videos name {subject} ({', '.join(v.name for v in videos)}); keep one "
                                "camera's videos in the folder")
    if videos:
        return "video", videos[0], {}
    if folder.is_dir() and not folder.is_symlink():
        frames = {}
        for p in sorted(folder.iterdir()):
            if (m := _FRAME_IMAGE.match(p.name)) and p.is_file():
                frames[int(m.group(1))] = f"{subject}/{p.name}"
        return "frames", None, frames
    raise DataError(images, f"no video (e.g. LeftVideo{subject}_comp.avi) or frame folder ({subject}/0.png, ...) for "
                            f"{subject}, whose labels are in {au_file.parent}")


def disfa_label_file(labels: str | os.PathLike, images: str | os.PathLike, subjects: Sequence[str] | None = None,
                     frame_stride: int = 1, max_frames: int = 0) -> tuple[str, dict]:
    """(a SampleSet-style labels CSV for `augen import` of `images`, what it holds) from DISFA's `labels` folder.

    One row per kept frame: `file` the frame's key (`<video stem>_f<index>` or `SNxxx/<index>.png`), AU01..AU26
    (the DISFA 12 filled, others empty), `prompt` the caption (CAPTION_RULE)."""
    if frame_stride < 1 or max_frames < 0:
        raise UsageError(f"--frame-stride must be >= 1 and --max-frames >= 0, not {frame_stride} and {max_frames}")
    labels, images = Path(labels), Path(images)
    if not images.is_dir():
        raise DataError(images, "DISFA's video (or frame) folder is missing")
    by_subject: dict[str, list] = {}
    for s in read_disfa(labels, subjects=subjects):
        by_subject.setdefault(s.meta["subject"], []).append(s)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["file", *AU_COLUMNS, "prompt"])
    info: dict = {"subjects": {}, "caption_rule": CAPTION_RULE}
    for subject, samples in by_subject.items():
        au_file = labels / subject / f"{subject}_au1.txt"
        for k, s in enumerate(samples):  # sorted by frame: frames 1..N, no gap
            if s.meta["frame"] != k + 1:
                raise DataError(au_file, f"frame {s.meta['frame']} where frame {k + 1} comes next: DISFA's label "
                                         f"files number frames 1..N without a gap", k + 1)
        kind, video, frames = _source(images, subject, au_file)
        n = len(samples)
        if kind == "video" and (listed := _listed_frames(video)) and listed != n:
            raise DataError(au_file, f"labels {n} frames; {video.name} lists {listed} (frame n of the labels is the "
                                     f"video's frame n-1)", min(n, listed) + 1)
        keep = _kept(n, frame_stride, max_frames)
        for i in keep:
            if kind == "video":
                key = frame_name(video.relative_to(images).as_posix(), i)
            elif i in frames:
                key = frames[i]
            else:
                raise DataError(au_file, f"frame {i + 1} has no image {subject}/{i}.png (or .jpg) in {images}", i + 1)
            inten = samples[i].intensity
            w.writerow([key, *("" if np.isnan(v) else str(int(v)) for v in inten), prompt_from_aus(inten)])
        info["subjects"][subject] = {"source": video.name if video else f"{subject}/", "labelled_frames": n,
                                     "kept": len(keep)}
    return out.getvalue(), info


def import_disfa(root: str | os.PathLike, out: str | os.PathLike, *, labels: str | os.PathLike | None = None,
                 images: str | os.PathLike | None = None, subjects: Sequence[str] | None = None,
                 cfg=None, workers: int = 1, progress: bool = False, overwrite: bool = False,
                 log: Callable[[str], None] = lambda _m: None, head_regions: bool = True) -> dict:
    """DISFA -> an imported SampleSet (module docstring); returns the import's counts plus `disfa` (the subjects,
    their sources and kept frames, the caption rule). `labels` defaults to ROOT/ActionUnit_Labels, `images` to
    ROOT/Videos_LeftCamera; the frame stride and cap are `cfg`'s (an ImportConfig). `head_regions`: also write
    every face's head outline into the set (bench.data.headregions; MAUGen's sd15 trainer reads them)."""
    import tempfile

    from bench.generation.importer import ImportConfig, import_images

    root = Path(root)
    cfg = cfg or ImportConfig()
    labels = Path(labels) if labels else root / "ActionUnit_Labels"
    images = Path(images) if images else root / "Videos_LeftCamera"
    text, info = disfa_label_file(labels, images, subjects, cfg.frame_stride, cfg.max_frames)
    cfg = replace(cfg, fmt="sampleset", generator="disfa" if cfg.generator == "imported" else cfg.generator)
    with tempfile.TemporaryDirectory() as tmp:
        label_file = Path(tmp) / "disfa_labels.csv"  # a fixed name: the import's plan hash reads name and bytes
        label_file.write_text(text, encoding="utf-8")
        stats = import_images(images, label_file, out, cfg, workers=workers, progress=progress,
                              overwrite=overwrite, log=log)
    if head_regions:
        from bench.data.sampleset import SampleSet
        from bench.judges.faceapi.headregions import faceapi_head_regions

        info["head_regions"] = len(faceapi_head_regions(SampleSet(out), progress=progress))
    return {**stats, "disfa": info}


def subjects_option(fold: int | None, part: str | None, subjects: str | None) -> tuple[str, ...] | None:
    """The subjects `augen import-disfa`'s --fold/--part or --subjects pick (None: every subject labelled)."""
    if subjects and fold:
        raise UsageError("give --subjects or --fold/--part, not both")
    if fold or part:
        return fold_subjects(fold or 0, part or "")
    if subjects:
        names = tuple(s.strip() for s in subjects.split(",") if s.strip())
        if bad := [s for s in names if not re.fullmatch(r"SN\d{3}", s)]:
            raise UsageError(f"--subjects are DISFA subject ids such as SN001, not {', '.join(bad)}")
        return names
    return None
