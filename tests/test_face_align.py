"""Face alignment (bench/judges/faceapi/align.py) and the `face-align` judge.

    similarity   recovers a known rotation + scale + translation exactly; on noisy points equals an independent
                 solution (linear least squares over (a, b, tx, ty) of [[a, -b], [b, a]]); never reflects
    warp         equals Pillow's `Image.transform(AFFINE, BILINEAR)` (converted to its pixel-centre convention) on a
                 random image within 1 level away from the border; a crop wholly outside the image is black
    five points  the template's order, by hand on synthetic landmarks
    judge        on a demo photo crop and a grey image: face found / not, the landmarks `locate` gives, the crop `align.align`
                 cuts, the eyes' midpoint within 3 px of the template's, black crop without a face; options checked
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import UsageError
from bench.judges import build_judge
from bench.judges.faceapi import align


def _similar(angle: float, scale: float, t: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, t[0]], [s, c, t[1]]])


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, (5, 2))
    m = _similar(0.7, 1.9, (-40.0, 12.5))
    dst = src @ m[:, :2].T + m[:, 2]
    assert np.abs(align.similarity(src, dst) - m).max() < 1e-9


def test_similarity_equals_linear_least_squares_on_noisy_points():
    rng = np.random.default_rng(1)
    for _ in range(5):
        src = rng.uniform(0, 500, (5, 2))
        dst = rng.uniform(0, 112, (5, 2))
        rows = [[x, -y, 1, 0] for x, y in src] + [[y, x, 0, 1] for x, y in src]
        a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.concatenate([dst[:, 0], dst[:, 1]]), rcond=None)[0]
        ours = align.similarity(src, dst)
        assert np.abs(ours - np.array([[a, -b, tx], [b, a, ty]])).max() < 1e-8


def test_similarity_never_reflects():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [7.0, 3.0]])
    mirrored = src * [-1.0, 1.0]
    assert np.linalg.det(align.similarity(src, mirrored)[:, :2]) > 0
    with pytest.raises(ValueError, match="coincide"):
        align.similarity(np.ones((5, 2)), np.zeros((5, 2)))


def test_warp_matches_pillow_affine():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    size = 96
    m = _similar(0.3, 0.45, (0.0, 0.0))  # image -> crop, the crop's centre from the image's: wholly inside it
    m[:, 2] = np.array([48.0, 48.0]) - m[:, :2] @ [200.0, 150.0]
    ours = align.warp(image, m, size)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]  # crop -> image, integer pixel centres
    # Pillow samples input (x + 0.5, y + 0.5) -> continuous coordinates: shift both sides by half a pixel
    c = inv[:, 2] + 0.5 - inv[:, :2] @ [0.5, 0.5]
    theirs = np.asarray(Image.fromarray(image).transform(
        (size, size), Image.Transform.AFFINE, (inv[0, 0], inv[0, 1], c[0], inv[1, 0], inv[1, 1], c[1]),
        resample=Image.Resampling.BILINEAR))
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(ours[inner].astype(int) - theirs[inner].astype(int)).max() <= 1


def test_warp_outside_the_image_is_black():
    image = np.full((50, 50, 3), 200, np.uint8)
    assert not align.warp(image, _similar(0.0, 1.0, (-1000.0, -1000.0)), 32).any()


def test_five_points_order():
    lm = np.zeros((68, 2))
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = (10, 20), (30, 20), (20, 30), (12, 40), (28, 40)
    assert np.array_equal(align.five_points(lm), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])
    assert align.five_points(np.stack([lm, lm])).shape == (2, 5, 2)
    with pytest.raises(ValueError, match="68, 2"):
        align.five_points(np.zeros((5, 2)))


@pytest.fixture(scope="module")
def photo_batch(faceapi_weights) -> np.ndarray:
    """A 400 px square around one face of sample1 and a grey image, (2, 400, 400, 3) uint8."""
    photo = np.asarray(Image.open(faceapi_weights / "demo" / "sample1.jpg").convert("RGB"))
    return np.stack([photo[275:675, 302:702], np.full((400, 400, 3), 128, np.uint8)])


def test_face_align_judge(photo_batch):
    judge = build_judge("face-align", {"size": 128})
    out = judge(photo_batch)
    assert set(out) == set(judge.readings)
    assert out["face_found"].tolist() == [1, 0] and out["face_count"].tolist() == [1, 0]
    assert out["aligned"].shape == (2, 128, 128, 3) and out["aligned"].dtype == np.uint8
    assert not out["aligned"][1].any() and np.isnan(out["landmarks"][1]).all()
    located = judge.pipeline.locate(photo_batch[0])[0][0]
    assert np.abs(out["landmarks"][0] - located.landmarks).max() < 1e-3
    assert np.abs(out["points5"][0] - align.five_points(located.landmarks)).max() < 1e-3
    assert np.array_equal(out["aligned"][0], align.align(photo_batch[0], located.landmarks, 128)[0])
    # this face is turned (its nose tip lands 12 px off the template's); the eyes' midpoint lands within 3 px
    m = align.similarity(out["points5"][0], align.template(128))
    landed = out["points5"][0] @ m[:, :2].T + m[:, 2]
    assert np.abs(landed[:2].mean(0) - align.template(128)[:2].mean(0)).max() < 3
    assert judge.id.startswith("face-align-s128-") and judge.config == {"min_confidence": 0.5, "size": 128}
    with pytest.raises(UsageError, match="size"):
        build_judge("face-align", {"size": 8})
    with pytest.raises(UsageError, match="min_confidence"):
        build_judge("face-align", {"min_confidence": 0})
