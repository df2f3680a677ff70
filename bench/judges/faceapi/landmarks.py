"""face-api's 68-point face landmark nets (`faceLandmarkNet/`) as torch modules, with face-api's post-processing.

    FaceLandmark68Net      the 112 px feature extractor (4 dense blocks of 4 convs, avgPool 7) + fc 256 -> 136
    FaceLandmark68TinyNet  the tiny extractor (3 dense blocks of 3 convs, avgPool 14) + fc 128 -> 136

Both take `preprocess.face_input` of a face crop and return the raw (B, 136) output, interleaved [x0, y0, x1, y1, ...]
and relative to the 112 px padded square. `relative_landmarks` undoes the centering pad as face-api's `postProcess`
does (`FaceLandmark68NetBase.ts:14-50`, float32 ops; the pad is taken as |w - h| / 2 unrounded, while the input
padding put round(diff / 2) after the image: a <= half-pixel quirk of face-api, copied), and `crop_points` scales to
crop pixels in float64 as `FaceLandmarks` does (`classes/FaceLandmarks.ts:35-37`). The pipeline would then shift by the
detection box's unfloored origin; that belongs to the caller. Points follow the iBUG-68 order (jaw 0-16, brows
17-26, nose 27-35, eyes 36-47, mouth 48-67).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.judges.faceapi.nets import FaceApiNet, FaceFeatureExtractor, FeatureExtractorConfig, FullyConnected
from bench.judges.faceapi.preprocess import face_input

N_POINTS = 68
INPUT_SIZE = 112
TINY_FEATURES = FeatureExtractorConfig(channels=(32, 64, 128), convs_per_block=3, pool=14)  # TinyFaceFeatureExtractor


class FaceLandmark68NetBase(FaceApiNet):
    """A 68-point net (`FaceLandmark68NetBase.ts`): a feature extractor (`FEATURES`) + fc -> 136 raw outputs."""

    FEATURES: FeatureExtractorConfig

    def __init__(self):
        super().__init__()
        self.features = FaceFeatureExtractor(self.FEATURES)
        self.fc = FullyConnected(self.FEATURES.channels[-1], 2 * N_POINTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))  # (B, 136)

    def points(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Face crops (uint8 RGB (H, W, 3) each, as `face_input` takes) -> (B, 68, 2) float64 (x, y) points in each
        crop's pixel coordinates, as face-api's `detectLandmarks(crop).positions`."""
        if isinstance(crops, np.ndarray) and crops.ndim == 3:
            crops = [crops]
        sizes = [crop.shape[:2] for crop in crops]
        with torch.no_grad():
            raw = self.forward(face_input(crops, INPUT_SIZE))
        return crop_points(relative_landmarks(raw, sizes), sizes)


class FaceLandmark68Net(FaceLandmark68NetBase):
    """The full 68-point net: (B, 3, 112, 112) from `face_input` -> (B, 136) raw output (no activation)."""

    MODEL = "face_landmark_68_model"
    FEATURES = FeatureExtractorConfig()


class FaceLandmark68TinyNet(FaceLandmark68NetBase):
    """The tiny 68-point net: (B, 3, 112, 112) from `face_input` -> (B, 136) raw output (no activation)."""

    MODEL = "face_landmark_68_tiny_model"
    FEATURES = TINY_FEATURES


def relative_landmarks(raw: torch.Tensor, sizes: list[tuple[int, int]], input_size: int = INPUT_SIZE) -> torch.Tensor:
    """Raw (B, 136) outputs for crops of `sizes` (height, width) -> (B, 68, 2) float32 (x, y) relative to each crop
    (0..1 inside it): (raw * input_size - pad) / scaled size, all in float32 as tfjs computes it."""
    if raw.ndim != 2 or raw.shape[1] != 2 * N_POINTS or len(sizes) != raw.shape[0]:
        raise ValueError(f"relative_landmarks: raw must be (B, {2 * N_POINTS}) with one size per row, got "
                         f"{tuple(raw.shape)} and {len(sizes)} sizes")
    pads, dims = [], []
    for height, width in sizes:
        scale = input_size / max(height, width)  # JS doubles
        w, h = width * scale, height * scale
        pads.append((abs(w - h) / 2 if w < h else 0.0, abs(w - h) / 2 if h < w else 0.0))
        dims.append((w, h))
    pad = torch.tensor(pads, dtype=torch.float32)[:, None, :]  # (B, 1, 2): tf.fill rounds to float32
    dim = torch.tensor(dims, dtype=torch.float32)[:, None, :]
    xy = raw.float().reshape(-1, N_POINTS, 2)  # interleaved x, y
    return (xy * torch.tensor(float(input_size)) - pad) / dim


def crop_points(relative: torch.Tensor, sizes: list[tuple[int, int]]) -> np.ndarray:
    """(B, 68, 2) relative points -> (B, 68, 2) float64 crop pixels: relative * (width, height) in JS doubles."""
    wh = np.array([(width, height) for height, width in sizes], dtype=np.float64)[:, None, :]
    return relative.detach().cpu().numpy().astype(np.float64) * wh
