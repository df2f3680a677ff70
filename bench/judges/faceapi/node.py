"""face-api itself, running in Node: the reference the torch port is checked against (tests, parity reports).

The scripts live in the repository's `tools/faceapi-node/` (exact versions pinned in its package-lock.json; install
with `npm ci --prefix tools/faceapi-node --ignore-scripts`). They write arrays as a dump (`<name>.bin` + `<name>.json`,
see `tools/faceapi-node/dump.js`), which `read_dump` turns back into numpy arrays. `run_on_crop` runs a per-net script
on one of the fixed `PARITY_CROPS` and returns the crop's pixels (as face-api saw them) with the script's outputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from bench.core.errors import DataError, MissingWeights
from bench.core.paths import PACKAGE

NODE_DIR = PACKAGE.parent / "tools" / "faceapi-node"  # in a clone of the repository (not in an installed wheel)
INSTALL_COMMAND = "npm ci --prefix tools/faceapi-node --ignore-scripts"
_DTYPES = {"float64": "<f8", "float32": "<f4", "int32": "<i4", "uint8": "u1", "bool": "u1"}


def run_node(script: str, *args: str | Path, timeout: float = 600) -> str:
    """Run `tools/faceapi-node/<script>` with `args`; its stdout. Missing Node or packages -> MissingWeights saying
    what to install; a failing script -> RuntimeError with its stderr."""
    node = shutil.which("node")
    if node is None:
        raise MissingWeights(f"node is not on PATH: install Node.js (>= 18), then run `{INSTALL_COMMAND}` in the "
                             f"repository root")
    if not (NODE_DIR / script).is_file():
        raise MissingWeights(f"{NODE_DIR / script} is missing: the Node reference needs a clone of the repository")
    if not (NODE_DIR / "node_modules" / "@vladmandic" / "face-api").is_dir():
        raise MissingWeights(f"{NODE_DIR / 'node_modules'} lacks the pinned packages: run `{INSTALL_COMMAND}` in "
                             f"the repository root")
    done = subprocess.run([node, script, *map(str, args)], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"node {script} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def read_dump(folder: str | Path, name: str) -> dict[str, np.ndarray]:
    """The arrays a Node script wrote as `<folder>/<name>.{json,bin}`."""
    index_path, data_path = Path(folder) / f"{name}.json", Path(folder) / f"{name}.bin"
    index, data = json.loads(index_path.read_text()), data_path.read_bytes()
    out = {}
    for key, entry in index.items():
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        if count * dtype.itemsize != entry["nbytes"] or entry["offset"] + entry["nbytes"] > len(data):
            raise DataError(index_path, f"{key}: shape {entry['shape']} does not fit {entry['nbytes']} bytes at "
                                        f"{entry['offset']}")
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=entry["offset"]).reshape(entry["shape"])
        out[key] = arr.astype(bool) if entry["dtype"] == "bool" else arr.astype(dtype.newbyteorder("="))
    return out


# The fixed face crops every parity test runs on: name -> (demo image, rect "x,y,w,h" in its pixels).
PARITY_CROPS = {
    "sample1-face0": ("sample1.jpg", "413,355,177,238"),  # SSD face 0 of sample1 (floored), taller than wide, odd diff
    "sample2-wide": ("sample2.jpg", "700,300,203,150"),  # wider than tall: rows padded
}


def run_on_crop(script: str, weights_dir: str | Path, crop: str, backend: str,
                out: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """Run a per-net script (`landmarks.js`, `agegender.js`: MODEL_DIR IMAGE RECT BACKEND OUT) on the parity crop
    `crop` -> (the crop's pixels as face-api saw them, uint8 (H, W, 3); the script's arrays; its `<name>_meta.json`)."""
    image, rect = PARITY_CROPS[crop]
    weights_dir, out, name = Path(weights_dir), Path(out), Path(script).stem
    run_node(script, weights_dir / "model", weights_dir / "demo" / image, rect, backend, out)
    meta = json.loads((out / f"{name}_meta.json").read_text())
    pixels = np.fromfile(out / "crop.rgb", dtype=np.uint8).reshape(meta["crop_shape"])
    return pixels, read_dump(out, name), meta


def run_on_images(script: str, weights_dir: str | Path, args: list[str], specs: dict[str, str],
                  out: str | Path) -> tuple[dict, dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]]:
    """Run a whole-image script (`detect.js`, `tinydetect.js`: MODEL_DIR BACKEND ARGS... OUT NAME=SPEC ...) ->
    (its `<script>_meta.json`, {name: (the image's pixels as face-api saw them, uint8 (H, W, 3); its arrays)}).
    `args` start with the backend; a SPEC is a file under the demo folder (optionally `@X,Y,W,H`) or `flat:W,H,V`."""
    weights_dir, out, name = Path(weights_dir), Path(out), Path(script).stem
    run_node(script, weights_dir / "model", *args, out,
             *[f"{k}={v if v.startswith('flat:') else weights_dir / 'demo' / v}" for k, v in specs.items()])
    meta = json.loads((out / f"{name}_meta.json").read_text())
    runs = {k: (np.fromfile(out / f"{k}.rgb", dtype=np.uint8).reshape(meta["images"][k]["shape"]), read_dump(out, k))
            for k in specs}
    return meta, runs


def run_pipeline(weights_dir: str | Path, images: dict[str, str | Path], out: str | Path,
                 backend: str = "wasm") -> tuple[dict, dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]]:
    """face-api's whole chain (`pipeline.js`) on JPEG files {name: path} -> (its meta: backend and per image shape,
    faces and the chain's `ms`; {name: (the pixels jpeg-js decoded, uint8 (H, W, 3); face-api's arrays)})."""
    out = Path(out)
    run_node("pipeline.js", Path(weights_dir) / "model", backend, out, *[f"{k}={v}" for k, v in images.items()])
    meta = json.loads((out / "pipeline_meta.json").read_text())
    if meta["backend"] != backend:
        raise RuntimeError(f"pipeline.js ran on {meta['backend']}, not {backend}")
    return meta, {k: (np.fromfile(out / f"{k}.rgb", dtype=np.uint8).reshape(meta["images"][k]["shape"]),
                      read_dump(out, k)) for k in images}


#: The outputs compared between our chain and face-api's (report order) and the largest |ours - face-api's| each may
#: show (pixels for boxes and points, years for age, probabilities otherwise): tests/test_faceapi_pipeline.py and the
#: face-judge report (bench/judges/faceapi/parity.py) both hold the port to these.
CHAIN_TOLERANCES = {"box": 2e-3, "score": 1e-5, "landmarks": 2e-3, "aligned_box": 2e-3, "descriptor": 5e-6,
                    "age": 5e-4, "gender_probability": 1e-5, "expressions": 1e-5}
CHAIN_OUTPUTS = tuple(CHAIN_TOLERANCES)


def chain_differences(face, ref: dict[str, np.ndarray], k: int) -> dict[str, float]:
    """|ours - face-api's| (max over its values) per output in CHAIN_OUTPUTS for our `pipeline.Face` `face` and
    face k of `pipeline.js`'s arrays `ref`."""
    from bench.judges.faceapi.nets import EXPRESSIONS

    return {
        "box": float(np.abs(np.array(face.box) - ref["detections"][k, :4]).max()),
        "score": abs(face.score - float(ref["detections"][k, 4])),
        "landmarks": float(np.abs(face.landmarks - ref["landmarks"][k]).max()),
        "aligned_box": float(np.abs(np.array(face.aligned_box) - ref["aligned"][k]).max()),
        "descriptor": float(np.abs(face.descriptor - ref["descriptor"][k]).max()),
        "age": abs(face.age - float(ref["age"][k])),
        "gender_probability": abs(face.gender_probability - float(ref["gender_probability"][k])),
        "expressions": float(np.abs(np.array([face.expressions[e] for e in EXPRESSIONS])
                                    - ref["expressions"][k]).max()),
    }
