"""Label files `augen import` reads: the labels a generator (or a dataset, or an AU tool) claims for a folder of
images, each row keyed by the image's path relative to that folder.

    sampleset   a SampleSet labels.csv: file, AU01..AU26 (empty = not labelled), [AUxx_p], [expression], [prompt],
                [identity], [seed]
    maugen      MAUGen's records (`sample_data.json` style): a JSON list (or JSON lines) of {"image", "prompt",
                "intensity"}, intensity a list of 12 numbers in DISFA12 order or {"AU1": v, ...} over the 12 DISFA
                AUs; optional "expression"
    synfer      a SynFER-style CSV: file, expression (AffectNet code or name), prompt, any canonical AU columns
                (AU01 or AU1 spelling, 0-5)
    affectnet   AffectNet's official CSV (`subDirectory_filePath`, expression; no AUs) via datasets.read_affectnet
    libreface   a LibreFace output CSV (`file` column) via datasets.read_libreface: its AU intensities, detections
                and expression taken as the claimed labels
    openface    a folder of OpenFace per-image CSVs (`<image stem>.csv`, FaceLandmarkImg -fdir), first row each

Every reader returns `LabelRow`s in file order; a row names its source file and line for errors. Which AUs a set
labels is what its first row labels; every other row must label the same AUs (`labelled_aus`).

Row numbers are the line numbers an editor shows: the header is row 1, the first data row row 2 (a quoted field that
spans lines: the line its record starts on); a JSON list's record is the line it starts on. CSVs are read as
spreadsheets export them: UTF-8 with or without a byte-order mark, CRLF or LF line ends, blank lines skipped, and
`;` or tab separated when the header holds no comma (`_delimiter`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, AUS, N_AUS, expression_code, subset
from bench.data.datasets import read_affectnet, read_libreface, read_openface

MAX_LABEL_BYTES = 256 * 1024 * 1024
HEADER_ROW = 1  # the row (line) errors about a CSV's header name


@dataclass
class LabelRow:
    """The labels claimed for one image."""

    key: str  # the image's path relative to the images folder (posix separators)
    intensity: np.ndarray  # (17,) float32 canonical AU intensities 0-5, NaN = not labelled
    expression: int = -1  # AffectNet code 0-7, -1 = not labelled
    prob: np.ndarray | None = None  # (17,) float32 occurrence probabilities, NaN = not given; None = none at all
    prompt: str = ""  # the text the image was generated from
    source: str = ""  # the label file (or folder) it came from
    row: int = 0  # its line (CSV) or record number (JSON), 1-based


def _empty() -> np.ndarray:
    return np.full(N_AUS, np.nan, np.float32)


def _au_number(column: str) -> int | None:
    """'AU01' / 'AU1' / 'au_12' -> 1 / 1 / 12; None for other columns."""
    m = re.fullmatch(r"(?i)au_?0*(\d+)", column.strip())
    return int(m.group(1)) if m else None


def _intensity(text: str, path: Path, row: int, col: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        v = float(text)
    except ValueError:
        raise DataError(path, f"{col} = {text!r} is not a number", row) from None
    if not math.isfinite(v) or not 0 <= v <= 5:
        raise DataError(path, f"{col} = {text} outside 0-5", row)
    return v


def _expression(value, path: Path, row: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return -1
    try:
        return expression_code(int(value) if isinstance(value, str) and value.strip().isdigit() else value)
    except (ValueError, TypeError) as e:
        raise DataError(path, f"expression {value!r}: {e}", row) from None


def _delimiter(first_line: str) -> str:
    """',' unless the header line holds no comma and a ';' or a tab (spreadsheets in comma-decimal locales)."""
    if "," not in first_line:
        for d in (";", "\t"):
            if d in first_line:
                return d
    return ","


def _check_size(path: Path) -> None:
    if path.stat().st_size > MAX_LABEL_BYTES:
        raise DataError(path, f"label file over {MAX_LABEL_BYTES} bytes")


def _csv_lines(path: Path, header_only: bool = False) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each record of a label CSV, header first, blank lines left out."""
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = f.readline()
        f.seek(0)
        reader = csv.reader(f, delimiter=_delimiter(first))
        line = 1
        try:
            for fields in reader:
                if any(c.strip() for c in fields):
                    out.append((line, fields))
                    if header_only:
                        break
                line = reader.line_num + 1
        except csv.Error as e:
            raise DataError(path, f"not a readable CSV ({e})", reader.line_num) from None
    return out


def _csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    _check_size(path)
    try:
        rows = _csv_lines(path)
    except UnicodeDecodeError as e:
        raise DataError(path, f"not a readable UTF-8 CSV ({e})") from None
    if not rows:
        raise DataError(path, "is empty")
    header = [h.strip() for h in rows[0][1]]
    body = rows[1:]
    for row, fields in body:
        if len(fields) != len(header):
            raise DataError(path, f"has {len(fields)} fields, header has {len(header)}", row)
    return header, body


def _au_columns(header: list[str], path: Path) -> dict[int, int]:
    """{AU number: column index} of the canonical AU intensity columns (AUxx_p columns are not intensities)."""
    cols = {}
    for j, h in enumerate(header):
        a = _au_number(h)
        if a is None:
            continue
        if a not in AU_INDEX:
            raise DataError(path, f"column {h!r} is not a canonical AU ({', '.join(map(str, AUS))})", HEADER_ROW)
        if a in cols:
            raise DataError(path, f"AU {a} has two columns", HEADER_ROW)
        cols[a] = j
    return cols


def read_sampleset_csv(path: Path) -> list[LabelRow]:
    header, body = _csv(path)
    if "file" not in header:
        raise DataError(path, "no 'file' column", HEADER_ROW)
    aus = _au_columns(header, path)
    p_cols = {a: header.index(f"AU{a:02d}_p") for a in AUS if f"AU{a:02d}_p" in header}
    idx = {h: header.index(h) for h in ("file", "expression", "prompt") if h in header}
    out = []
    for row, f in body:
        inten, prob = _empty(), _empty() if p_cols else None
        for a, j in aus.items():
            inten[AU_INDEX[a]] = _intensity(f[j], path, row, header[j])
        for a, j in p_cols.items():
            v = _intensity(f[j], path, row, header[j])
            if v > 1:
                raise DataError(path, f"{header[j]} = {v} outside 0-1", row)
            prob[AU_INDEX[a]] = v
        out.append(LabelRow(f[idx["file"]].strip(), inten,
                            _expression(f[idx["expression"]], path, row) if "expression" in idx else -1, prob,
                            f[idx["prompt"]] if "prompt" in idx else "", str(path), row))
    return out


def read_synfer_csv(path: Path) -> list[LabelRow]:
    header, body = _csv(path)
    missing = [c for c in ("file", "expression") if c not in header]
    if missing:
        raise DataError(path, f"no {', '.join(missing)} column (a SynFER-style CSV has file, expression, prompt, "
                              f"AU columns)", HEADER_ROW)
    aus = _au_columns(header, path)
    out = []
    for row, f in body:
        inten = _empty()
        for a, j in aus.items():
            inten[AU_INDEX[a]] = _intensity(f[j], path, row, header[j])
        expr = _expression(f[header.index("expression")], path, row)
        if expr < 0:
            raise DataError(path, "expression is empty", row)
        out.append(LabelRow(f[header.index("file")].strip(), inten, expr, None,
                            f[header.index("prompt")] if "prompt" in header else "", str(path), row))
    return out


def _json_list(text: str) -> list[tuple[int, object]]:
    """(line it starts on, record) of each element of a JSON list."""
    dec, ws, out = json.JSONDecoder(), re.compile(r"[ \t\n\r]*"), []
    i = ws.match(text, text.index("[") + 1).end()
    line, seen = 1, 0
    while i < len(text) and text[i] != "]":
        line, seen = line + text.count("\n", seen, i), i
        record, end = dec.raw_decode(text, i)
        out.append((line, record))
        i = ws.match(text, end).end()
        if i < len(text) and text[i] == ",":
            i = ws.match(text, i + 1).end()
            if i < len(text) and text[i] == "]":
                raise json.JSONDecodeError("a ',' before ']'", text, i)
        elif i >= len(text) or text[i] != "]":
            raise json.JSONDecodeError("expected ',' or ']' after a record", text, min(i, len(text)))
    if i >= len(text) or text[i + 1:].strip():
        raise json.JSONDecodeError("the list does not end with ']'", text, min(i, len(text)))
    return out


def _json_records(path: Path) -> list[tuple[int, object]]:
    """(line, record) of a JSON list or of JSON lines (blank lines skipped)."""
    _check_size(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text ({e})") from None
    try:
        if text.lstrip().startswith("["):
            return _json_list(text)
        return [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    except json.JSONDecodeError as e:
        raise DataError(path, f"not JSON (a list of records) or JSON lines ({e.msg})", e.lineno) from None


def _maugen_record(rec, path: Path, i: int, disfa: tuple[int, ...]) -> LabelRow:
    """One MAUGen record (at line `i`) as a LabelRow."""
    if not isinstance(rec, dict) or not isinstance(rec.get("image"), str) or "intensity" not in rec:
        raise DataError(path, "a record needs \"image\" (a path) and \"intensity\"", i)
    values = rec["intensity"]
    inten = _empty()
    if isinstance(values, list):
        if len(values) != len(disfa):
            raise DataError(path, f"intensity has {len(values)} values, MAUGen's are the 12 DISFA AUs "
                                  f"({', '.join(map(str, disfa))})", i)
        pairs = list(zip(disfa, values))
    elif isinstance(values, dict):
        pairs = [(_au_number(str(k)), v) for k, v in values.items()]
        if bad := [k for (a, _), k in zip(pairs, values) if a not in disfa]:
            raise DataError(path, f"intensity names {bad}, not DISFA12 AUs", i)
        if len(pairs) != len(disfa):
            raise DataError(path, f"intensity gives {len(pairs)} of the 12 DISFA AUs", i)
    else:
        raise DataError(path, "intensity must be a list of 12 numbers or a mapping AU -> number", i)
    for a, v in pairs:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 5:
            raise DataError(path, f"AU{a} intensity {v!r} is not a number in 0-5", i)
        inten[AU_INDEX[a]] = v
    prompt = rec.get("prompt", "")
    if not isinstance(prompt, str):
        raise DataError(path, "prompt must be a string", i)
    return LabelRow(rec["image"], inten, _expression(rec.get("expression"), path, i), None, prompt,
                        str(path), i)


def read_maugen_records(path: Path) -> list[LabelRow]:
    records = _json_records(path)
    disfa = subset("DISFA12")
    shared = {line for line, n in Counter(line for line, _ in records).items() if n > 1}
    out = []
    for n, (i, rec) in enumerate(records, start=1):
        try:
            out.append(_maugen_record(rec, path, i, disfa))
        except DataError as e:  # several records on its line (a minified list): say which
            if i not in shared:
                raise
            raise DataError(path, f"record {n}: {e.reason}", i) from None
    return out

def read_affectnet_csv(path: Path) -> list[LabelRow]:
    return [LabelRow(s.file, s.intensity, s.expression, None, "", str(path), s.meta["row"])
            for s in read_affectnet(path)]


def read_libreface_csv(path: Path) -> list[LabelRow]:
    return [LabelRow(s.file.strip(), s.intensity, s.expression, s.prob, "", str(path), s.meta["row"])
            for s in read_libreface(path)]


def read_openface_folder(path: Path) -> list[LabelRow]:
    """One `<stem>.csv` per image: the key is the stem (matched to an image by stem, any extension)."""
    if not path.is_dir():
        raise DataError(path, "OpenFace labels are a folder of per-image CSVs (FaceLandmarkImg -fdir)")
    out = []
    for csv_path in sorted(path.glob("*.csv")):
        rows = list(read_openface(csv_path))
        if not rows:
            raise DataError(csv_path, "has no face row")
        first = rows[0]
        out.append(LabelRow(csv_path.stem, first.intensity, -1, first.prob, "", str(csv_path), first.meta["row"]))
    if not out:
        raise DataError(path, "holds no .csv files")
    return out


LABEL_FORMATS: dict[str, Callable[[Path], list[LabelRow]]] = {
    "sampleset": read_sampleset_csv, "maugen": read_maugen_records, "synfer": read_synfer_csv,
    "affectnet": read_affectnet_csv, "libreface": read_libreface_csv, "openface": read_openface_folder}
#: formats whose keys are image stems rather than paths
STEM_KEYED = frozenset({"openface"})


def sniff_format(path: str | os.PathLike) -> str:
    """The label format of `path` from its kind and header (folder: openface; JSON: maugen; CSV by its columns)."""
    path = Path(path)
    if path.is_dir():
        return "openface"
    if path.suffix.lower() in (".json", ".jsonl"):
        return "maugen"
    _check_size(path)
    try:
        first = _csv_lines(path, header_only=True)
    except (UnicodeDecodeError, DataError):
        first = []
    header = [h.strip() for h in first[0][1]] if first else []
    if "subDirectory_filePath" in header:
        return "affectnet"
    if any(re.fullmatch(r"au_\d+(_intensity)?", h) for h in header):
        return "libreface"
    if "file" in header and "expression" in header and not any(re.fullmatch(r"AU\d\d", h) for h in header):
        return "synfer"
    if "file" in header and any(re.fullmatch(r"AU\d\d", h) for h in header):
        return "sampleset" if all(f"AU{a:02d}" in header for a in AUS) else "synfer"
    raise DataError(path, f"cannot tell the label format from its header {header[:6]}...; name it with --format "
                          f"({', '.join(LABEL_FORMATS)})")


def read_labels(path: str | os.PathLike, fmt: str = "auto") -> tuple[str, list[LabelRow], tuple[int, ...], bool]:
    """(format, rows, labelled AUs, expression labelled) of a label file; every row must label the same AUs and
    either all or none an expression; keys must be unique."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "label file is missing")
    fmt = sniff_format(path) if fmt == "auto" else fmt
    if fmt not in LABEL_FORMATS:
        raise DataError(path, f"label format {fmt!r} is not one of {', '.join(LABEL_FORMATS)}")
    rows = LABEL_FORMATS[fmt](path)
    if not rows:
        raise DataError(path, "holds no labels")
    first = ~np.isnan(rows[0].intensity)
    has_expr = rows[0].expression >= 0
    seen: dict[str, LabelRow] = {}
    for r in rows:
        if not r.key:
            raise DataError(r.source, "the image name is empty", r.row)
        if r.key in seen:
            raise DataError(r.source, f"{r.key} is labelled twice (first at row {seen[r.key].row})", r.row)
        seen[r.key] = r
        if not np.array_equal(~np.isnan(r.intensity), first):
            raise DataError(r.source, f"{r.key} labels other AUs than the first row", r.row)
        if (r.expression >= 0) != has_expr:
            raise DataError(r.source, f"{r.key}: expression {'missing' if has_expr else 'given'} where the first "
                                      f"row's is {'given' if has_expr else 'missing'}", r.row)
    labelled = tuple(a for a in AUS if first[AU_INDEX[a]])
    return fmt, rows, labelled, has_expr
