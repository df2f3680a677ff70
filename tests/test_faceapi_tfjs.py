"""TF.js weight decoding in numpy (bench/judges/faceapi/tfjs.py) against tfjs's own `tf.io.decodeWeights` running in
Node: every tensor of the 7 face-api models and a synthetic manifest that uses what face-api does not (uint16 and
float16 quantization, quantized int32 with halves to round, bool, scalars, two groups, two shards) must come out
bit-identical. Bad manifests get one error naming the file and the weight.

Needs Node and `npm ci --prefix tools/faceapi-node --ignore-scripts`; without them these tests fail saying so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import DataError
from bench.judges.faceapi.node import read_dump, run_node
from bench.judges.faceapi.tfjs import MODELS, load_weights, manifest_path


def tfjs_decode(out: Path, manifests: list[Path]) -> dict[str, dict[str, np.ndarray]]:
    """{manifest stem: {name: array}} as tfjs decodes them."""
    run_node("decode_weights.js", out, *manifests)
    return {m.stem: read_dump(out, m.stem) for m in manifests}


def assert_identical(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], where: str) -> None:
    assert list(ours) == list(ref), where  # same names, same (manifest) order
    for name, arr in ours.items():
        assert (arr.dtype, arr.shape) == (ref[name].dtype, ref[name].shape), (where, name)
        assert arr.tobytes() == ref[name].tobytes(), (where, name)  # bit-identical, NaN and -0.0 included


def test_all_face_api_models_decode_like_tfjs(faceapi_weights, tmp_path):
    model_dir = faceapi_weights / "model"
    ref = tfjs_decode(tmp_path, [manifest_path(model_dir, m) for m in MODELS])
    total = 0
    for model in MODELS:
        ours = load_weights(model_dir, model)
        assert_identical(ours, ref[f"{model}-weights_manifest"], model)
        total += len(ours)
    assert total == 464  # every tensor of the 7 manifests


def write_model(folder: Path, groups: list[tuple[list[dict], list[bytes]]], stem: str = "synthetic") -> Path:
    """A manifest `<stem>-weights_manifest.json` with one group per (specs, shard bytes) pair."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for g, (specs, shards) in enumerate(groups):
        paths = [f"{stem}-g{g}-shard{i}" for i in range(len(shards))]
        for path, data in zip(paths, shards):
            (folder / path).write_bytes(data)
        manifest.append({"paths": paths, "weights": specs})
    path = manifest_path(folder, stem)
    path.write_text(json.dumps(manifest))
    return path


def synthetic_groups() -> list[tuple[list[dict], list[bytes]]]:
    rng = np.random.default_rng(0)
    u16 = rng.integers(0, 65536, size=(3, 5), dtype=np.uint16)
    u8 = np.arange(256, dtype=np.uint8)  # * 0.5 - 3: every half from -3 to 124.5, to round as Math.round does
    f16 = np.array([0, -0.0, 1e-7, 6e-8, -65504, np.inf, 0.333, 1.5e-5], dtype=np.float16)  # subnormals, inf
    raw_f32 = rng.standard_normal(7).astype(np.float32)
    raw_i32 = np.array([-(2**31), -1, 0, 7, 2**31 - 1], dtype=np.int32)
    flags = np.array([1, 0, 1], dtype=np.uint8)
    specs0 = [
        {"name": "a/u16", "shape": [3, 5], "dtype": "float32",
         "quantization": {"dtype": "uint16", "scale": 3.0517578125e-05 * 0.7, "min": -1.2345678}},
        {"name": "a/u8_int", "shape": [256], "dtype": "int32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -3}},
        {"name": "a/f16", "shape": [2, 4], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "a/u8_scalar", "shape": [], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.1, "min": 0.30000001}},
    ]
    blob0 = u16.astype("<u2").tobytes() + u8.tobytes() + f16.astype("<f2").tobytes() + bytes([77])
    specs1 = [
        {"name": "b/f32", "shape": [7], "dtype": "float32"},
        {"name": "b/i32", "shape": [5], "dtype": "int32"},
        {"name": "b/flags", "shape": [3], "dtype": "bool"},
    ]
    blob1 = raw_f32.astype("<f4").tobytes() + raw_i32.astype("<i4").tobytes() + flags.tobytes()
    return [(specs0, [blob0[:100], blob0[100:]]), (specs1, [blob1])]  # group 0 split over two shards mid-tensor


@pytest.mark.node  # runs tfjs in Node (tools/faceapi-node), without the fetched weights
def test_synthetic_manifest_decodes_like_tfjs(tmp_path):
    path = write_model(tmp_path / "model", synthetic_groups())
    ref = tfjs_decode(tmp_path / "out", [path])[path.stem]
    ours = load_weights(tmp_path / "model", "synthetic")
    assert_identical(ours, ref, "synthetic")
    assert ours["a/u8_int"][:4].tolist() == [-3, -2, -2, -1]  # Math.round(-2.5) = -2, Math.round(-1.5) = -1


@pytest.mark.parametrize("change, message", [
    (lambda g: g[1][1].__setitem__(0, g[1][1][0][:-1]), "weight 'b/flags': needs bytes 48..51, the shards hold 50"),
    (lambda g: g[1][1].__setitem__(0, g[1][1][0] + b"x"), "the weights use 51 bytes, the shards hold 52"),
    (lambda g: g[0][0][0]["quantization"].__setitem__("dtype", "int4"), "'a/u16': quantization dtype 'int4'"),
    (lambda g: g[0][0][0]["quantization"].pop("min"), "'a/u16': uint16 quantization needs `scale` and `min`"),
    (lambda g: g[1][0][0].__setitem__("dtype", "string"), "weight 'b/f32': needs a name, a shape list and a dtype"),
    (lambda g: g[1][0].append(dict(g[1][0][0])), "weight 'b/f32': needs bytes"),
])
def test_bad_manifests_are_refused_by_file_and_weight(tmp_path, change, message):
    groups = synthetic_groups()
    change(groups)
    path = write_model(tmp_path, groups)
    with pytest.raises(DataError, match=re.escape(message)) as e:
        load_weights(tmp_path, "synthetic")
    assert str(path) in str(e.value)


def test_shards_must_lie_beside_the_manifest(tmp_path):
    path = write_model(tmp_path / "model", synthetic_groups())
    manifest = json.loads(path.read_text())
    manifest[1]["paths"] = ["../elsewhere.bin"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="shard '../elsewhere.bin' is not a file beside the manifest"):
        load_weights(tmp_path / "model", "synthetic")


def test_missing_node_or_packages_fail_saying_what_to_install(tmp_path, monkeypatch):
    from bench.core.errors import MissingWeights
    from bench.judges.faceapi import node

    (tmp_path / "decode_weights.js").write_text("")
    monkeypatch.setattr(node, "NODE_DIR", tmp_path)  # a checkout without node_modules
    with pytest.raises(MissingWeights, match=re.escape("run `npm ci --prefix tools/faceapi-node --ignore-scripts`")):
        run_node("decode_weights.js", tmp_path)
    monkeypatch.setattr(node.shutil, "which", lambda name: None)
    with pytest.raises(MissingWeights, match="node is not on PATH.*npm ci --prefix tools/faceapi-node"):
        run_node("decode_weights.js", tmp_path)
