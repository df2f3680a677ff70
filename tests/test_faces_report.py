"""The face-judge report (bench/judges/faceapi/parity.py) on the shipped photos, without the Node parity run (the parity
tests hold that, tests/test_faceapi_pipeline.py):

    detection  one row per annotated photo; found equals the judge's own count; extra / missed follow from found and
               the by-eye count; the totals row is their sum
    posed      one row per posed photo, read = the argmax of its best face's expressions
    hostile    one row per hostile file; the bomb, the animated and the truncated files refused, the 30-face mosaic
               read as 30 faces
    outputs    the markdown is drawn from the JSON; the contact sheet holds one tile per face found
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from bench.cli import main as augen
from bench.data.hostile import HOSTILE
from bench.judges.faceapi import parity


def test_faces_report(shipped_photos, tmp_path):
    assert augen(["study", "faces", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "judges.json"), "--no-node"]) == 0
    results = json.loads((tmp_path / "judges.json").read_text())
    assert [p["photo"] for p in results["photos"]] == [p.name for p in shipped_photos]
    for row, photo in zip(results["photos"], shipped_photos):
        assert row["present"] == photo.faces and row["found"] == len(row["faces"])
        assert row["extra"] == max(0, row["found"] - row["present"])
        assert row["missed"] == max(0, row["present"] - row["found"])
    assert sum(p["found"] for p in results["photos"]) >= 30
    posed = [p for p in shipped_photos if p.expression]
    assert [r["photo"] for r in results["posed"]] == [p.name for p in posed]
    for r in results["posed"]:
        best = max(next(p for p in results["photos"] if p["photo"] == r["photo"])["faces"], key=lambda f: f["score"])
        assert r["read"] == max(best["expressions"], key=best["expressions"].get)
    hostile = {r["file"]: r for r in results["hostile"]}
    assert set(hostile) == set(HOSTILE)
    assert all(hostile[f]["read"] == "refused" for f in ("huge.png", "animated.png", "truncated.jpg"))
    assert hostile["crowd.jpg"]["faces"] == 30 and hostile["no_face.png"]["faces"] == 0
    assert results["parity"] is None
    md = (tmp_path / "out" / "judges.md").read_text()
    total = {k: sum(p[k] for p in results["photos"]) for k in ("present", "found", "extra", "missed")}
    assert f"| **all** | | | {total['present']} | {total['found']} | {total['extra']} | {total['missed']} |" in md
    assert "Not run (`--no-node`)" in md
    sheet = np.asarray(Image.open(tmp_path / "out" / "contact_sheet.png"))
    n_faces = sum(p["found"] for p in results["photos"])
    rows = -(-n_faces // parity.COLS)
    assert sheet.shape[0] % rows == 0 and sheet.shape[1] == parity.COLS * parity.TILE
