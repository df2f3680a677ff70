"""Skin tone by colorimetry (bench/judges/faceapi/skintone.py) and the `skin-tone` judge.

    CIELAB     sRGB primaries and white against published D65 values (Lindbloom's calculator: red 53.2408, 80.0925,
               67.2032; green 87.7347, -86.1827, 83.1793; blue 32.2970, 79.1875, -107.8602), to 1e-3
    ITA        atan((L - 50) / b) by hand; the bands at their edges; NaN and |ITA| >= 90 in no band
    skin       a flat colour reads that colour's ITA; cheeks painted one colour on a face of another read the cheeks';
               the mask lies inside the landmarks' box
    judge      on a demo face and a grey image: ITA in (-90, 90) with a band, NaN / -1 without a face; id carries the
               method version
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.judges import build_judge
from bench.judges.faceapi import skintone


def test_lab_known_values():
    lab = skintone.srgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]]))
    ref = [[100, 0, 0], [53.2408, 80.0925, 67.2032], [87.7347, -86.1827, 83.1793], [32.2970, 79.1875, -107.8602],
           [0, 0, 0]]
    assert np.abs(lab - ref).max() < 1e-3


def test_ita_and_bands():
    assert skintone.ita_degrees(50 + np.sqrt(3), 1.0) == pytest.approx(60.0)
    assert skintone.ita_degrees(40.0, 10.0) == pytest.approx(-45.0)
    names = [b[0] for b in skintone.ITA_BANDS]
    for ita, band in [(70, "very light"), (55.0, "light"), (41.0, "intermediate"), (28.0, "tan"), (10.0, "brown"),
                      (-30.0, "dark"), (-80, "dark")]:
        assert names[skintone.ita_band(ita)] == band, ita
    assert skintone.ita_band(float("nan")) == skintone.ita_band(95.0) == skintone.ita_band(-90.0) == -1


def _landmarks() -> np.ndarray:
    """A plausible frontal 68-point layout in a 200 x 200 image (jaw, eyes, nose, mouth where they belong)."""
    lm = np.zeros((68, 2))
    t = np.linspace(np.pi, 0, 17)
    lm[0:17] = np.stack([100 - 70 * np.cos(t), 90 + 80 * np.sin(t)], 1)  # jaw from ear to ear through the chin
    lm[36:42] = [[55, 80], [62, 76], [70, 76], [77, 80], [70, 84], [62, 84]]
    lm[42:48] = [[123, 80], [130, 76], [138, 76], [145, 80], [138, 84], [130, 84]]
    lm[27:36] = [[100, 80], [100, 90], [100, 100], [100, 110], [88, 118], [94, 120], [100, 121], [106, 120],
                 [112, 118]]
    lm[48:60] = [[78, 140], [88, 136], [95, 134], [100, 135], [105, 134], [112, 136], [122, 140], [112, 146],
                 [105, 148], [100, 148], [95, 148], [88, 146]]
    lm[60:68] = lm[[48, 49, 51, 53, 54, 55, 57, 59]]
    return lm


def test_flat_colour_reads_its_own_ita():
    colour = np.array([224, 172, 105], np.uint8)
    image = np.broadcast_to(colour, (200, 200, 3)).copy()
    lab = skintone.srgb_to_lab(colour)
    ita, pixels = skintone.face_ita(image, _landmarks())
    assert ita == pytest.approx(float(skintone.ita_degrees(lab[0], lab[2])), abs=1e-9) and pixels > 100


def test_only_cheek_pixels_count():
    lm = _landmarks()
    mask = skintone.skin_mask(lm, 200, 200)
    ys, xs = np.nonzero(mask)
    assert xs.min() >= lm[:, 0].min() and xs.max() <= lm[:, 0].max() and ys.min() >= lm[:, 1].min()
    cheek, rest = np.array([141, 85, 36], np.uint8), np.array([250, 240, 230], np.uint8)
    image = np.where(mask[..., None], cheek, rest).astype(np.uint8)
    lab = skintone.srgb_to_lab(cheek)
    assert skintone.face_ita(image, lm)[0] == pytest.approx(float(skintone.ita_degrees(lab[0], lab[2])), abs=1e-9)


def test_skin_tone_judge(faceapi_weights):
    photo = np.asarray(Image.open(faceapi_weights / "demo" / "sample1.jpg").convert("RGB"))
    batch = np.stack([photo[275:675, 302:702], np.full((400, 400, 3), 128, np.uint8)])
    judge = build_judge("skin-tone", {})
    out = judge(batch)
    assert set(out) == set(judge.readings)
    assert out["face_found"].tolist() == [1, 0]
    assert -90 < out["ita"][0] < 90 and out["ita_band"][0] == skintone.ita_band(float(out["ita"][0])) >= 0
    assert out["skin_pixels"][0] > 500
    assert np.isnan(out["ita"][1]) and out["ita_band"][1] == -1 and out["skin_pixels"][1] == 0
    assert judge.id.startswith(f"skin-tone-ita{skintone.METHOD_VERSION}-")
