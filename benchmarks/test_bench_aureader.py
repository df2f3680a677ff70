"""The blendshapes AU reader (MediaPipe's Face Landmarker, bench/judges/blendshapes) on 128 px aligned face crops,
beside face-api's chain (our torch port: landmarks, expression, age/gender, descriptor; `detect=False`, as the faces
judge reads imported crops) on the same crops in the same run.

The crops are the first N_CROPS human faces face-api finds in the shipped photos (bench.data.photos, in table order),
aligned as `augen import` aligns them, made once before timing. The reader's round reads every crop (landmarker built
and warmed up before); face-api's chain is timed the same way, and the reader's benchmark also records the ratio of
the two mean times per face, timed in that test, as `speed_vs_faceapi_chain` (>1: the reader is faster).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from bench.data.photos import fetch_photos, photos
from bench.judges.blendshapes.fetch import fetch_blendshapes, task_file
from bench.judges.blendshapes.runtime import shared_landmarker
from bench.judges.faceapi.pipeline import shared_pipeline

SIZE = 128
N_CROPS = 16  # face-api's chain takes about 0.3-0.5 s a crop on 2 cores: 16 keep this file near a minute
GROUP = "au-reader-crops-128"


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """(N_CROPS, 128, 128, 3) uint8: the shipped photos' first human faces, aligned."""
    from bench.judges.faceapi.align import align

    fetch_photos(log=lambda _msg: None)
    fetch_blendshapes(log=lambda _msg: None)
    pipe, out = shared_pipeline(), []
    for photo in photos():
        if photo.faces == 0:
            continue
        image = np.asarray(Image.open(photo.path).convert("RGB"))
        out += [align(image, face.landmarks, SIZE)[0] for face in pipe.locate([image], 0.5)[0]]
    return np.stack(out[:N_CROPS])


def _faceapi_chain(crops: np.ndarray):
    return shared_pipeline().analyse(list(crops), detect=False)


def _mean_s(fn, arg, rounds: int = 1) -> float:
    fn(arg)  # warm-up
    t = time.perf_counter()
    for _ in range(rounds):
        fn(arg)
    return (time.perf_counter() - t) / rounds


@pytest.mark.benchmark(group=GROUP)
def test_blendshapes_reader_crops_128(benchmark, crops):
    reader = shared_landmarker(task_file())
    out = benchmark.pedantic(reader, args=(crops,), rounds=3, warmup_rounds=1)
    assert out["found"].sum() >= len(crops) - 1
    faceapi_s = _mean_s(_faceapi_chain, crops)
    reader_s = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        items=len(crops), unit="face", baseline="test_faceapi_chain_crops_128", found=int(out["found"].sum()),
        ms_per_face=round(1000 * reader_s / len(crops), 2),
        faceapi_chain_ms_per_face=round(1000 * faceapi_s / len(crops), 2),
        speed_vs_faceapi_chain=round(faceapi_s / reader_s, 3),
        what="MediaPipe Face Landmarker (detector, 478 landmarks, 52 blendshapes) per crop vs face-api's chain "
             "(torch port, detect=False) on the same crops, timed in this test")


@pytest.mark.benchmark(group=GROUP)
def test_faceapi_chain_crops_128(benchmark, crops):
    faces = benchmark.pedantic(_faceapi_chain, args=(crops,), rounds=1, warmup_rounds=1)
    assert len(faces) == len(crops)
    benchmark.extra_info.update(items=len(crops), unit="face")
