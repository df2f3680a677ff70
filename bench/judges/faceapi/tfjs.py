"""TF.js weight files in pure numpy: a `<model>-weights_manifest.json` plus its `.bin` shard(s) -> {name: array},
decoded as tfjs-core 4.22.0's `tf.io.decodeWeights` does (`tfjs-core/dist/io/io_utils.js`, `decodeWeight`):

    raw float32 / int32 / bool        the little-endian bytes as they are
    uint8 / uint16 quantized float32  float32(q * scale + min), computed in float64 (JS numbers) then rounded once
    uint8 / uint16 quantized int32    Math.round(q * scale + min) (halves round up)
    float16 quantized float32         the half floats widened (exact)

Arrays keep the TF layouts (conv [kh, kw, in, out], depthwise [kh, kw, in, 1], dense [in, out]); the networks
transpose them when they load. A manifest is a list of groups; each group's shards are concatenated and its tensors
lie back to back in manifest order, and the bytes must add up exactly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bench.core.errors import DataError

MODELS = (  # the 7 networks face-api 1.7.15 ships, by file stem
    "age_gender_model",
    "face_expression_model",
    "face_landmark_68_model",
    "face_landmark_68_tiny_model",
    "face_recognition_model",
    "ssd_mobilenetv1_model",
    "tiny_face_detector_model",
)
_RAW = {"float32": "<f4", "int32": "<i4", "bool": "u1"}  # stored dtype -> numpy dtype
_QUANT = {"uint8": "u1", "uint16": "<u2", "float16": "<f2"}  # quantization dtype -> numpy dtype
_OUT = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def manifest_path(model_dir: str | Path, model: str) -> Path:
    return Path(model_dir) / f"{model}-weights_manifest.json"


def _decode_one(spec: dict, buf: bytes, offset: int, where: Path) -> tuple[np.ndarray, int]:
    """One tensor from `buf` at `offset` -> (array in its manifest shape and dtype, bytes consumed)."""
    name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
    if not isinstance(name, str) or not isinstance(shape, list) or dtype not in _OUT:
        raise DataError(where, f"weight {name!r}: needs a name, a shape list and a dtype in {sorted(_OUT)}, "
                               f"has dtype {dtype!r}, shape {shape!r}")
    count = math.prod(shape)
    quant = spec.get("quantization")
    if quant is not None:
        qdtype = quant.get("dtype")
        if qdtype not in _QUANT:
            raise DataError(where, f"weight {name!r}: quantization dtype {qdtype!r} is not one of {sorted(_QUANT)}")
        if qdtype == "float16" and dtype != "float32":
            raise DataError(where, f"weight {name!r}: float16 quantization needs dtype float32, not {dtype}")
        if qdtype != "float16" and not ("scale" in quant and "min" in quant):
            raise DataError(where, f"weight {name!r}: {qdtype} quantization needs `scale` and `min`")
        if dtype == "bool":
            raise DataError(where, f"weight {name!r}: a quantized bool is not supported by tfjs")
        stored = np.dtype(_QUANT[qdtype])
    else:
        stored = np.dtype(_RAW[dtype])
    nbytes = count * stored.itemsize
    if offset + nbytes > len(buf):
        raise DataError(where, f"weight {name!r}: needs bytes {offset}..{offset + nbytes}, the shards hold "
                               f"{len(buf)}")
    q = np.frombuffer(buf, dtype=stored, count=count, offset=offset)
    if quant is None:
        arr = q.astype(_OUT[dtype])  # a copy, in native byte order
    elif quant["dtype"] == "float16":
        arr = q.astype(np.float32)
    else:
        value = q.astype(np.float64) * float(quant["scale"]) + float(quant["min"])  # JS: double arithmetic
        if dtype == "float32":
            arr = value.astype(np.float32)  # the one rounding, as a Float32Array store
        else:  # Math.round: the nearest integer, halves toward +inf
            low = np.floor(value)
            arr = (low + (value - low >= 0.5)).astype(np.int32)
    return arr.reshape(shape), nbytes


def decode_weights(buf: bytes, specs: list[dict], where: Path) -> dict[str, np.ndarray]:
    """The tensors described by `specs`, stored back to back in `buf` (one group's concatenated shards)."""
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in specs:
        arr, nbytes = _decode_one(spec, buf, offset, where)
        if spec["name"] in out:
            raise DataError(where, f"weight {spec['name']!r} appears twice")
        out[spec["name"]] = arr
        offset += nbytes
    if offset != len(buf):
        raise DataError(where, f"the weights use {offset} bytes, the shards hold {len(buf)}")
    return out


def load_weights(model_dir: str | Path, model: str) -> dict[str, np.ndarray]:
    """Every tensor of `<model_dir>/<model>-weights_manifest.json`, decoded from its shards (TF layouts)."""
    path = manifest_path(model_dir, model)
    if not path.is_file():
        raise DataError(path, "no such weights manifest")
    try:
        groups = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(path, f"not JSON: {e}") from e
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise DataError(path, "a weights manifest is a list of {paths, weights} groups")
    out: dict[str, np.ndarray] = {}
    for i, group in enumerate(groups):
        paths, specs = group.get("paths"), group.get("weights")
        if not isinstance(paths, list) or not isinstance(specs, list):
            raise DataError(path, f"group {i}: needs `paths` and `weights` lists")
        shards = []
        for name in paths:
            shard = path.parent / name
            if Path(name).is_absolute() or ".." in Path(name).parts or not shard.is_file():
                raise DataError(path, f"group {i}: shard {name!r} is not a file beside the manifest")
            shards.append(shard.read_bytes())
        group_weights = decode_weights(b"".join(shards), specs, path)
        twice = sorted(set(out) & set(group_weights))
        if twice:
            raise DataError(path, f"weight {twice[0]!r} appears in two groups")
        out.update(group_weights)
    return out
