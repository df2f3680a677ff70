"""The age/gender net ported to torch (bench/judges/faceapi/agegender.py) against face-api itself in Node
(tools/faceapi-node/agegender.js) on both tfjs backends (cpu, wasm). Both sides read the same crop pixels (decoded once
by jpeg-js in Node), on the parity crops the expression test uses (face-api calls one female, the other male).

    features (TinyXception, values up to ~128)  within 1e-5 x their max |value| (measured <= 7.6e-5 absolute)
    age                                         within 1e-4 years (measured <= 5.7e-6)
    gender logits, probabilities                within 5e-5 and 1e-5 (measured <= 2.7e-7 and 1.2e-7)
    the label                                   the same as predictAgeAndGender's (index 0 = male)

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.errors import DataError
from bench.judges.faceapi.agegender import GENDERS, AgeGenderNet, max_pool_same
from bench.judges.faceapi.nets import load_tfjs
from bench.judges.faceapi.node import PARITY_CROPS, run_on_crop
from bench.judges.faceapi.preprocess import face_input
from bench.judges.faceapi.tfjs import load_weights


@pytest.fixture(scope="module")
def net(faceapi_weights) -> AgeGenderNet:
    return AgeGenderNet.from_folder(faceapi_weights / "model")


@pytest.fixture(scope="module", params=[(c, b) for c in PARITY_CROPS for b in ("cpu", "wasm")],
                ids=lambda p: "-".join(p))
def node_run(request, faceapi_weights, tmp_path_factory):
    """face-api's age/gender outputs on one crop and backend, with the crop's pixels."""
    crop, backend = request.param
    pixels, ref, meta = run_on_crop("agegender.js", faceapi_weights, crop, backend,
                                    tmp_path_factory.mktemp(f"agegender-{crop}-{backend}"))
    assert meta["backend"] == backend
    return backend, pixels, ref, meta["prediction"]


def test_age_gender_net_matches_face_api(node_run, net):
    backend, pixels, ref, prediction = node_run
    with torch.no_grad():
        x = face_input(pixels)
        features = net.features(x).permute(0, 2, 3, 1)  # NHWC (1, 7, 7, 512), as tfjs
        age, logits = net(x)  # (1,), (1, 2)
        _, probabilities = net.predict(x)
    scale = np.abs(ref["features"]).max()
    assert np.abs(features.numpy() - ref["features"]).max() <= 1e-5 * scale, backend
    assert np.abs(age.numpy() - ref["age"]).max() <= 1e-4, backend
    assert np.abs(logits.numpy() - ref["gender_logits"]).max() <= 5e-5, backend
    assert np.abs(probabilities.numpy() - ref["gender_probabilities"]).max() <= 1e-5, backend
    # predictAgeAndGender: {age, gender: 'male' if p[0] > 0.5, genderProbability of that gender}
    assert abs(age.item() - prediction["age"]) <= 1e-4
    assert GENDERS[int(probabilities.argmax())] == prediction["gender"]
    assert abs(probabilities.max().item() - prediction["genderProbability"]) <= 1e-5


def test_max_pool_same_ignores_padding():
    x = -torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # all negative: a zero pad would win
    pooled = max_pool_same(x, 3, 2)  # even input: pad 0 before, 1 after (-inf)
    assert pooled.shape == (1, 1, 2, 2)
    assert pooled[0, 0].tolist() == [[-1.0, -3.0], [-9.0, -11.0]]


def test_batch_like_single_crops(net):
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((90, 60, 3), (40, 70, 3))]
    with torch.no_grad():
        age, probabilities = net.predict(face_input(crops))
        for i, crop in enumerate(crops):
            one_age, one_probabilities = net.predict(face_input(crop))
            assert abs(age[i].item() - one_age.item()) <= 1e-4
            assert torch.allclose(probabilities[i], one_probabilities[0], atol=1e-6)


def test_other_weights_are_refused(faceapi_weights):
    weights = load_weights(faceapi_weights / "model", "face_expression_model")
    with pytest.raises(DataError, match=r"weights do not fit AgeGenderNet: missing \['entry_flow/conv_in/bias'"):
        load_tfjs(AgeGenderNet(), weights, "face_expression_model")
