"""`augen import`: any generator's images (a folder or a tar of PNG/JPEG/WebP of any size) with the labels it claims
(`bench.data.labelfiles`: SampleSet CSV, MAUGen records, SynFER-style CSV, AffectNet CSV, LibreFace/OpenFace output)
-> a validated SampleSet of face crops aligned by the real detector (face-api's SSD + 68 landmarks, ArcFace's
five-point template, `bench.judges.faceapi.align`).

    augen import IMAGES --labels FILE --out SET [--format auto] [--size 256] [--faces largest|skip|fail]
                 [--min-confidence 0.5] [--shard-size 256] [--workers N] [--name NAME] [--generator NAME]

Order of work:
  1. check everything that can be checked without decoding (labels parsed and consistent, every label names an image
     and every image has a label, no name twice, no path or tar member escaping its folder, no links); a failure is
     one DataError naming the file and row, and nothing is written;
  2. plan: images in sorted order, output `{i:08d}.png` for source image i; the plan's hash covers the label file,
     the image names and sizes, the settings and the detector, so a rerun with other inputs cannot resume this one;
  3. shards of `shard_size` source images are written in `<out's folder>/.<out name>.partial/` (each atomically), so
     after a crash or an interruption a rerun of the same command resumes from the finished shards; a bad image
     found while decoding (unreadable, truncated: named with its label file and row) or an image `--faces fail`
     refuses removes the work folder, so again nothing is written; `--workers N` writes shards in N processes;
  4. the set is joined (`finalize_shards`) and renamed to `out` in one step: `out` appears complete or not at all.

Faces: each image is read upright (`read_photo`) and searched for faces (min confidence 0.5). An image with no face
is skipped (`--faces fail`: an error); one with several faces keeps its largest face (`largest`, the default), is
skipped (`skip`) or stops the import (`fail`). The set records, per source image, `faces.csv`: the source path, the
output file ('' when skipped), face count, the kept face's score, box (x, y, w, h) and five points in source
pixels; `import.json` holds the settings, the plan hash and the counts, and the manifest's generator stats hold the
counts with the face yield (`bench.metrics.faces.face_yield`: the share of images with exactly one face).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.threads import cap_torch, children_capped, thread_share
from bench.data.imagesource import extract_images, list_images, match_labels
from bench.data.labelfiles import STEM_KEYED, LabelRow, read_labels
from bench.data.safeio import read_photo, sha256_file
from bench.data.sampleset import Sample, SampleSetWriter, finalize_shards
from bench.metrics.faces import face_yield

FACE_POLICIES = ("largest", "skip", "fail")
IMPORT_VERSION = 1  # of the import procedure; in the plan hash
RECORD_COLUMNS = ("source", "file", "face_count", "score", "box_x", "box_y", "box_w", "box_h",
                  *(f"p{k}_{c}" for k in range(5) for c in "xy"))


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

    def check(self) -> None:
        if self.faces not in FACE_POLICIES:
            raise UsageError(f"--faces must be one of {', '.join(FACE_POLICIES)}, not {self.faces!r}")
        if not 32 <= self.size <= 1024:
            raise UsageError(f"--size must be in 32-1024 px, not {self.size}")
        if not 0 < self.min_confidence <= 1:
            raise UsageError(f"--min-confidence must be in (0, 1], not {self.min_confidence}")
        if self.shard_size < 1:
            raise UsageError(f"--shard-size must be positive, not {self.shard_size}")


@dataclass
class _Plan:
    images: list[str]  # source image paths relative to the image folder, in output order
    labels: list[LabelRow]  # the label of each
    labelled_aus: tuple[int, ...]
    expression_labelled: bool
    with_prob: bool
    fmt: str
    digest: str  # the plan hash


def _plan(image_folder: Path, labels: Path, cfg: ImportConfig, detector_id: str) -> _Plan:
    fmt, rows, labelled, has_expr = read_labels(labels, cfg.fmt)
    images = list_images(image_folder)
    matched = match_labels([(r.key, r.source, r.row) for r in rows], images, image_folder, fmt in STEM_KEYED)
    order = sorted(range(len(rows)), key=lambda i: matched[i])
    h = hashlib.sha256()
    h.update(json.dumps({"version": IMPORT_VERSION, "format": fmt, "detector": detector_id,
                         "config": {k: v for k, v in asdict(cfg).items() if k not in ("name",)}},
                        sort_keys=True).encode())
    for f in [labels] if labels.is_file() else sorted(labels.glob("*.csv")):  # a file, or OpenFace's folder
        h.update(f"{f.name} {sha256_file(f)}".encode())
    for i in order:
        path = image_folder / matched[i]
        h.update(f"\n{matched[i]} {path.stat().st_size}".encode())
    with_prob = any(r.prob is not None for r in rows)
    return _Plan([matched[i] for i in order], [rows[i] for i in order], labelled, has_expr, with_prob, fmt,
                 h.hexdigest())


def _choose(faces: list, policy: str, where: str, source: str, row: int):
    """The face an image keeps under `policy` (None: skip it)."""
    if len(faces) == 1:
        return faces[0]
    if policy == "fail":
        raise DataError(where, f"{source}: {len(faces)} faces found, --faces fail wants exactly one", row)
    if not faces or policy == "skip":
        return None
    return max(faces, key=lambda f: f.box[2] * f.box[3])


def _shard(args: tuple) -> tuple[int, list[list]]:
    """Write shard k of the plan into the work folder (atomically); its face records."""
    k, work, image_folder, plan, cfg, start = args
    from bench.judges.faceapi import align
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipeline = shared_pipeline()
    shard_dir = Path(work) / f"shard-{k:05d}"
    records = []
    with SampleSetWriter(shard_dir, name=f"{cfg.name} shard {k}", generator={"name": cfg.generator},
                         image_size=(cfg.size, cfg.size), labelled_aus=plan.labelled_aus,
                         expression_labelled=plan.expression_labelled, with_prob=plan.with_prob,
                         created="") as writer:
        for i in range(start, min(start + cfg.shard_size, len(plan.images))):
            source, label = plan.images[i], plan.labels[i]
            pixels, _ = read_photo(Path(image_folder) / source, where=label.source, row=label.row)
            faces = pipeline.locate(pixels, cfg.min_confidence)[0]
            face = _choose(faces, cfg.faces, label.source, source, label.row)
            if face is None:
                records.append([source, "", len(faces), *[""] * (len(RECORD_COLUMNS) - 3)])
                continue
            crop, _ = align.align(pixels, face.landmarks, cfg.size)
            pts = align.five_points(face.landmarks)
            file = writer.add(Sample(image=crop, intensity=label.intensity, expression=label.expression,
                                     prob=label.prob, prompt=label.prompt, file=f"{i:08d}.png"))
            records.append([source, file, len(faces), f"{face.score:.4f}", *(f"{v:.2f}" for v in face.box),
                            *(f"{v:.2f}" for v in pts.reshape(-1))])
    return k, records


def _records_path(work: Path, k: int) -> Path:
    return work / "records" / f"shard-{k:05d}.csv"


def _write_records(work: Path, k: int, records: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RECORD_COLUMNS)
    w.writerows(records)
    atomic_write_text(_records_path(work, k), buf.getvalue())


def import_images(images: str | os.PathLike, labels: str | os.PathLike, out: str | os.PathLike,
                  cfg: ImportConfig = ImportConfig(), workers: int = 1, progress: bool = False,
                  overwrite: bool = False) -> dict:
    """Import a folder or tar of images with their label file into the SampleSet `out` (module docstring); returns
    the counts written to import.json."""
    from bench.judges.faceapi.judge import pins_sha256

    cfg.check()
    images, labels, out = Path(images), Path(labels), Path(out)
    cfg = ImportConfig(**{**asdict(cfg), "name": cfg.name or out.name})
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    work = out.parent / f".{out.name}.partial"
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        folder = images
        if images.is_file():  # a tar: checked member by member, images extracted into a temporary folder
            folder = extract_images(images, Path(tmp) / "images")
        plan = _plan(folder, labels, cfg, f"faceapi-{pins_sha256()[:12]}")
        state = work / "import.json"
        if work.exists():
            old = json.loads(state.read_text()) if state.is_file() else {}
            if old.get("plan") != plan.digest:
                shutil.rmtree(work)  # another import's leftovers: start afresh
        (work / "records").mkdir(parents=True, exist_ok=True)
        meta = {"plan": plan.digest, "format": plan.fmt, "config": asdict(cfg), "images": len(plan.images),
                "labels": labels.name, "source": images.name}
        atomic_write_text(state, json.dumps(meta, indent=1) + "\n")
        starts = list(range(0, len(plan.images), cfg.shard_size))
        todo = [(k, s) for k, s in enumerate(starts)
                if not ((work / f"shard-{k:05d}" / "manifest.yaml").is_file() and _records_path(work, k).is_file())]
        for k, _ in todo:  # a shard without its records (or a half-written one) is redone
            if (work / f"shard-{k:05d}").exists():
                shutil.rmtree(work / f"shard-{k:05d}")
        jobs = [(k, str(work), str(folder), plan, cfg, s) for k, s in todo]
        from tqdm import tqdm

        bar = tqdm(total=len(plan.images), initial=len(plan.images) - sum(
            min(cfg.shard_size, len(plan.images) - s) for _, s in todo), unit="img", desc="import",
            disable=not progress)
        try:
            if workers > 1 and len(jobs) > 1:
                with children_capped(thread_share(workers)), ProcessPoolExecutor(
                        max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
                        initargs=(workers,)) as pool:
                    for k, records in pool.map(_shard, jobs):
                        _write_records(work, k, records)
                        bar.update(len(records))
            else:
                for job in jobs:
                    k, records = _shard(job)
                    _write_records(work, k, records)
                    bar.update(len(records))
        except DataError:  # a bad input (unreadable image, --faces fail): nothing is kept, the error names it
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            bar.close()

    records = []
    for k in range(len(starts)):
        with open(_records_path(work, k), newline="", encoding="utf-8") as f:
            records += list(csv.reader(f))[1:]
    counts = np.array([int(r[2]) for r in records])
    stats = {"images": len(records), "kept": sum(1 for r in records if r[1]), "no_face": int((counts == 0).sum()),
             "one_face": int((counts == 1).sum()), "several_faces": int((counts > 1).sum()),
             "face_yield": face_yield(counts)["value"], "policy": cfg.faces}
    if not stats["kept"]:
        shutil.rmtree(work)
        raise DataError(images, f"none of its {len(records)} images holds a face the detector finds (policy "
                                f"{cfg.faces}); nothing imported")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RECORD_COLUMNS)
    w.writerows(records)
    atomic_write_text(work / "faces.csv", buf.getvalue())
    atomic_write_text(state, json.dumps({**meta, "stats": stats}, indent=1) + "\n")
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
