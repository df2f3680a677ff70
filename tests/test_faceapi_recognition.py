"""The face recognition net ported to torch (bench/judges/faceapi/recognition.py) against face-api itself in Node
(tools/faceapi-node/recognition.js) on both tfjs backends (cpu, wasm). Both sides read the same crop pixels (decoded
once by jpeg-js in Node), on the parity crops every face-api test uses.

    input (face_input at 150 px)   bit-identical on cpu; within 2e-5 on wasm (its resize kernel; measured 6.9e-6)
    descriptor (128-d, norm ~1.4)  within 5e-6 of forwardInput and of computeFaceDescriptor (measured <= 3.2e-7)
    identity                       the same face in two crops is closer than any two of sample1's three faces, and
                                   below face-api's 0.6 same-person distance

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from bench.core.errors import DataError
from bench.judges.faceapi.nets import load_tfjs
from bench.judges.faceapi.node import PARITY_CROPS, run_node, run_on_crop
from bench.judges.faceapi.preprocess import face_input
from bench.judges.faceapi.recognition import (
    DESCRIPTOR_SIZE,
    RECOGNITION_SIZE,
    SAME_PERSON_DISTANCE,
    FaceRecognitionNet,
    Residual,
    euclidean_distance,
)
from bench.judges.faceapi.tfjs import load_weights

# sample1's three faces (SSD finds them): the dlib-aligned rect (x, y, size) face-api's full pipeline computed for
# each (the crop its descriptor takes; recorded in the research run); a face's second crop is that rect grown by GROW px
# on every side.
DLIB_RECTS = {"face0": (369, 394, 213), "face1": (812, 467, 207), "face2": (1454, 235, 220)}
GROW = 10


@pytest.fixture(scope="module")
def net(faceapi_weights) -> FaceRecognitionNet:
    return FaceRecognitionNet.from_folder(faceapi_weights / "model")


@pytest.fixture(scope="module", params=[(c, b) for c in PARITY_CROPS for b in ("cpu", "wasm")],
                ids=lambda p: "-".join(p))
def node_run(request, faceapi_weights, tmp_path_factory):
    """face-api's descriptor of one crop on one backend, with the crop's pixels."""
    crop, backend = request.param
    pixels, ref, meta = run_on_crop("recognition.js", faceapi_weights, crop, backend,
                                    tmp_path_factory.mktemp(f"recognition-{crop}-{backend}"))
    assert meta["backend"] == backend
    return backend, pixels, ref


def test_recognition_net_matches_face_api(node_run, net):
    backend, pixels, ref = node_run
    with torch.no_grad():
        x = face_input(pixels, size=RECOGNITION_SIZE)  # (1, 3, 150, 150)
        descriptor = net(x)  # (1, 128)
    normalized = x.permute(0, 2, 3, 1).numpy()  # NHWC, as tfjs
    if backend == "cpu":
        assert np.array_equal(normalized, ref["normalized"])
    else:  # the wasm resize computes its source coordinates in float32
        assert np.abs(normalized - ref["normalized"]).max() <= 2e-5
    assert descriptor.shape == (1, DESCRIPTOR_SIZE)
    assert np.abs(descriptor.numpy() - ref["forward"]).max() <= 5e-6, backend
    assert np.abs(descriptor[0].numpy() - ref["descriptor"]).max() <= 5e-6, backend  # computeFaceDescriptor
    assert 1.0 < float(descriptor.norm()) < 2.0  # not L2-normalised


@pytest.fixture(scope="module")
def sample1_pixels(faceapi_weights, tmp_path_factory) -> np.ndarray:
    """All of sample1 as jpeg-js decodes it (recognition.js on the whole image writes its pixels): sub-rects of it are
    the crops crop.js would cut."""
    out = tmp_path_factory.mktemp("recognition-sample1")
    run_node("recognition.js", faceapi_weights / "model", faceapi_weights / "demo" / "sample1.jpg", "0,0,1920,1280",
             "cpu", out)
    shape = json.loads((out / "recognition_meta.json").read_text())["crop_shape"]
    return np.fromfile(out / "crop.rgb", dtype=np.uint8).reshape(shape)


def test_same_face_closer_than_different_faces(net, sample1_pixels):
    crops = {}
    for face, (x, y, size) in DLIB_RECTS.items():
        crops[face, "dlib"] = sample1_pixels[y:y + size, x:x + size]
        crops[face, "grown"] = sample1_pixels[y - GROW:y + size + GROW, x - GROW:x + size + GROW]
    with torch.no_grad():
        descriptors = dict(zip(crops, net(face_input(list(crops.values()), size=RECOGNITION_SIZE))))
    same, different = [], []
    for a, b in itertools.combinations(descriptors, 2):
        (same if a[0] == b[0] else different).append(float(euclidean_distance(descriptors[a], descriptors[b])))
    # measured: the same face 0.18-0.21, different faces 0.62-0.71 (in float64, as face-api's euclideanDistance)
    assert max(same) < SAME_PERSON_DISTANCE < min(different), (same, different)


def test_residual_down_pads_conv_branch_and_channels():
    block = Residual(2, 4, down=True)  # all weights zero ...
    with torch.no_grad():
        block.conv2.scale.biases.fill_(1.0)  # ... but the conv branch's last bias: that branch is 1 everywhere
        out = block(torch.ones(1, 2, 8, 8))  # conv branch 3x3 ('valid' s2), pooled branch 4x4
    assert out.shape == (1, 4, 4, 4)
    expected_pooled = torch.ones(4, 4)  # pooled ones + the conv branch, which is zero in the last row and column
    expected_pooled[:3, :3] = 2.0
    expected_zero_channels = torch.zeros(4, 4)
    expected_zero_channels[:3, :3] = 1.0
    for c in range(2):
        assert torch.equal(out[0, c], expected_pooled)
        assert torch.equal(out[0, 2 + c], expected_zero_channels)


def test_batch_like_single_crops(net):
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((160, 120, 3), (60, 90, 3))]
    with torch.no_grad():
        batch = net(face_input(crops, size=RECOGNITION_SIZE))
        for i, crop in enumerate(crops):
            assert torch.allclose(batch[i], net(face_input(crop, size=RECOGNITION_SIZE))[0], atol=1e-6)


def test_other_weights_are_refused(faceapi_weights):
    weights = load_weights(faceapi_weights / "model", "age_gender_model")
    with pytest.raises(DataError, match=r"weights do not fit FaceRecognitionNet: missing \['conv128_1/conv1/conv/"):
        load_tfjs(FaceRecognitionNet(), weights, "age_gender_model")
