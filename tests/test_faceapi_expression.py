"""The face expression net ported to torch (bench/judges/faceapi/nets.py) and face-api's input protocol
(preprocess.py) against face-api itself in Node, on both tfjs backends (cpu: pure JS; wasm: the SIMD kernels
face-api users run in Node). Both sides read the same crop pixels (decoded once by jpeg-js in Node), so no JPEG
decoder difference enters.

    preprocessing   bit-identical to face-api's toBatchTensor(112, centered) + normalize on both backends;
                    the bare legacy resize bit-identical to tfjs cpu's tf.image.resizeBilinear; wasm's float32 kernel
                    differs by <= 1.2e-3 (pixel units) where the scale ratio is not a short binary fraction
    network         features and logits within 5e-5, probabilities within 1e-5, same top class
                    (measured: about 4e-6, 7e-6 and 2.4e-7)

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.judges.faceapi.nets import EXPRESSIONS, FaceExpressionNet, same_padding
from bench.judges.faceapi.node import PARITY_CROPS as CROPS
from bench.judges.faceapi.node import read_dump, run_node
from bench.judges.faceapi.preprocess import face_input, pad_to_square, resize_bilinear_legacy


@pytest.fixture(scope="module")
def expression_net(faceapi_weights) -> FaceExpressionNet:
    return FaceExpressionNet.from_folder(faceapi_weights / "model")


@pytest.fixture(scope="module", params=[(c, b) for c in CROPS for b in ("cpu", "wasm")], ids=lambda p: "-".join(p))
def node_run(request, faceapi_weights, tmp_path_factory):
    """face-api's outputs on one crop and backend, with the crop's pixels."""
    crop, backend = request.param
    image, rect = CROPS[crop]
    out = tmp_path_factory.mktemp(f"{crop}-{backend}")
    run_node("expression.js", faceapi_weights / "model", faceapi_weights / "demo" / image, rect, backend, out)
    meta = json.loads((out / "expression_labels.json").read_text())
    pixels = np.fromfile(out / "crop.rgb", dtype=np.uint8).reshape(meta["crop_shape"])
    return backend, pixels, read_dump(out, "expression"), meta


def test_preprocessing_matches_face_api(node_run):
    backend, pixels, ref, _ = node_run
    x = face_input(pixels)  # (1, 3, 112, 112)
    assert np.array_equal(x.permute(0, 2, 3, 1).numpy(), ref["normalized"]), backend
    for key in (k for k in ref if k.startswith("resize_")):
        size = tuple(int(v) for v in key.removeprefix("resize_").split("x"))
        ours = resize_bilinear_legacy(torch.from_numpy(pixels).float()[None], size).numpy()
        if backend == "cpu":
            assert np.array_equal(ours, ref[key]), key
        else:  # wasm computes the source coordinate in float32: its error (<= 2**-24 of it, a few ulps at most)
            # times a pixel step (<= 255); measured <= 1.2e-3
            assert np.abs(ours - ref[key]).max() <= 255 * max(pixels.shape[:2]) * 2.0**-22, key


def test_expression_net_matches_face_api(node_run, expression_net):
    backend, pixels, ref, meta = node_run
    assert tuple(meta["labels"]) == EXPRESSIONS and meta["backend"] == backend
    with torch.no_grad():
        x = face_input(pixels)
        features = expression_net.features(x)  # (1, 256)
        logits = expression_net.fc(features)  # (1, 7)
        probabilities = expression_net.probabilities(x)
    assert np.abs(features.numpy() - ref["features"].reshape(1, 256)).max() <= 5e-5
    assert np.abs(logits.numpy() - ref["logits"]).max() <= 5e-5
    assert np.abs(probabilities.numpy() - ref["probabilities"]).max() <= 1e-5
    assert probabilities.argmax().item() == int(ref["probabilities"].argmax())


def test_same_padding_is_tfs():
    assert same_padding(112, 3, 2) == (0, 1)  # even input, stride 2: all padding after (torch padding=1 is wrong)
    assert same_padding(7, 3, 2) == (1, 1) and same_padding(56, 3, 1) == (1, 1)
    assert same_padding(16, 1, 2) == (0, 0)


def test_pad_to_square_puts_the_odd_row_after():
    tall = torch.ones(5, 2, 3)  # diff 3: Math.round(1.5) = 2 columns after, 1 before
    assert pad_to_square(tall)[0, :, 0].tolist() == [0, 1, 1, 0, 0]
    wide = torch.ones(2, 4, 3)  # diff 2: 1 row before, 1 after
    assert pad_to_square(wide)[:, 0, 0].tolist() == [0, 1, 1, 0]


def test_face_input_checks_and_batches():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((112, 112, 3), (40, 30, 3)))
    x = face_input([a, b])
    assert x.shape == (2, 3, 112, 112) and x.dtype == torch.float32
    assert torch.equal(x[0], (torch.from_numpy(a).float() - torch.tensor((122.782, 117.001, 104.298))).div(255)
                       .permute(2, 0, 1))  # already 112 square: no resize
    with pytest.raises(ValueError, match="image 0 must be uint8 RGB"):
        face_input(a.astype(np.float32))


def test_weights_that_do_not_fit_are_refused(faceapi_weights):
    from bench.core.errors import DataError
    from bench.judges.faceapi.nets import load_tfjs
    from bench.judges.faceapi.tfjs import load_weights

    weights = load_weights(faceapi_weights / "model", "face_expression_model")
    weights["fc/weights"] = weights["fc/weights"][:, :6]
    with pytest.raises(DataError, match=r"weight 'fc/weights': shape \[256, 6\]"):
        load_tfjs(FaceExpressionNet(), weights, "face_expression_model")
    del weights["fc/weights"]
    with pytest.raises(DataError, match=r"missing \['fc/weights'\]"):
        load_tfjs(FaceExpressionNet(), weights, "face_expression_model")
