"""Head masks for MAUGen's inpainting training: the region a training face regenerates is its head, from landmarks.

MAUGen's authors sample with a head mask on a video frame (XDLI13/MAUGen `examples/mask_example.png` and
`masked_image_example.png`, read via `inference.py --mask_path --masked_image_path`): a binary silhouette of the
whole head, hair and ears included, down to the chin (56% of their 512 px frame), filled black in the masked frame;
neck, shoulders and background stay. Their training data preparation is not released; we draw the same kind of
region from face-api's 68 landmarks (bench.judges.faceapi):

    head_polygon   the jaw contour (points 0-16, ear to ear through the chin) widened by WIDEN about the face's
                   centre line and lowered by CHIN_MARGIN of the face width, closed by the same contour mirrored
                   across the ear-to-ear line and stretched by CROWN upward (the skull and hair above the eyes;
                   the crown of a head sits about as far above the eye line as the chin below it)
    rasterise      polygons -> (n, 1, size, size) masks, 1 = regenerate (a pure function of the polygon and size)
    set_polygons   every row of a SampleSet read once by face-api's landmark net on the whole image
                   (`FaceApiPipeline.whole_crops`: the set's faces are already crops), cached under
                   <AUGEN_CACHE>/head-masks/ by the set's content hash, the rule and the landmark weights' pins;
                   written in chunks, so an interrupted run resumes where it stopped

The rule is ours (RULE names it in the cache key and training.json); it follows the face, not the hair: a head whose
hair reaches past the widened jaw contour keeps that hair (the authors' silhouette covers it). MAUGen's sd15 trainer
uses it with `masks=head` (its default); `masks=random` keeps the random rectangles.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

RULE = "faceapi68-head-v1"  # changes with any constant below
WIDEN = 1.2  # horizontal stretch of the jaw contour about the face's centre line (ears, hair at the temples)
CHIN_MARGIN = 0.03  # the contour lowered by this share of the face width (the chin's edge is inside)
CROWN = 1.45  # the mirrored contour's height over the chin's depth below the ear-to-ear line
CHUNK = 64  # rows read per cache write


def head_polygon(points: np.ndarray) -> np.ndarray:
    """(68, 2) face-api landmarks (x, y) -> (34, 2) float32 head outline in the same pixels (module docstring)."""
    p = np.asarray(points, np.float64)
    jaw = p[0:17]
    c = (jaw[0] + jaw[16]) / 2  # midpoint of the ear-to-ear line
    u = jaw[16] - jaw[0]
    width = float(np.linalg.norm(u)) or 1.0
    u = u / width
    down = np.array([-u[1], u[0]])  # unit normal of the ear-to-ear line
    if (p[8] - c) @ down < 0:  # make it point to the chin (point 8)
        down = -down
    a, b = (jaw - c) @ u, (jaw - c) @ down  # (17,) along the line, below it
    lower = c + np.outer(a * WIDEN, u) + np.outer(np.maximum(b, 0) + CHIN_MARGIN * width, down)
    upper = c + np.outer(a * WIDEN, u) - np.outer(CROWN * np.maximum(b, 0), down)
    return np.concatenate([lower, upper[::-1]]).astype(np.float32)


def rasterise(polygons: np.ndarray, source: tuple[int, int], size: int) -> torch.Tensor:
    """(n, K, 2) outlines in an image of `source` (height, width) px -> (n, 1, size, size) float masks at `size` px."""
    from PIL import Image, ImageDraw

    sy, sx = size / source[0], size / source[1]
    out = np.zeros((len(polygons), 1, size, size), np.float32)
    for i, poly in enumerate(polygons):
        im = Image.new("L", (size, size), 0)
        ImageDraw.Draw(im).polygon([(float(x) * sx, float(y) * sy) for x, y in poly], fill=1)
        out[i, 0] = np.asarray(im, np.float32)
    return torch.from_numpy(out)


def cache_file(ss) -> Path:
    """Where the outlines of SampleSet `ss` are kept: its content hash, RULE and the landmark weights' pins."""
    from bench.judges.faceapi.judge import pins_sha256
    from reference.common.autoencoder import cache_dir

    return cache_dir() / "head-masks" / f"{ss.content_hash()[:20]}-{RULE}-{pins_sha256()[:12]}.npy"


def set_polygons(ss, progress: bool = False, landmarks: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None
                 ) -> np.ndarray:
    """(N, 34, 2) head outlines of every row of the opened SampleSet `ss`, in its image pixels (cached, resumable).

    `landmarks`: images -> their (68, 2) points (default: face-api's landmark net on the whole image)."""
    from bench.core.atomic import atomic_write_bytes

    final = cache_file(ss)
    if final.is_file():
        return np.load(final)
    partial = final.with_name(final.name + ".partial.npy")
    done = list(np.load(partial)) if partial.is_file() else []
    if landmarks is None:
        from bench.judges.faceapi.pipeline import shared_pipeline

        pipe = shared_pipeline()

        def landmarks(images):
            return [faces[0].landmarks for faces in pipe.whole_crops(images)]
    rows = list(ss.rows())
    from tqdm import tqdm

    with tqdm(total=len(rows), initial=len(done), desc="head masks", disable=not progress) as bar:
        for start in range(len(done), len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            points = landmarks([ss.load_image(r) for r in chunk])
            done += [head_polygon(p) for p in points]
            atomic_write_bytes(partial, _npy(np.stack(done)))
            bar.update(len(chunk))
    polys = np.stack(done).astype(np.float32)
    atomic_write_bytes(final, _npy(polys))
    if partial.is_file():
        os.unlink(partial)
    return polys


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
