"""face-api's whole chain on our torch ports (bench/judges/faceapi/pipeline.py) against face-api itself in Node
(tools/faceapi-node/pipeline.js: `detectAllFaces(img).withFaceLandmarks().withFaceExpressions().withAgeAndGender()
.withFaceDescriptors()`, wasm backend) on the 6 demo photographs. Both sides read the same pixels (decoded once by
jpeg-js in Node).

    faces        the same number per photo (3, 3, 3, 4, 5, 4), in the same order
    crops        the three rects cut per face (detection, 20 % padded landmark box, dlib square) the same integers, and
                 the dlib rect itself identical: an off-by-one crop would fail here
    values       detection box and landmarks within 2e-3 px (measured <= 2.3e-4 and 1.2e-4), the padded landmark box
                 within 2e-3 px (measured <= 1.3e-4), score 1e-5 (<= 9.5e-7), descriptor 5e-6 (<= 4.2e-7), age 5e-4
                 years (<= 4.6e-5), the gender label equal and its probability within 1e-5 (<= 4.3e-7), expression
                 probabilities within 1e-5 (<= 3.5e-6)
    geometry     fed face-api's own landmarks and boxes, the aligned box, the dlib rect and the clipped crops are
                 bit-identical to face-api's

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import numpy as np
import pytest

from bench.judges.faceapi.node import CHAIN_OUTPUTS, CHAIN_TOLERANCES, chain_differences, run_pipeline
from bench.judges.faceapi.pipeline import (
    FaceApiPipeline,
    align_dlib,
    analyse,
    clip_at_image_borders,
    min_bbox_padded,
    through_relative,
)

PHOTOS = [f"sample{i}" for i in range(1, 7)]
FACES = {"sample1": 3, "sample2": 3, "sample3": 3, "sample4": 4, "sample5": 5, "sample6": 4}
TOLERANCES = CHAIN_TOLERANCES


@pytest.fixture(scope="module")
def node_run(faceapi_weights, tmp_path_factory):
    """face-api's chain on the 6 photos (wasm) -> {name: (pixels (H, W, 3) uint8, arrays)}."""
    out = tmp_path_factory.mktemp("pipeline-wasm")
    meta, runs = run_pipeline(faceapi_weights, {name: faceapi_weights / "demo" / f"{name}.jpg" for name in PHOTOS},
                              out, "wasm")
    assert meta["backend"] == "wasm" and all(meta["images"][name]["ms"] > 0 for name in PHOTOS)
    return runs


@pytest.fixture(scope="module")
def pipeline(faceapi_weights) -> FaceApiPipeline:
    return FaceApiPipeline(faceapi_weights / "model")


@pytest.fixture(scope="module")
def analysed(node_run, pipeline):
    """torch's chain on the 6 photos, one batch."""
    return dict(zip(PHOTOS, pipeline.analyse([node_run[name][0] for name in PHOTOS])))


def test_pipeline_matches_face_api(node_run, analysed):
    worst = dict.fromkeys(TOLERANCES, 0.0)
    for name in PHOTOS:
        ref, faces = node_run[name][1], analysed[name]
        assert len(faces) == len(ref["detections"]) == FACES[name], name
        for k, face in enumerate(faces):
            where = (name, k)
            assert np.array_equal(np.array(face.crops), ref["crops"][k]), (where, face.crops, ref["crops"][k])
            assert np.array_equal(np.array(face.dlib_rect), ref["dlib"][k]), where
            assert (face.gender == "male") == bool(ref["male"][k]), where
            diffs = chain_differences(face, ref, k)
            assert set(diffs) == set(TOLERANCES) == set(CHAIN_OUTPUTS)
            for key, diff in diffs.items():
                assert diff <= TOLERANCES[key], (where, key, diff)
                worst[key] = max(worst[key], float(diff))
    print("max |torch - face-api| over the 6 photos:", {k: f"{v:.2g}" for k, v in worst.items()})


def test_geometry_is_bit_identical_on_face_apis_values(node_run):
    for name in PHOTOS:
        pixels, ref = node_run[name]
        height, width = pixels.shape[:2]
        for k in range(len(ref["detections"])):
            det_crop = clip_at_image_borders(through_relative(tuple(ref["detections"][k, :4]), width, height),
                                             width, height)
            assert det_crop == tuple(ref["crops"][k, 0]), (name, k)
            aligned = through_relative(min_bbox_padded(ref["landmarks"][k]), width, height)
            assert aligned == tuple(ref["aligned"][k]), (name, k)
            assert clip_at_image_borders(through_relative(aligned, width, height), width, height) == tuple(
                ref["crops"][k, 1]), (name, k)
            dlib = align_dlib(ref["landmarks"][k], (det_crop[2], det_crop[3]))
            assert dlib == tuple(ref["dlib"][k]), (name, k)
            assert clip_at_image_borders(dlib, width, height) == tuple(ref["crops"][k, 2]), (name, k)


def test_batch_like_single_images(node_run, pipeline, analysed):
    single = pipeline.analyse(node_run["sample2"][0])
    assert len(single) == 1 and len(single[0]) == len(analysed["sample2"])
    for a, b in zip(single[0], analysed["sample2"]):
        assert a.crops == b.crops and a.dlib_rect == b.dlib_rect
        assert np.abs(a.descriptor - b.descriptor).max() < 1e-5
        assert np.abs(a.landmarks - b.landmarks).max() < 1e-3


def test_no_face_gives_nothing(pipeline, faceapi_weights):
    grey = np.full((300, 400, 3), 128, dtype=np.uint8)
    assert pipeline.analyse([grey, grey]) == [[], []]
    assert analyse(grey, faceapi_weights / "model") == [[]]  # the module-level entry point (nets loaded once)


def test_crop_rules_by_hand():
    # clip then floor each of x, y, width, height (not the right edge)
    assert clip_at_image_borders((-3.5, 2.7, 20.9, 10.2), 15, 100) == (0, 2, 15, 10)
    assert clip_at_image_borders((10.6, 5.5, 4.6, 3.2), 100, 100) == (10, 5, 4, 3)  # right 15.2, crop [10, 14)
    # the 20 % pad, half on each side, around the points' bounding box
    points = np.array([[10.0, 20.0], [30.0, 70.0]])
    assert min_bbox_padded(points) == (8.0, 15.0, 24.0, 60.0)
    # dlib: eyes at (40, 50) and (60, 50), mouth at (50, 95): eye-mouth 46.10 -> size floor(102.4) = 102
    pts = np.zeros((68, 2))
    pts[36:42], pts[42:48], pts[48:68] = (40.0, 50.0), (60.0, 50.0), (50.0, 95.0)
    assert align_dlib(pts, (500, 500)) == (0, 21, 102, 102)  # max(0, 50 - 51) = 0; floor(65 - 43.86) = 21
    assert align_dlib(pts, (80, 500)) == (0, 21, 80, 102)  # bounded by the landmark crop's width + x
