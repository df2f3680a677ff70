"""face-api's input protocol for its face-crop networks, as its tensor path in Node runs it (NetInput.toBatchTensor,
`dom/NetInput.ts:122-152`, then `ops/normalize.ts`):

    1. pad to a square with zeros: `Math.round(diff / 2)` rows/columns appended (bottom/right), the rest prepended
       (`ops/padToSquare.ts`, isCenterImage = true)
    2. TF1's legacy bilinear resize to size x size (alignCorners = false, halfPixelCenters = false: src = dst * in/out,
       no half-pixel offset, no antialiasing); torch's `interpolate` does not match it
    3. subtract the per-channel RGB mean, divide by 255 (all float32)

`face_input` is the one function that does it; the resize is written out as tfjs's cpu kernel computes it
(`tfjs-backend-cpu/dist/kernels/ResizeBilinear.js`: JS doubles, one rounding to float32).
"""

from __future__ import annotations

import math

import numpy as np
import torch

MEAN_RGB = (122.782, 117.001, 104.298)  # the face nets' mean (expression, landmarks, age/gender, recognition)


def pad_to_square(image: torch.Tensor) -> torch.Tensor:
    """(H, W, C) float32 -> (S, S, C), S = max(H, W): the extra rows/columns half after, half before the image,
    the odd one after (JS Math.round(diff * 0.5) rounds halves up)."""
    h, w = image.shape[:2]
    diff = abs(h - w)
    after = math.floor(diff * 0.5 + 0.5)
    before = diff - after
    if h > w:  # pad columns
        return torch.nn.functional.pad(image, (0, 0, before, after))
    return torch.nn.functional.pad(image, (0, 0, 0, 0, before, after))


def _source_index(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TF legacy bilinear sampling along one axis: (low index, high index, fraction), fraction in float64."""
    src = (n_in / n_out) * torch.arange(n_out, dtype=torch.float64)  # the ratio in double, as JS computes it
    low = src.floor().clamp(min=0)
    high = src.ceil().clamp(max=n_in - 1)
    return low.long(), high.long(), src - low


def resize_bilinear_legacy(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """tf.image.resizeBilinear(images, size, alignCorners=false, halfPixelCenters=false) on (B, H, W, C) float32 ->
    (B, h, w, C) float32, bit-identical to tfjs's cpu backend."""
    _, h_in, w_in, _ = images.shape
    r0, r1, fr = _source_index(h_in, size[0])
    c0, c1, fc = _source_index(w_in, size[1])
    x = images.double()
    fc = fc[None, None, :, None]
    top = x[:, r0][:, :, c0] + (x[:, r0][:, :, c1] - x[:, r0][:, :, c0]) * fc  # (B, h, w, C)
    bottom = x[:, r1][:, :, c0] + (x[:, r1][:, :, c1] - x[:, r1][:, :, c0]) * fc
    return (top + (bottom - top) * fr[None, :, None, None]).float()


def _pad_after(pixels: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) -> (S, S, 3), S = max(H, W): zero rows or columns after the image (the detector's padding)."""
    h, w = pixels.shape[:2]
    return torch.nn.functional.pad(pixels, (0, 0, 0, max(h, w) - w, 0, max(h, w) - h))


def _squares(images: list[np.ndarray] | np.ndarray, size: int, pad, who: str) -> torch.Tensor:
    """uint8 RGB images (H, W, 3), or one such array -> (B, size, size, 3) float32: each padded to a square by
    `pad`, then legacy-bilinear resized to `size` (unless it is that size already)."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    batch = []
    for i, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
            raise ValueError(f"{who}: image {i} must be uint8 RGB (H, W, 3), got {image.dtype} {image.shape}")
        square = pad(torch.from_numpy(np.require(image, requirements=("C", "W"))).float())[None]  # (1, S, S, 3)
        if square.shape[1] != size:
            square = resize_bilinear_legacy(square, (size, size))
        batch.append(square)
    return torch.cat(batch)


def face_input(images: list[np.ndarray] | np.ndarray, size: int = 112, mean_rgb: tuple[float, float, float] = MEAN_RGB,
               divisor: float = 255.0) -> torch.Tensor:
    """Face crops, each uint8 RGB (H, W, 3) of any size -> the network input (B, 3, size, size) float32, NCHW:
    pad each to a square (centered), legacy-bilinear resize to `size` (unless it is that size already), then
    (x - mean_rgb) / divisor. One image (a single (H, W, 3) array) gives B = 1."""
    x = _squares(images, size, pad_to_square, "face_input")  # (B, size, size, 3) float32
    x = (x - torch.tensor(mean_rgb, dtype=torch.float32)) / torch.tensor(divisor, dtype=torch.float32)
    return x.permute(0, 3, 1, 2).contiguous()  # (B, 3, size, size)


def detector_input(images: list[np.ndarray] | np.ndarray, size: int = 512) -> torch.Tensor:
    """The SSD MobileNetV1 detector's input protocol (`SsdMobilenetv1.ts:25-26`: toBatchTensor(size, false), then
    x / 127.5 - 1): images, each uint8 RGB (H, W, 3) of any size -> (B, 3, size, size) float32, NCHW. Each image is
    zero-padded to a square with all the padding after it (bottom rows or right columns), legacy-bilinear resized
    to `size` (unless it is that size already), then divided by 127.5, minus 1. One image (H, W, 3) gives B = 1."""
    x = _squares(images, size, _pad_after, "detector_input") / 127.5 - 1  # (B, size, size, 3): two float32 ops, as tfjs
    return x.permute(0, 3, 1, 2).contiguous()  # (B, 3, size, size)


def tiny_detector_input(images: list[np.ndarray] | np.ndarray, size: int = 416,
                        mean_rgb: tuple[float, float, float] = (117.001, 114.697, 97.404)) -> torch.Tensor:
    """The tiny face detector's input protocol (`TinyYolov2Base.ts:93-97`: toBatchTensor(size, false), minus the
    detector's MEAN_RGB, / 255): images, each uint8 RGB (H, W, 3) of any size -> (B, 3, size, size) float32, NCHW.
    Zero-padded after the image to a square (as `detector_input`), legacy-bilinear resized to `size` (unless it is
    that size already), then (x - mean_rgb) / 255. One image (H, W, 3) gives B = 1."""
    x = _squares(images, size, _pad_after, "tiny_detector_input")  # (B, size, size, 3) float32
    x = (x - torch.tensor(mean_rgb, dtype=torch.float32)) / torch.tensor(255.0, dtype=torch.float32)
    return x.permute(0, 3, 1, 2).contiguous()  # (B, 3, size, size)
