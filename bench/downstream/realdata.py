"""Real-data downstream protocols (`kind: real`: affectnet-v1, rafdb-v1, bp4d-v1, disfa-v1): the rows, pixels and
fingerprint of local datasets that the downstream harness trains and tests on (the recipe that scores a set under
such a protocol is bench.scoring.realdata's `RealScore`, reached through `bench.scoring.score.score`).

A real protocol names no world and no judge. It trains the protocol's recognizer (a ResNet-18) on a SampleSet's
claimed labels at each size, and on the dataset's own training split (real only; real + synthetic), and tests
on the dataset's test split, with the same code (`bench.downstream.harness`) that world-v1 uses:

    augen downstream path/to/set --protocol affectnet-v1 --data-root ~/data/AffectNet [--device cuda] [--out F]

The protocol's `data` section says where the files lie under the root (nothing is downloaded):

    data:
      reader: affectnet                 # or rafdb, bp4d, disfa (READERS)
      train: {labels: training.csv, images: Manually_Annotated_Images}
      test: {labels: validation.csv, images: Manually_Annotated_Images}
      crop_face: true                   # affectnet: crop each image to its face_x/y/width/height box

and the `downstream` section picks rows: `real_train: {n, seed}` (n rows drawn with the seed; n is "1x"),
`test: {per_class}` (AffectNet: the first k of each class 0-7, 500 = the balanced validation set) or, for
BP4D, `data.split: {folds, test_fold}` (subjects sorted, subject i in fold i % folds) and
`data.frame_stride` (every k-th labelled frame); `val: {n}` (optional) takes the n training rows that follow 1x in
the same draw, disjoint from it: the per-AU decision thresholds are chosen there, and with it the harness reports
the chance-corrected kinds and the training value (the headline of the faces protocols). Every row is checked by
the readers (one `DataError` naming the file and row); images are decoded inside their root only. The label files'
sha256 enter the results' protocol hash, so results on two different copies of a dataset are never ranked together.

Each split is decoded once, at the recognizer's input size, into a pixel file under the cache (N x 3 x S x S
bytes; bench.downstream.pixels), named by the label file, the rows, the settings and the image files' names,
sizes and times, and trainings read it a batch at a time: memory stays flat from 20k to millions of images
(reports/streaming.md). A run whose decoded pixels would exceed AUGEN_MAX_DOWNSTREAM_GB (default: no limit) is
refused before any image is decoded; each pixel file checks the free disk it still needs before decoding. The
decoded pixels' sha256 enters each split's cache key (so trainings are never reused for other images) and the
results' `data` record.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from bench.core.errors import DataError, UsageError
from bench.core.hashparts import HashPart
from bench.core.protocol import DataSettings, DownstreamSettings, Selection, plain
from bench.core.registry import READERS
from bench.data.safeio import contained_path, sha256_file
from bench.downstream.data import LabelledImages, resize_uint8
from bench.downstream.pixels import store


def _under(root: Path, rel: str, what: str) -> Path:
    """`rel` inside `root` (no absolute paths, `..` or symlinks on the way), existing."""
    p = contained_path(root, str(rel), f"protocol data.{what}")
    if not p.exists():
        raise DataError(p, f"{what} is missing (the protocol expects it under --data-root {root})")
    return p


def _labels_sha(path: Path) -> str:
    """sha256 of a label file, or of the label files a folder reader reads (BP4D's F001_T1.csv...; DISFA's
    SN001/SN001_au1.txt ...)."""
    from bench.data.datasets import _BP4D_FILE, _DISFA_SUBJECT

    if path.is_file():
        return sha256_file(path)
    files = [p for p in path.iterdir() if _BP4D_FILE.match(p.name)]
    files += [f for s in path.iterdir() if _DISFA_SUBJECT.match(s.name) and s.is_dir() and not s.is_symlink()
              for f in s.glob(f"{s.name}_au*.txt")]
    h = hashlib.sha256()
    for f in sorted((f for f in files if f.is_file() and not f.is_symlink()), key=lambda f: f.relative_to(path)):
        h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


def _max_gb() -> float:
    """AUGEN_MAX_DOWNSTREAM_GB: the most GiB of decoded pixels one run may write (default: what the disk holds)."""
    text = os.environ.get("AUGEN_MAX_DOWNSTREAM_GB", "inf")
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"AUGEN_MAX_DOWNSTREAM_GB must be a number of GiB, not {text!r}") from None


def _check_images_fit(n: int, size: int, where) -> None:
    need = n * 3 * size ** 2 / 2 ** 30
    if need > (limit := _max_gb()):
        raise DataError(where, f"{n} images at {size} px need {need:.3g} GiB of decoded pixels on disk, over "
                               f"AUGEN_MAX_DOWNSTREAM_GB={limit:g}")


def check_memory(s: DownstreamSettings, n_train: int, n_test: int, where) -> None:
    """Refuse, before anything is decoded, a run whose decoded pixels (real 1x, test and validation, synthetic at
    the largest scale; the mixed training reads those same files) exceed AUGEN_MAX_DOWNSTREAM_GB: memory stays
    flat, disk does not (each pixel file also checks the free space it still needs before it decodes)."""
    _check_images_fit(n_train + n_test + s.largest_synthetic(n_train), s.input_size, where)


def affectnet_rows(labels: Path, images: Path, d: DataSettings, sel: Selection, test: bool) -> list:
    """AffectNet rows (codes 0-7): the first `per_class` of each class, and/or `n` drawn with `seed`."""
    from bench.data.datasets import read_affectnet

    return _classes_drawn(list(read_affectnet(labels, images)), sel, labels, range(8), "codes 0-7")


def _classes_drawn(rows: list, sel: Selection, labels: Path, classes, what: str) -> list:
    """Expression rows picked by a selection: the first `per_class` of each class, and/or `n` drawn with `seed`."""
    n, per_class, seed = sel.n, sel.per_class, sel.seed or 0
    if per_class is not None:
        by = {c: [s for s in rows if s.expression == c] for c in classes}
        short = {c: len(v) for c, v in by.items() if len(v) < per_class}
        if short:
            raise DataError(labels, f"needs {per_class} rows per class ({what}); classes with fewer: {short}")
        rows = [s for c in classes for s in by[c][:per_class]]
    if n is not None:
        if len(rows) < n:
            raise DataError(labels, f"holds {len(rows)} usable rows ({what}); the protocol takes {n}")
        rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))[:n]]
    return rows


def rafdb_rows(labels: Path, images: Path, d: DataSettings, sel: Selection, test: bool) -> list:
    """RAF-DB basic rows of the list file's train or test part (its 7 classes as AffectNet codes 0-6, aligned
    images), picked as AffectNet's are."""
    from bench.data.datasets import RAF_TO_AFFECTNET, read_rafdb

    rows = list(read_rafdb(labels, split="test" if test else "train"))
    return _classes_drawn(rows, sel, labels, sorted(RAF_TO_AFFECTNET.values()), "RAF-DB's 7 basic classes")


def bp4d_fold(subjects: list[str], folds: int) -> dict[str, int]:
    """Subject -> fold: subjects sorted, subject i in fold i % folds (subject-exclusive by construction)."""
    return {s: i % folds for i, s in enumerate(sorted(set(subjects)))}


def bp4d_rows(labels: Path, images: Path, d: DataSettings, sel: Selection, test: bool) -> list:
    """BP4D frames of the train or test subjects (subject-exclusive folds), every `frame_stride`-th, `n` drawn."""
    from bench.data.datasets import read_bp4d

    kw = {"image_template": d.image_template} if d.image_template else {}
    return _subject_frames(list(read_bp4d(labels, aus="BP4D12", **kw)), d, sel, labels, test)


def _subject_frames(rows: list, d: DataSettings, sel: Selection, labels: Path, test: bool) -> list:
    """Frames of the train or test subjects (subject-exclusive folds), every `frame_stride`-th, `n` drawn."""
    fold = bp4d_fold([s.identity for s in rows], d.split.folds)
    keep = [s for s in rows if (fold[s.identity] == d.split.test_fold) == test][::d.frame_stride]
    if not keep:
        raise DataError(labels, f"no {'test' if test else 'train'} frames after the subject split")
    if sel.n is not None:
        if len(keep) < sel.n:
            raise DataError(labels, f"holds {len(keep)} training frames after the split; the protocol takes {sel.n}")
        keep = [keep[i] for i in np.random.default_rng(sel.seed or 0).permutation(len(keep))[:sel.n]]
    return keep


def disfa_rows(labels: Path, images: Path, d: DataSettings, sel: Selection, test: bool) -> list:
    """DISFA frames (intensities 0-5 of its 12 AUs) of the train or test subjects, as BP4D's are picked."""
    from bench.data.datasets import read_disfa

    kw = {"image_template": d.image_template} if d.image_template else {}
    return _subject_frames(list(read_disfa(labels, **kw)), d, sel, labels, test)


def _crop(img: np.ndarray, box: list[int], sample) -> np.ndarray:
    x, y, w, h = box
    h_img, w_img = img.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w_img, x + w), min(h_img, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise DataError(sample.meta.get("source", sample.file), f"face box {box} lies outside the "
                        f"{w_img}x{h_img} image {sample.file}", sample.meta.get("row"))
    return img[y0:y1, x0:x1]


def _selection(s: DownstreamSettings, part: str) -> Selection:
    """The rows a part reads: 'train' and 'test' as the protocol says; 'val' the `val.n` rows that follow 1x in the
    same draw of the training split (so disjoint from the real training rows by construction)."""
    if part == "val":
        return Selection(n=s.real_train.n + s.val.n, seed=s.real_train.seed)
    return s.real_train if part == "train" else s.test


def split_rows(d: DataSettings, s: DownstreamSettings, root: str | os.PathLike, part: str) -> tuple[list, Path, Path]:
    """The checked label rows of the `part` ('train', 'val' or 'test') split, and its labels and image paths."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data root is missing or not a folder")
    missing: dict[str, list[str]] = {}  # every path the protocol reads, named at once (an empty --data-root: all)
    for name, files in (("train", d.train), ("test", d.test)):
        for what in ("labels", "images"):
            rel = str(getattr(files, what))
            if not contained_path(root, rel, f"protocol data.{what}").exists():
                missing.setdefault(rel, []).append(f"{name} {what}")
    if missing:
        named = ", ".join(f"{rel} ({' and '.join(uses)})" for rel, uses in missing.items())
        raise DataError(root, f"missing under --data-root: {named}; put the dataset there (the protocol's data: "
                              "names each path)")
    spec = d.test if part == "test" else d.train
    labels, images = _under(root, spec.labels, "labels"), _under(root, spec.images, "images")
    rows = READERS.get(d.reader)(labels, images, d, _selection(s, part), part == "test")
    return (rows[s.real_train.n:] if part == "val" else rows), labels, images


def load_split(d: DataSettings, s: DownstreamSettings, root: str | os.PathLike, part: str,
               rows: tuple | None = None) -> LabelledImages:
    """The `part` ('train', 'val' or 'test') split of a real protocol, read from `root`, at the input size (`rows`:
    `split_rows`' answer when already read)."""
    from bench.data.datasets import load_dataset_image

    rows, labels, images = rows or split_rows(d, s, root, part)
    sel, spec, size = _selection(s, part), (d.test if part == "test" else d.train), s.input_size
    _check_images_fit(len(rows), size, labels)  # this split alone (RealScore checks the whole run)
    data = {k: v for k, v in plain(d).items() if k not in ("train", "test")}
    sel_key = json.dumps({"part": part, "sel": plain(sel), "data": data, "spec": plain(spec)}, sort_keys=True)
    head = f"{d.reader}:{_labels_sha(labels)}:{hashlib.sha256(sel_key.encode()).hexdigest()[:16]}:{len(rows)}:{size}"

    def chunks(start: int = 0, k: int = 256):  # (k, 3, S, S) uint8 from row `start` on
        for lo in range(start, len(rows), k):
            x = torch.empty(min(k, len(rows) - lo), 3, size, size, dtype=torch.uint8)  # (k, 3, S, S)
            for i, smp in enumerate(rows[lo:lo + k]):
                img = load_dataset_image(images, smp)
                if d.reader == "affectnet" and d.crop_face:
                    img = _crop(img, smp.meta["face_box"], smp)
                x[i] = resize_uint8(np.array(img[None]), size)[0]  # a writable copy (crops are views)
            yield x

    # decoded once per (labels, rows, settings, image files as they are now): later runs read the pixel file
    x, pixels = store(f"{head}:files{_files_stamp(images, rows)}", len(rows), size, chunks)
    aus = torch.from_numpy(np.stack([r.intensity for r in rows]).astype(np.float32))  # NaN: not labelled (N, 17)
    expr = torch.tensor([int(r.expression) for r in rows], dtype=torch.int64)  # -1: not labelled
    occ = None
    if any(r.prob is not None for r in rows):  # occurrence-only labels (BP4D)
        occ = torch.from_numpy(np.stack([r.prob for r in rows]).astype(np.float32))
    return LabelledImages(x, aus, expr, f"{head}:px{pixels[:16]}", occ)


def _files_stamp(images: Path, rows: list) -> str:
    """sha256 of each row's image file name, size and modification time: a changed image decodes again."""
    h = hashlib.sha256()
    for r in rows:
        st = os.stat(contained_path(images, r.file, r.meta.get("source", images), r.meta.get("row")))
        h.update(f"{r.file}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def data_fingerprint(proto, root: str | os.PathLike) -> str:
    """sha256 over the protocol's label files under `root` (enters the results' protocol hash)."""
    d = proto.data
    return hashlib.sha256("|".join(_labels_sha(_under(Path(root), getattr(d, p).labels, "labels"))
                                   for p in ("train", "test")).encode()).hexdigest()


def hash_parts(proto, data_root: str | os.PathLike, backbone_sha: str | None = None,
               fingerprint: str | None = None) -> list[HashPart]:
    """What a real protocol's hash adds to its settings: the label files' sha256 under `data_root` (`fingerprint`
    when already computed) and, with a pretrained backbone, its file's sha256 (`backbone_sha`, else the cache's)."""
    parts = [HashPart("data", fingerprint or data_fingerprint(proto, data_root))]
    if proto.downstream.pretrained:
        from bench.downstream.backbones import backbone_file

        parts.append(HashPart("backbone", backbone_sha or backbone_file(proto.downstream.pretrained)[1]))
    return parts
