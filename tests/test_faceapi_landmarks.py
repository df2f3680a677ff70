"""The 68-point landmark nets ported to torch (bench/judges/faceapi/landmarks.py), full and tiny, against face-api itself
in Node (tools/faceapi-node/landmarks.js) on both tfjs backends (cpu, wasm). Both sides read the same crop pixels
(decoded once by jpeg-js in Node), on the parity crops the expression test uses.

    network          features, raw 136 outputs and relative points within 5e-5 (measured <= 1.2e-7 on these crops)
    post-processing  on face-api's own raw outputs: relative points and crop pixels bit-identical to face-api's
    end to end       `points(crop)` within 5e-5 * max(h, w) px of `detectLandmarks(crop).positions`
                     (measured <= 4.3e-5 px)

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.errors import DataError
from bench.judges.faceapi.landmarks import (
    FaceLandmark68Net,
    FaceLandmark68NetBase,
    FaceLandmark68TinyNet,
    crop_points,
    relative_landmarks,
)
from bench.judges.faceapi.nets import load_tfjs
from bench.judges.faceapi.node import PARITY_CROPS, run_on_crop
from bench.judges.faceapi.preprocess import face_input
from bench.judges.faceapi.tfjs import load_weights

NETS = {"full": FaceLandmark68Net, "tiny": FaceLandmark68TinyNet}


@pytest.fixture(scope="module")
def nets(faceapi_weights) -> dict[str, FaceLandmark68NetBase]:
    return {name: cls.from_folder(faceapi_weights / "model") for name, cls in NETS.items()}


@pytest.fixture(scope="module", params=[(c, b) for c in PARITY_CROPS for b in ("cpu", "wasm")],
                ids=lambda p: "-".join(p))
def node_run(request, faceapi_weights, tmp_path_factory):
    """face-api's landmark outputs (both nets) on one crop and backend, with the crop's pixels."""
    crop, backend = request.param
    pixels, ref, meta = run_on_crop("landmarks.js", faceapi_weights, crop, backend,
                                    tmp_path_factory.mktemp(f"landmarks-{crop}-{backend}"))
    assert meta["backend"] == backend
    return backend, pixels, ref


@pytest.mark.parametrize("name", NETS)
def test_landmark_net_matches_face_api(node_run, nets, name):
    backend, pixels, ref = node_run
    net, size = nets[name], [pixels.shape[:2]]
    with torch.no_grad():
        features = net.features(face_input(pixels))  # (1, 256) full, (1, 128) tiny
        raw = net.fc(features)  # (1, 136)
    relative = relative_landmarks(raw, size)  # (1, 68, 2)
    assert np.abs(features.numpy() - ref[f"{name}_features"].reshape(1, -1)).max() <= 5e-5, backend
    assert np.abs(raw.numpy() - ref[f"{name}_raw"]).max() <= 5e-5, backend
    assert np.abs(relative.numpy().reshape(1, 136) - ref[f"{name}_relative"]).max() <= 5e-5, backend
    points = net.points(pixels)  # (1, 68, 2) crop pixels
    assert points.shape == (1, 68, 2) and points.dtype == np.float64
    assert np.abs(points[0] - ref[f"{name}_positions"]).max() <= 5e-5 * max(pixels.shape[:2]), backend


@pytest.mark.parametrize("name", NETS)
def test_post_processing_is_bit_identical(node_run, name):
    """Fed face-api's own raw outputs, our post-processing gives face-api's relative points and pixels exactly."""
    backend, pixels, ref = node_run
    size = [pixels.shape[:2]]
    relative = relative_landmarks(torch.from_numpy(ref[f"{name}_raw"]), size)
    assert np.array_equal(relative.numpy().reshape(1, 136), ref[f"{name}_relative"]), backend
    assert np.array_equal(crop_points(relative, size)[0], ref[f"{name}_positions"]), backend


def test_relative_landmarks_undo_the_centering_pad():
    # a 200 x 100 (h x w) crop: scale 112/200, scaled 56 wide, padX = (112 - 56) / 2 = 28 columns on the left
    raw = torch.zeros(1, 136)
    raw[0, 0::2] = torch.tensor([0.25, 0.5, 0.75]).repeat(23)[:68]  # x at the image's left edge, center, right edge
    raw[0, 1::2] = 0.5
    relative = relative_landmarks(raw, [(200, 100)])
    assert relative[0, :3, 0].tolist() == [0.0, 0.5, 1.0] and relative[0, :3, 1].tolist() == [0.5] * 3
    assert crop_points(relative, [(200, 100)])[0, :3].tolist() == [[0, 100], [50, 100], [100, 100]]
    square = relative_landmarks(raw, [(50, 50)])  # no padding: relative = raw
    assert torch.equal(square.reshape(1, 136), raw)
    with pytest.raises(ValueError, match="one size per row"):
        relative_landmarks(raw, [(50, 50), (60, 60)])


def test_points_batch_like_single_crops(nets):
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((90, 60, 3), (40, 70, 3))]
    batch = nets["tiny"].points(crops)
    assert batch.shape == (2, 68, 2)
    for i, crop in enumerate(crops):
        assert np.abs(batch[i] - nets["tiny"].points(crop)[0]).max() <= 1e-3


def test_the_other_nets_weights_are_refused(faceapi_weights):
    tiny = load_weights(faceapi_weights / "model", "face_landmark_68_tiny_model")
    with pytest.raises(DataError, match=r"missing \['dense0/conv3/bias'"):
        load_tfjs(FaceLandmark68Net(), tiny, "face_landmark_68_tiny_model")
    full = load_weights(faceapi_weights / "model", "face_landmark_68_model")
    with pytest.raises(DataError, match=r"unused \['dense0/conv3/bias'"):
        load_tfjs(FaceLandmark68TinyNet(), full, "face_landmark_68_model")
