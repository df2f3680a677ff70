"""Head regions of a set's faces: the inpainting region MAUGen's sd15 trainer regenerates, kept in the set folder.

MAUGen's authors sample with a head mask on a video frame (XDLI13/MAUGen `examples/mask_example.png` and
`masked_image_example.png`, read by `inference.py --mask_path --masked_image_path`): a binary silhouette of the
whole head, hair and ears included, down to the chin (56% of their 512 px frame), filled black in the masked frame;
neck, shoulders and background stay. Their training data preparation is not released; we draw the same kind of
region from face-api's 68 landmarks:

    head_polygon   the jaw contour (points 0-16, ear to ear through the chin) widened by WIDEN about the face's
                   centre line and lowered by CHIN_MARGIN of the face width, closed by the same contour mirrored
                   across the ear-to-ear line and stretched by CROWN upward (the skull above the eyes: the crown
                   sits about as far above the eye line as the chin below it)
    rasterise      outlines -> (n, size, size) masks, 1 = regenerate (a pure function of outline and size)
    write_head_regions  every row's outline from a landmark reader (`augen head-regions SET`: face-api's landmark net
                   on the whole crop, bench.judges.faceapi.headregions), written into the set folder as FILE with
                   META (the rule, the landmark reader, the set's content hash); in chunks, so an interrupted run
                   resumes from `.head_regions.<hash>.partial.npy`
    read_head_regions  the outlines, or one DataError naming the set when they are missing or were written for
                   other images or another rule

The rule is ours (RULE); it follows the face, not the hair: hair reaching past the widened jaw contour stays (the
authors' silhouette covers it). On the four shipped posed portraits it covers 37-53% of the frame.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable

import numpy as np

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import DataError

RULE = "faceapi68-head-v1"  # changes with any constant below
WIDEN = 1.2  # horizontal stretch of the jaw contour about the face's centre line (ears, hair at the temples)
CHIN_MARGIN = 0.03  # the contour lowered by this share of the face width (the chin's edge is inside)
CROWN = 1.45  # the mirrored contour's height over the chin's depth below the ear-to-ear line
CHUNK = 64  # rows read per partial write
FILE, META = "head_regions.npy", "head_regions.json"


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


def rasterise(polygons: np.ndarray, source: tuple[int, int], size: int) -> np.ndarray:
    """(n, K, 2) outlines in an image of `source` (height, width) px -> (n, size, size) float32 masks at `size` px."""
    from PIL import Image, ImageDraw

    sy, sx = size / source[0], size / source[1]
    out = np.zeros((len(polygons), size, size), np.float32)
    for i, poly in enumerate(polygons):
        im = Image.new("L", (size, size), 0)
        ImageDraw.Draw(im).polygon([(float(x) * sx, float(y) * sy) for x, y in poly], fill=1)
        out[i] = np.asarray(im, np.float32)
    return out


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def write_head_regions(ss, landmarks: Callable[[list[np.ndarray]], list[np.ndarray]], reader: str,
                       progress: bool = False) -> np.ndarray:
    """(N, 34, 2) outlines of every row of the opened SampleSet `ss` (its image pixels), written into its folder.

    `landmarks`: images -> their (68, 2) points; `reader`: what read them (recorded in META)."""
    from tqdm import tqdm

    digest = ss.content_hash()
    partial = ss.root / f".head_regions.{digest[:16]}.partial.npy"
    done = list(np.load(partial)) if partial.is_file() else []
    rows = list(ss.rows())
    with tqdm(total=len(rows), initial=len(done), desc="head regions", disable=not progress) as bar:
        for start in range(len(done), len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            done += [head_polygon(p) for p in landmarks([ss.load_image(r) for r in chunk])]
            atomic_write_bytes(partial, _npy(np.stack(done)))
            bar.update(len(chunk))
    polys = np.stack(done).astype(np.float32)
    atomic_write_bytes(ss.root / FILE, _npy(polys))
    atomic_write_text(ss.root / META, json.dumps({"rule": RULE, "reader": reader, "content_hash": digest,
                                                  "count": len(polys)}, indent=1) + "\n")
    if partial.is_file():
        os.unlink(partial)
    return polys


def read_head_regions(ss) -> np.ndarray:
    """(N, 34, 2) outlines written for exactly this set's images under RULE, else one DataError naming the set."""
    how = f"write them with `augen head-regions {ss.root}` (face-api's 68 landmarks, once per set)"
    if not (ss.root / FILE).is_file() or not (ss.root / META).is_file():
        raise DataError(ss.root, f"no head regions ({FILE}); {how}")
    try:
        meta = json.loads((ss.root / META).read_text(encoding="utf-8"))
        polys = np.load(ss.root / FILE, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(ss.root / FILE, f"unreadable head regions ({e}); {how}") from None
    if meta.get("rule") != RULE:
        raise DataError(ss.root / META, f"head regions of rule {meta.get('rule')!r}, not {RULE!r}; {how}")
    if meta.get("content_hash") != ss.content_hash() or polys.shape != (len(ss), 34, 2):
        raise DataError(ss.root / META, f"head regions were written for other images (content hash or count "
                                        f"differs); {how}")
    return polys
