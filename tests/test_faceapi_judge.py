"""The `faceapi` judge (bench/judges/faceapi/judge.py): face-api's chain read as per-image arrays.

    readings   on two demo photos cropped around one face each and a flat grey image, in one batch: every reading
               equals `FaceApiPipeline.analyse` on the same arrays (its parity with face-api is tested in
               tests/test_faceapi_pipeline.py); the grey image gives face_found 0 and NaN rows
    mapping    face-api's 7 expressions land on bench.data.aus.EXPRESSIONS by name (hand table), contempt 0, rows sum
               to 1; gender_prob is [female, male], the world judge's order
    identity   `sha256` hashes the pins (hand-computed on a small table), is stable, changes with the version or a
               model file's pin; `id` is "faceapi-" + its first 12 hex digits
    registry   built through `build_judge("faceapi", {})`; an unknown option or a bad min_confidence refused; no
               weights -> MissingWeights naming the fetch command

Needs face-api's weights (the `faceapi_weights` fixture fetches them with npm when missing)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import UsageError
from bench.core.registry import JUDGES
from bench.data.aus import EXPRESSIONS
from bench.judges import build_judge
from bench.judges.faceapi import fetch, nets
from bench.judges.faceapi.judge import (
    FACEAPI_TO_AFFECTNET,
    GENDER_COLUMNS,
    FaceApiJudge,
    expression_row,
    pins_sha256,
)
from bench.judges.faceapi.pipeline import FaceApiPipeline

# (photo, top-left corner) of a 400 px square around one face (face-api's boxes: sample1 (414, 355, 177, 240),
# sample2 (1447, 153, 194, 242); the nearest other faces start at x 838 (sample1) and end at x 1053 (sample2))
CROPS = (("sample1", 302, 275), ("sample2", 1344, 74))
SIZE = 400
# AffectNet codes of bench.data.aus.EXPRESSIONS, written out by hand
CODES = {"neutral": 0, "happy": 1, "sad": 2, "surprise": 3, "fear": 4, "disgust": 5, "anger": 6, "contempt": 7}
HAND_MAPPING = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "anger", "fearful": "fear",
                "disgusted": "disgust", "surprised": "surprise"}


@pytest.fixture(scope="module")
def judge(faceapi_weights) -> FaceApiJudge:
    return build_judge("faceapi", {})


@pytest.fixture(scope="module")
def batch(faceapi_weights) -> np.ndarray:
    """Two one-face crops and a flat grey image, (3, 400, 400, 3) uint8."""
    images = []
    for name, x, y in CROPS:
        photo = np.asarray(Image.open(faceapi_weights / "demo" / f"{name}.jpg").convert("RGB"))
        images.append(photo[y:y + SIZE, x:x + SIZE])
    images.append(np.full((SIZE, SIZE, 3), 128, np.uint8))
    return np.stack(images)


def test_readings_equal_the_pipeline(judge, batch, faceapi_weights):
    out = judge(batch)
    faces = FaceApiPipeline(faceapi_weights / "model").analyse(list(batch))
    assert set(out) == set(FaceApiJudge.readings)
    shapes = {"face_found": (3,), "face_count": (3,), "face_score": (3,), "expression_prob": (3, 8), "age": (3,),
              "gender_prob": (3, 2), "identity": (3, 128), "landmarks": (3, 68, 2)}
    assert {k: v.shape for k, v in out.items()} == shapes
    assert [len(f) for f in faces] == [1, 1, 0]
    np.testing.assert_array_equal(out["face_found"], [1, 1, 0])
    np.testing.assert_array_equal(out["face_count"], [1, 1, 0])
    for i in range(2):
        face = faces[i][0]
        assert out["face_score"][i] == np.float32(face.score)
        assert out["age"][i] == np.float32(face.age)
        np.testing.assert_array_equal(out["identity"][i], face.descriptor.astype(np.float32))
        np.testing.assert_array_equal(out["landmarks"][i], face.landmarks.astype(np.float32))
        for name, p in face.expressions.items():
            assert out["expression_prob"][i, CODES[HAND_MAPPING[name]]] == np.float32(p)
        g = GENDER_COLUMNS.index(face.gender)
        assert out["gender_prob"][i, g] == np.float32(face.gender_probability)
        np.testing.assert_allclose(out["gender_prob"][i].sum(), 1.0, rtol=1e-6)
        assert out["landmarks"][i].min() >= 0 and out["landmarks"][i].max() < SIZE  # pixels of the crop
    np.testing.assert_allclose(out["expression_prob"][:2].sum(1), 1.0, rtol=1e-5)
    assert (out["expression_prob"][:2, CODES["contempt"]] == 0).all()
    for k in ("face_score", "expression_prob", "age", "gender_prob", "identity", "landmarks"):
        assert out[k].dtype == np.float32 and np.isnan(out[k][2]).all(), k
        assert not np.isnan(out[k][:2]).any(), k


def test_most_confident_face_and_empty_batch(judge, batch):
    """A two-face image reads its best face; a batch of none gives empty arrays."""
    pair = np.concatenate([batch[0], batch[1]], axis=1)[None]  # (1, 400, 800, 3): both faces
    faces = judge.pipeline.analyse(list(pair))[0]
    out = judge(pair)
    assert out["face_count"][0] == len(faces) == 2
    best = max(faces, key=lambda f: f.score)
    assert out["face_score"][0] == np.float32(best.score) == np.float32(max(f.score for f in faces))
    np.testing.assert_array_equal(out["identity"][0], best.descriptor)
    empty = judge(np.zeros((0, 64, 64, 3), np.uint8))
    assert empty["expression_prob"].shape == (0, 8) and empty["landmarks"].shape == (0, 68, 2)
    with pytest.raises(ValueError, match="uint8"):
        judge(batch.astype(np.float32))


def test_expression_mapping_by_name():
    assert set(HAND_MAPPING) == set(nets.EXPRESSIONS) and FACEAPI_TO_AFFECTNET == HAND_MAPPING
    assert {name: i for i, name in enumerate(EXPRESSIONS)} == CODES
    for name in nets.EXPRESSIONS:  # one-hot in, one-hot out on the code with the same meaning
        row = expression_row({n: float(n == name) for n in nets.EXPRESSIONS})
        assert row.shape == (8,) and row.dtype == np.float32
        assert np.flatnonzero(row).tolist() == [CODES[HAND_MAPPING[name]]]
    probs = dict(zip(nets.EXPRESSIONS, (0.1, 0.4, 0.05, 0.15, 0.1, 0.05, 0.15)))
    row = expression_row(probs)
    np.testing.assert_allclose(row, [0.1, 0.4, 0.05, 0.15, 0.1, 0.05, 0.15, 0.0], rtol=1e-6)
    np.testing.assert_allclose(row.sum(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="contempt"):
        expression_row({**probs, "contempt": 0.0})


def test_gender_columns_follow_the_world_judge():
    from bench.world.params import GENDERS

    assert GENDERS == ("feminine", "masculine") and GENDER_COLUMNS == ("female", "male")


def test_sha256_and_id(judge, monkeypatch):
    tiny = {"package": "p", "version": "1", "files": {"model/b.bin": "bb", "model/a.json": "aa", "demo/x.jpg": "xx"}}
    assert pins_sha256(tiny) == hashlib.sha256(b"p@1\nmodel/a.json aa\nmodel/b.bin bb").hexdigest()
    want = pins_sha256()
    assert judge.sha256 == want == pins_sha256(fetch.PINS) and judge.id == f"faceapi-{want[:12]}"
    assert judge.config == {"min_confidence": 0.5}
    assert build_judge("faceapi", {}).id == judge.id  # stable across builds
    model = "model/face_expression_model.bin"
    monkeypatch.setitem(fetch.PINS, "files", {**fetch.PINS["files"], model: "0" * 64})
    assert pins_sha256() != want
    monkeypatch.undo()
    monkeypatch.setitem(fetch.PINS, "version", "1.7.16")
    assert pins_sha256() != want
    monkeypatch.undo()
    monkeypatch.setitem(fetch.PINS, "files", {**fetch.PINS["files"], "demo/sample1.jpg": "0" * 64})
    assert pins_sha256() == want  # demo images are not weights
    monkeypatch.undo()
    assert pins_sha256() == want


def test_registry(faceapi_weights):
    entry = next(e for e in JUDGES.entries() if e.name == "faceapi")
    assert "device" in entry.needs
    with pytest.raises(UsageError, match="'nope'.*min_confidence"):
        build_judge("faceapi", {"nope": 1})
    with pytest.raises(UsageError, match="min_confidence"):
        build_judge("faceapi", {"min_confidence": 1.5})
    strict = build_judge("faceapi", {"min_confidence": 0.9}, device="cpu")
    assert strict.config == {"min_confidence": 0.9} and strict.id == f"faceapi-c0.9-{pins_sha256()[:12]}"


def test_missing_weights_say_what_to_run(tmp_path, monkeypatch):
    from bench.core.errors import MissingWeights

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path))
    with pytest.raises(MissingWeights, match="augen weights fetch face-api"):
        build_judge("faceapi", {})
