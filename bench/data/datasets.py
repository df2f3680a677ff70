"""Readers for real datasets and AU-tool outputs, each mapping onto the canonical vocabulary.

Every reader streams `Sample`s (image None; `file` relative to the dataset's image root; extras in
`meta`) and raises one `DataError` naming the file and row for anything out of format. Images are read
later, through `load_dataset_image`, which keeps paths inside the root and guards decoding.

Formats (see docs/sources.md): AffectNet's official CSV; RAF-DB's `list_patition_label.txt`; DISFA's
per-AU label files `SNxxx/SNxxx_au{k}.txt` ("frame,intensity"); BP4D's occurrence CSVs
`F001_T1.csv` (header of AU numbers, column 0 = frame, values 0/1/9); OpenFace 2.0 CSV (`AUxx_r`,
`AUxx_c`, optionally with a space before each column name).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, N_AUS, empty_intensities, subset
from bench.data.safeio import contained_path, read_image
from bench.data.sampleset import Sample

AFFECTNET_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
                     "facial_landmarks", "expression", "valence", "arousal")
AFFECTNET_NOT_FACE = {8: "none", 9: "uncertain", 10: "non-face"}
#: RAF-DB basic labels 1-7 -> AffectNet codes.
RAF_TO_AFFECTNET = {1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 0}
OPENFACE_R = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
OPENFACE_C = (*OPENFACE_R, 28)


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each record of a CSV file, header included (line 1; a record spanning lines: the
    line it starts on), with CSV errors named."""
    if not path.is_file() or path.is_symlink():
        raise DataError(path, "file is missing, not a regular file, or a symlink")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, strict=True)
        line = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                raise DataError(path, f"malformed CSV ({e})", reader.line_num) from None
            if fields:
                yield line, fields
            line = reader.line_num + 1


def _header_and_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header with names stripped, iterator of (line number, fields) after it)."""
    rows = _csv_rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise DataError(path, "empty file (no header)") from None
    return [h.strip() for h in header], rows


def _num(text: str, path: Path, row: int, col: str, lo: float, hi: float, integer: bool = False) -> float:
    try:
        v = int(text) if integer else float(text)
    except ValueError:
        raise DataError(path, f"{col} = {text!r} is not {'an integer' if integer else 'a number'}", row) from None
    if not lo <= v <= hi:
        raise DataError(path, f"{col} = {v} outside {lo:g}-{hi:g}", row)
    return v


def load_dataset_image(root: str | os.PathLike, sample: Sample) -> np.ndarray:
    """Decode a dataset image (JPEG/PNG, any mode -> RGB) safely from inside `root`."""
    where = sample.meta.get("source", root)
    path = contained_path(root, sample.file, where, sample.meta.get("row"))
    return read_image(path, where=where, row=sample.meta.get("row"), require_rgb=False, formats=("JPEG", "PNG"))


# ----------------------------------------------------------------------------------------- AffectNet


def read_affectnet(csv_path: str | os.PathLike, image_root: str | os.PathLike | None = None, *,
                   keep_non_faces: bool = False) -> Iterator[Sample]:
    """AffectNet's official CSV: expression codes 0-7 kept (8-10 none/uncertain/non-face skipped unless asked)."""
    path = Path(csv_path)
    header, rows = _header_and_rows(path)
    if sorted(header) != sorted(AFFECTNET_COLUMNS):
        raise DataError(path, f"columns {header} are not AffectNet's {list(AFFECTNET_COLUMNS)}", 1)
    for row, fields in rows:
        if len(fields) != len(header):
            raise DataError(path, f"has {len(fields)} fields, header has {len(header)}", row)
        d = dict(zip(header, fields))
        rel = d["subDirectory_filePath"].strip()
        if image_root is not None:
            contained_path(image_root, rel, path, row)
        else:
            contained_path(".", rel, path, row)  # still refuse absolute paths and '..'
        code = int(_num(d["expression"], path, row, "expression", 0, 10, integer=True))
        if code > 7 and not keep_non_faces:
            continue
        box = [int(_num(d[c], path, row, c, 0, 1e6, integer=True))
               for c in ("face_x", "face_y", "face_width", "face_height")]
        va = []
        for c in ("valence", "arousal"):
            v = _num(d[c], path, row, c, -2, 1)
            if -2 < v < -1:
                raise DataError(path, f"{c} = {v} outside -1-1 (or -2 = not annotated)", row)
            va.append(math.nan if v == -2 else v)
        yield Sample(image=None, intensity=empty_intensities(), expression=code if code <= 7 else -1, file=rel,
                     meta={"row": row, "source": path, "face_box": box, "valence": va[0], "arousal": va[1],
                           "affectnet_code": code})


# ------------------------------------------------------------------------------------------- RAF-DB

_RAF_NAME = re.compile(r"^(train|test)_(\d{5})\.jpg$")


def read_rafdb(list_file: str | os.PathLike, *, split: str | None = None, aligned: bool = True) -> Iterator[Sample]:
    """RAF-DB basic `list_patition_label.txt` ("train_00001.jpg 5"), labels 1-7 mapped to AffectNet codes.

    `file` is relative to RAF-DB's `Image/aligned/` (aligned) or `Image/original/` folder.
    """
    path = Path(list_file)
    if not path.is_file() or path.is_symlink():
        raise DataError(path, "list file is missing, not a regular file, or a symlink")
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be train, test or None, not {split!r}")
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for row, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise DataError(path, f"expected 'name label', got {line.strip()!r}", row)
            name, label = parts
            m = _RAF_NAME.match(name)
            if not m:
                raise DataError(path, f"image name {name!r} is not train_NNNNN.jpg / test_NNNNN.jpg", row)
            if name in seen:
                raise DataError(path, f"duplicate image name {name!r}", row)
            seen.add(name)
            code = RAF_TO_AFFECTNET[int(_num(label, path, row, "label", 1, 7, integer=True))]
            if split and m.group(1) != split:
                continue
            file = name.replace(".jpg", "_aligned.jpg") if aligned else name
            yield Sample(image=None, intensity=empty_intensities(), expression=code, file=file,
                         meta={"row": row, "source": path, "split": m.group(1), "raf_label": int(label)})


# -------------------------------------------------------------------------------------------- DISFA

_DISFA_SUBJECT = re.compile(r"^SN\d{3}$")


def read_disfa(label_root: str | os.PathLike, *, subjects: Sequence[str] | None = None,
               image_template: str = "{subject}/{frame}.png") -> Iterator[Sample]:
    """DISFA intensities (0-5) of its 12 AUs per frame, from `SNxxx/SNxxx_au{k}.txt` files; other AUs NaN."""
    root = Path(label_root)
    if not root.is_dir():
        raise DataError(root, "DISFA label folder is missing")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and _DISFA_SUBJECT.match(p.name))
    if subjects is not None:
        if missing := sorted(set(subjects) - set(names)):
            raise DataError(root, f"subjects not found: {', '.join(missing)}")
        names = [s for s in names if s in set(subjects)]
    if not names:
        raise DataError(root, "no SNxxx subject folders")
    aus = subset("DISFA12")
    for subject in names:
        per_au: dict[int, dict[int, int]] = {}
        rows_of: dict[int, list[tuple[int, int]]] = {}  # AU -> [(frame, its row)] in file order
        for au in aus:
            f = contained_path(root, f"{subject}/{subject}_au{au}.txt", root)
            if not f.is_file():
                raise DataError(f, f"label file for AU{au} of {subject} is missing")
            frames: dict[int, int] = {}
            rows_of[au] = []
            for row, fields in _csv_rows(f):
                if len(fields) != 2:
                    raise DataError(f, f"expected 'frame,intensity', got {','.join(fields)!r}", row)
                frame = int(_num(fields[0].strip(), f, row, "frame", 0, 10**7, integer=True))
                if frame in frames:
                    raise DataError(f, f"duplicate frame {frame}", row)
                frames[frame] = int(_num(fields[1].strip(), f, row, "intensity", 0, 5, integer=True))
                rows_of[au].append((frame, row))
            per_au[au] = frames
        ref = per_au[aus[0]]
        for au in aus[1:]:
            if per_au[au].keys() != ref.keys():
                _frames_differ(root / subject / f"{subject}_au{au}.txt", rows_of[au], rows_of[aus[0]],
                               f"{subject}_au{aus[0]}.txt")
        for frame in sorted(ref):
            inten = empty_intensities()
            for au in aus:
                inten[AU_INDEX[au]] = per_au[au][frame]
            yield Sample(image=None, intensity=inten, file=image_template.format(subject=subject, frame=frame),
                         identity=subject, meta={"subject": subject, "frame": frame, "source": root})


def _frames_differ(path: Path, mine: list[tuple[int, int]], ref: list[tuple[int, int]], ref_name: str) -> None:
    """One DataError at the first row where an AU file's frames part from the reference file's (a wrong count)."""
    for a, b in zip(sorted(mine), sorted(ref)):
        if a[0] != b[0]:
            raise DataError(path, f"frame {a[0]} where {ref_name} has frame {b[0]} (row {b[1]}): the AU files of a "
                                  f"subject label the same frames ({len(mine)} frames here, {len(ref)} there)", a[1])
    if len(mine) < len(ref):
        after = max((r for _, r in mine), default=0) + 1  # the row the missing frame would be on
        raise DataError(path, f"ends after {len(mine)} frames; {ref_name} labels {len(ref)} (its next frame "
                              f"{sorted(ref)[len(mine)][0]} is missing here)", after)
    extra = sorted(mine)[len(ref)]
    raise DataError(path, f"frame {extra[0]} is not in {ref_name}, which labels {len(ref)} frames ({len(mine)} here)",
                    extra[1])


# --------------------------------------------------------------------------------------------- BP4D

_BP4D_FILE = re.compile(r"^([FM]\d{3})_(T\d+)\.csv$")


def read_bp4d(occ_root: str | os.PathLike, *, aus: str | Sequence[int] = "BP4D12",
              image_template: str = "{subject}/{task}/{frame:04d}.jpg") -> Iterator[Sample]:
    """BP4D occurrence labels (`AU_OCC/F001_T1.csv`): 1 -> p=1, 0 -> p=0, 9 -> NaN; intensities NaN."""
    root = Path(occ_root)
    if not root.is_dir():
        raise DataError(root, "BP4D occurrence folder is missing")
    wanted = subset(aus) if isinstance(aus, str) else tuple(aus)
    files = sorted(p for p in root.iterdir() if _BP4D_FILE.match(p.name))
    if not files:
        raise DataError(root, "no F001_T1.csv-style occurrence files")
    for f in files:
        subject, task = _BP4D_FILE.match(f.name).groups()
        header, rows = _header_and_rows(f)
        try:
            cols = [int(h) for h in header]
        except ValueError:
            raise DataError(f, "header must be AU numbers (column 0 = frame)", 1) from None
        where = {au: cols.index(au) for au in wanted if au in cols}
        if missing := [au for au in wanted if au not in where]:
            raise DataError(f, f"no column for AU {missing}", 1)
        seen: set[int] = set()
        for row, fields in rows:
            if len(fields) != len(cols):
                raise DataError(f, f"has {len(fields)} fields, header has {len(cols)}", row)
            frame = int(_num(fields[0], f, row, "frame", 0, 10**7, integer=True))
            if frame in seen:
                raise DataError(f, f"duplicate frame {frame}", row)
            seen.add(frame)
            prob = np.full(N_AUS, np.nan, dtype=np.float32)
            for au, j in where.items():
                v = fields[j].strip()
                if v not in ("0", "1", "9"):
                    raise DataError(f, f"AU{au} = {v!r}; BP4D occurrence must be 0, 1 or 9 (unknown)", row)
                if v != "9":
                    prob[AU_INDEX[au]] = float(v)
            yield Sample(image=None, intensity=empty_intensities(), prob=prob, identity=subject,
                         file=image_template.format(subject=subject, task=task, frame=frame),
                         meta={"row": row, "source": f, "subject": subject, "task": task, "frame": frame})


# ----------------------------------------------------------------------------------------- OpenFace


def read_openface(csv_path: str | os.PathLike) -> Iterator[Sample]:
    """OpenFace 2.0 FeatureExtraction CSV: AUxx_r -> intensity, AUxx_c -> occurrence; AU45/AU28 dropped.

    AU24 has no OpenFace output and stays NaN; rows with success = 0 get all-NaN labels.
    """
    path = Path(csv_path)
    header, rows = _header_and_rows(path)
    if "frame" not in header:
        raise DataError(path, "no 'frame' column: not an OpenFace CSV", 1)
    r_cols = {a: header.index(f"AU{a:02d}_r") for a in OPENFACE_R if f"AU{a:02d}_r" in header}
    c_cols = {a: header.index(f"AU{a:02d}_c") for a in OPENFACE_C if f"AU{a:02d}_c" in header}
    if not r_cols and not c_cols:
        raise DataError(path, "no AUxx_r / AUxx_c columns", 1)
    unknown = [h for h in header if re.match(r"^AU\d+_[rc]$", h) and int(h[2:-2]) not in OPENFACE_C]
    if unknown:
        raise DataError(path, f"AU columns OpenFace does not write: {', '.join(unknown)}", 1)
    success = header.index("success") if "success" in header else None
    for row, fields in rows:
        if len(fields) != len(header):
            raise DataError(path, f"has {len(fields)} fields, header has {len(header)}", row)
        frame = int(_num(fields[header.index("frame")].strip(), path, row, "frame", 0, 10**9, integer=True))
        inten = empty_intensities()
        prob = np.full(N_AUS, np.nan, dtype=np.float32)
        ok = success is None or _num(fields[success].strip(), path, row, "success", 0, 1, integer=True) == 1
        for a, j in r_cols.items():
            v = _num(fields[j].strip(), path, row, f"AU{a:02d}_r", 0, 5)
            if ok and a in AU_INDEX:
                inten[AU_INDEX[a]] = v
        for a, j in c_cols.items():
            v = _num(fields[j].strip(), path, row, f"AU{a:02d}_c", 0, 1)
            if v not in (0.0, 1.0):
                raise DataError(path, f"AU{a:02d}_c = {v}; presence must be 0 or 1", row)
            if ok and a in AU_INDEX:
                prob[AU_INDEX[a]] = v
        yield Sample(image=None, intensity=inten, prob=prob, file="",
                     meta={"row": row, "source": path, "frame": frame, "success": int(ok)})


# ----------------------------------------------------------------------------------------- LibreFace

_LF_DETECT = subset("BP4D12")
_LF_INTENSITY = subset("DISFA12")


def read_libreface(csv_path: str | os.PathLike, key_column: str = "file") -> Iterator[Sample]:
    """LibreFace CSV: `au_{k}` detection (0/1) for the BP4D 12, `au_{k}_intensity` (0-5) for the DISFA 12.

    `key_column` names the image each row belongs to (kept as `file`); an optional `facial_expression`
    column (AffectNet code or name) fills `expression`.
    """
    path = Path(csv_path)
    header, rows = _header_and_rows(path)
    if key_column not in header:
        raise DataError(path, f"no {key_column!r} column naming the image of each row", 1)
    det = {a: header.index(f"au_{a}") for a in _LF_DETECT if f"au_{a}" in header}
    inten = {a: header.index(f"au_{a}_intensity") for a in _LF_INTENSITY if f"au_{a}_intensity" in header}
    if not det and not inten:
        raise DataError(path, "no au_{k} / au_{k}_intensity columns: not a LibreFace CSV", 1)
    expr_col = header.index("facial_expression") if "facial_expression" in header else None
    from bench.data.aus import expression_code

    for row, fields in rows:
        if len(fields) != len(header):
            raise DataError(path, f"has {len(fields)} fields, header has {len(header)}", row)
        iv = empty_intensities()
        prob = np.full(N_AUS, np.nan, dtype=np.float32)
        for a, j in inten.items():
            iv[AU_INDEX[a]] = _num(fields[j].strip(), path, row, f"au_{a}_intensity", 0, 5)
        for a, j in det.items():
            v = _num(fields[j].strip(), path, row, f"au_{a}", 0, 1)
            prob[AU_INDEX[a]] = v
        expression = -1
        if expr_col is not None and fields[expr_col].strip():
            text = fields[expr_col].strip()
            try:
                expression = expression_code(int(text) if text.isdigit() else text)
            except ValueError as e:
                raise DataError(path, f"facial_expression: {e}", row) from None
        yield Sample(image=None, intensity=iv, prob=prob, expression=expression, file=fields[header.index(key_column)],
                     meta={"row": row, "source": path})
