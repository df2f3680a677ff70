"""External AU tools as judges: LibreFace / OpenFace CSVs aligned to a SampleSet's rows."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_world

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, SUBSETS
from bench.data.sampleset import SampleSet
from bench.judges.external import libreface_readings, openface_readings


def test_libreface_csv_aligned_by_file(tmp_path):
    ss = SampleSet(write_world(tmp_path / "set", n=3))
    files = [s.file for s in ss.rows()]
    det, inten = SUBSETS["BP4D12"], SUBSETS["DISFA12"]
    header = ["file", *[f"au_{a}" for a in det], *[f"au_{a}_intensity" for a in inten], "facial_expression"]
    lines = [",".join(header)]
    for k, f in enumerate(reversed(files)):  # rows in another order than the set
        lines.append(",".join([f"images/{f}", *["1" if a == 12 else "0" for a in det],
                               *[f"{(k + 1) * 0.5}" if a == 25 else "0" for a in inten], "happy"]))
    (tmp_path / "lf.csv").write_text("\n".join(lines) + "\n")
    out, jid = libreface_readings(ss, tmp_path / "lf.csv")
    assert jid.startswith("libreface-csv-")
    np.testing.assert_array_equal(out["au_intensity"][:, AU_INDEX[25]], [1.5, 1.0, 0.5])  # realigned to set order
    assert np.isnan(out["au_intensity"][:, AU_INDEX[7]]).all()  # AU7 has no LibreFace intensity
    assert (out["au_prob"][:, AU_INDEX[12]] == 1).all() and np.isnan(out["au_prob"][:, AU_INDEX[5]]).all()
    (tmp_path / "short.csv").write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(DataError, match="no reading for 2 of 3 images"):
        libreface_readings(ss, tmp_path / "short.csv")


def test_openface_folder_per_image(tmp_path):
    ss = SampleSet(write_world(tmp_path / "set", n=2))
    out_dir = tmp_path / "of"
    out_dir.mkdir()
    for k, s in enumerate(ss.rows()):
        (out_dir / (s.file[:-4] + ".csv")).write_text(
            "frame, face_id, success, AU12_r, AU25_r, AU12_c\n" + f"1, 0, 1, {k + 1}.0, 0.5, 1\n")
    out, jid = openface_readings(ss, out_dir)
    np.testing.assert_array_equal(out["au_intensity"][:, AU_INDEX[12]], [1.0, 2.0])
    assert np.isnan(out["au_intensity"][:, AU_INDEX[24]]).all()
    (out_dir / "00000001.csv").unlink()
    with pytest.raises(DataError, match="OpenFace output for 00000001.png is missing"):
        openface_readings(ss, out_dir)
