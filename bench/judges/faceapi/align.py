"""Face alignment: five points from face-api's 68 landmarks, the similarity transform that takes them onto a canonical
template (least squares, Umeyama 1991), and the warp that cuts the aligned square crop.

    five points   left-eye centre (mean of 36-41), right-eye centre (mean of 42-47), nose tip (30), mouth corners (48,
                  54), "left" meaning the image's left, the order of the template
    template      ArcFace's 112 x 112 five-point template (insightface `utils/face_align.py`, `arcface_dst`), the
                  de facto standard for face crops; for a crop of `size` px it is scaled by size / 112
    transform     `similarity(src, dst)`: the rotation + uniform scale + translation minimising the summed squared
                  distance (Umeyama's closed form, no reflection), as a (2, 3) matrix mapping src points to dst
    warp          `warp(image, matrix, size)`: each output pixel (u, v) samples the input bilinearly at
                  matrix^-1 (u, v); pixel centres at integer coordinates (OpenCV's `warpAffine` convention, which the
                  template assumes); outside the image is black. Only the input region the crop can reach is
                  converted to float, so a 20-megapixel photo costs no more than a small one.

Coordinates are (x, y) image pixels, float64 for points and matrices.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: ArcFace's 112 px template: (x, y) of left eye, right eye, nose tip, left and right mouth corner.
TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                         [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = range(36, 42), range(42, 48), 30, 48, 54


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(..., 68, 2) landmarks -> (..., 5, 2) float64 points in the template's order."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"five_points: expected (..., 68, 2) landmarks, got {lm.shape}")
    return np.stack([lm[..., list(LEFT_EYE), :].mean(-2), lm[..., list(RIGHT_EYE), :].mean(-2),
                     lm[..., NOSE_TIP, :], lm[..., MOUTH_LEFT, :], lm[..., MOUTH_RIGHT, :]], axis=-2)


def template(size: int) -> np.ndarray:
    """(5, 2) the canonical points for a size x size crop."""
    if size < 16:
        raise ValueError(f"alignment crop size must be at least 16 px, not {size}")
    return TEMPLATE_112 * (size / 112.0)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(N, 2) src, (N, 2) dst -> (2, 3) [s R | t] with s R src + t closest to dst in least squares (Umeyama)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    var_s = (sc ** 2).sum(1).mean()
    if not np.isfinite(var_s) or var_s <= 0:
        raise ValueError("similarity: the source points are not finite or all coincide")
    u, sing, vt = np.linalg.svd(dc.T @ sc / len(src))
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ np.diag(d) @ vt
    scale = (sing * d).sum() / var_s
    return np.concatenate([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]], axis=1)


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) image, (2, 3) matrix image -> crop -> (size, size, 3) uint8 crop (bilinear, black outside)."""
    a, t = matrix[:, :2], matrix[:, 2]
    inv = np.linalg.inv(a)
    grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64)), -1)
    src = (grid.reshape(-1, 2) - t) @ inv.T  # (size*size, 2) input (x, y) of each output pixel
    h, w = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(v)) - 1) for v in src.min(0))
    x1, y1 = min(w, int(np.ceil(src[:, 0].max())) + 2), min(h, int(np.ceil(src[:, 1].max())) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the crop lies wholly outside the image
        return np.zeros((size, size, 3), np.uint8)
    region = torch.from_numpy(np.require(image[y0:y1, x0:x1], requirements=("C", "W"))).permute(2, 0, 1)[None].float()
    rw, rh = x1 - x0, y1 - y0
    norm = np.stack([(src[:, 0] - x0) * 2 / (rw - 1) - 1, (src[:, 1] - y0) * 2 / (rh - 1) - 1], -1)
    grid_t = torch.from_numpy(norm.reshape(1, size, size, 2)).float()
    out = F.grid_sample(region, grid_t, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def align(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> tuple[np.ndarray, np.ndarray]:
    """One face: uint8 (H, W, 3) image and its (68, 2) landmarks -> ((size, size, 3) uint8 aligned crop, (2, 3)
    matrix image -> crop)."""
    matrix = similarity(five_points(landmarks), template(size))
    return warp(image, matrix, size), matrix
