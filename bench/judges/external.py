"""AU readings made by external tools (OpenFace 2.0, LibreFace), used as the AU judge of a score.

The tool runs elsewhere on the SampleSet's images and writes a CSV; these adapters align its rows to
the SampleSet's rows by file name (a key column, or OpenFace's per-image `<stem>.csv` files), so every
sample gets judged intensities / occurrence probabilities, NaN where the tool reads nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.aus import N_AUS
from bench.data.datasets import read_libreface, read_openface
from bench.data.sampleset import SampleSet


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def align_readings(ss: SampleSet, readings: dict[str, tuple[np.ndarray, np.ndarray]], source: Path) -> dict:
    """{'au_intensity': (n, 17), 'au_prob': (n, 17)} in row order; every SampleSet file must be read."""
    files = [s.file for s in ss.rows()]
    if missing := [f for f in files if f not in readings]:
        raise DataError(source, f"no reading for {len(missing)} of {len(files)} images (first: {missing[0]})")
    inten = np.stack([readings[f][0] for f in files]).astype(np.float32)
    prob = np.stack([readings[f][1] for f in files]).astype(np.float32)
    return {"au_intensity": inten, "au_prob": prob}


def libreface_readings(ss: SampleSet, csv_path: str | Path, key_column: str = "file") -> tuple[dict, str]:
    """Judged AUs from one LibreFace CSV; returns (arrays, judge id)."""
    path = Path(csv_path)
    readings = {}
    for s in read_libreface(path, key_column):
        name = Path(s.file).name
        if name in readings:
            raise DataError(path, f"two rows for {name}", s.meta["row"])
        readings[name] = (s.intensity, s.prob)
    return align_readings(ss, readings, path), f"libreface-csv-{_file_sha(path)[:12]}"


def openface_readings(ss: SampleSet, folder: str | Path) -> tuple[dict, str]:
    """Judged AUs from OpenFace's per-image CSVs (`<image stem>.csv`, first face row)."""
    folder = Path(folder)
    readings, h = {}, hashlib.sha256()
    for s in ss.rows():
        csv = folder / (Path(s.file).stem + ".csv")
        if not csv.is_file():
            raise DataError(csv, f"OpenFace output for {s.file} is missing")
        h.update(csv.read_bytes())
        rows = list(read_openface(csv))
        first = rows[0] if rows else None
        readings[s.file] = ((first.intensity, first.prob) if first is not None
                            else (np.full(N_AUS, np.nan, np.float32), np.full(N_AUS, np.nan, np.float32)))
    return align_readings(ss, readings, folder), f"openface-csv-{h.hexdigest()[:12]}"
