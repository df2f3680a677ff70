"""Agreement between two face readers on the same photograph: face boxes matched by IoU, and five landmarks (eye
centres, nose tip, mouth corners) compared as the normalised mean error (NME) of face-alignment papers: the mean
point distance divided by the first reader's inter-ocular distance (the distance between its eye centres).

Pure functions on arrays. Boxes are (x0, y0, x1, y1) in pixels; point sets are (..., 5, 2) in the order left eye
centre, right eye centre, nose tip, left mouth corner, right mouth corner (image left/right, as
`bench.judges.faceapi.align.five_points` returns them).
"""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 4) and (m, 4) boxes -> (n, m) intersection over union; 0 where a box has no area."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])                       # (n, m, 2)
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)                   # (n, m)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(a: np.ndarray, b: np.ndarray, min_iou: float = 0.3) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of reader A's boxes to reader B's by decreasing IoU (ties: lower indices first);
    pairs under `min_iou` are left unmatched. Returns [(i in a, j in b, iou)] sorted by i."""
    iou = box_iou(a, b)
    pairs, used_a, used_b = [], set(), set()
    order = sorted((-iou[i, j], i, j) for i in range(iou.shape[0]) for j in range(iou.shape[1]))
    for neg, i, j in order:
        if -neg < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((i, j, float(-neg)))
            used_a.add(i)
            used_b.add(j)
    return sorted(pairs)


def nme(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(..., 5, 2) reference and other points -> (...) mean point distance / the reference's inter-ocular distance."""
    p, q = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    if p.shape != q.shape or p.shape[-2:] != (5, 2):
        raise ValueError(f"nme: expected two (..., 5, 2) point sets of one shape, got {p.shape} and {q.shape}")
    iod = np.linalg.norm(p[..., 0, :] - p[..., 1, :], axis=-1)
    return np.linalg.norm(p - q, axis=-1).mean(-1) / iod


def points_box(points: np.ndarray) -> np.ndarray:
    """(k, 2) points -> (4,) their bounding box (x0, y0, x1, y1)."""
    p = np.asarray(points, np.float64)
    return np.concatenate([p.min(0), p.max(0)])
