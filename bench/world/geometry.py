"""Face geometry: where every part of a world face is, given its parameters, and how each AU moves it.

`face_geometry` is the single source of positions: the renderer draws exactly these, and `landmarks`
reads them, so a test on landmarks is a test on what is drawn. All AU effects are additive per unit of
intensity (hence monotonic in each AU), and every AU has at least one cue of its own (a line, dot or
displacement no other AU produces), listed in `AU_CUES`.

Per-side tensors have shape (n, 2): index 0 is the image-left side (x < 0), 1 the image-right side.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.data.aus import AU_INDEX
from bench.world.params import FaceParams

FACE_CY = 0.02  # face centre height
SIDES = torch.tensor([-1.0, 1.0])  # x sign of the left/right side
UNILATERAL_RESIDUAL = 0.15  # share of a one-sided AU left on the other side

#: What each AU does, in words (the unique, high-contrast cue first).
AU_CUES: dict[int, str] = {
    1: "inner brow ends up; short forehead lines at the centre",
    2: "outer brow ends up; forehead lines at the sides",
    4: "inner brows down and together; vertical frown lines between the brows",
    5: "upper lids up: white above the iris",
    6: "cheeks up and flushed; crow's-feet lines at the outer eye corners",
    7: "lower lids up; darker lower-lid line",
    9: "horizontal wrinkles on the nose bridge; nostrils up",
    10: "upper lip up at the centre (upper teeth show); nasolabial folds",
    12: "mouth corners up and out; curved folds beside the corners",
    14: "dimples beside the mouth corners; corners tucked in",
    15: "mouth corners down; lines down from the corners",
    17: "dimpled chin (dots) and a crease under the lower lip; lower lip and chin up",
    20: "mouth corners pulled out sideways; horizontal stretch lines",
    23: "short vertical lines above and below the lips; lips thinner, mouth narrower",
    24: "lips pressed: pale lips, dark bulge crease above the upper lip, dark seam",
    25: "lips apart: gap with teeth, lower lip down",
    26: "jaw drops: chin and face outline lower (the lips part only with AU25)",
}

#: Landmark moves per AU as (landmark, axis, sign): axis "y" (down is +) or "out" (away from the midline).
LANDMARK_MOVES: dict[int, tuple[tuple[str, str, int], ...]] = {
    1: (("brow_inner", "y", -1),), 2: (("brow_outer", "y", -1),),
    4: (("brow_inner", "y", +1), ("brow_inner", "out", -1)), 5: (("upper_lid", "y", -1),),
    6: (("cheek", "y", -1),), 7: (("lower_lid", "y", -1),), 9: (("nostril", "y", -1),),
    10: (("upper_lip_bottom", "y", -1),), 12: (("mouth_corner", "y", -1), ("mouth_corner", "out", +1)),
    14: (("mouth_corner", "out", -1),), 15: (("mouth_corner", "y", +1),),
    17: (("lower_lip_bottom", "y", -1), ("chin", "y", -1)), 20: (("mouth_corner", "out", +1),),
    23: (("upper_lip_top", "y", +1), ("mouth_corner", "out", -1)), 24: (("upper_lip_top", "y", +1),),
    25: (("lower_lip_top", "y", +1),), 26: (("chin", "y", +1),),
}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def face_geometry(p: FaceParams) -> dict[str, torch.Tensor]:
    """Positions (canonical frame) and cue strengths (0-1 opacities) of a batch of faces.

    Scalars per face have shape (n,), per-side quantities (n, 2).
    """
    aus = _t(p.aus)  # (n, 17)

    def I(au: int) -> torch.Tensor:  # noqa: E743  (n,) intensity of one AU, named as in FACS texts
        return aus[:, AU_INDEX[au]]

    asym = _t(p.asym)
    one_sided = torch.stack([1 - (1 - UNILATERAL_RESIDUAL) * (asym > 0).float(),
                             1 - (1 - UNILATERAL_RESIDUAL) * (asym < 0).float()], 1)  # (n, 2)
    I12s, I14s = I(12)[:, None] * one_sided, I(14)[:, None] * one_sided
    S = SIDES[None, :]
    yaw = _t(p.yaw)
    xs = (0.05 * yaw)[:, None]  # inner features shift with yaw
    eye_dx, eye_w, eye_y = _t(p.eye_dx)[:, None], _t(p.eye_w)[:, None], _t(p.eye_y)
    brow_base = eye_y - _t(p.brow_gap)
    g: dict[str, torch.Tensor] = {}
    # -- outline
    g["face_w"], g["face_hu"], g["jaw_x"] = _t(p.face_w), _t(p.face_hu), _t(p.jaw_x)
    g["face_hl"] = _t(p.face_hl) + 0.045 * I(26) - 0.012 * I(17)
    g["chin_y"] = FACE_CY + g["face_hl"]
    # -- eyes (n, 2)
    g["eye_x"] = S * eye_dx + xs
    g["eye_y"] = eye_y
    g["eye_w"] = eye_w[:, 0]
    g["eye_up"] = _t(p.eye_h) + 0.016 * I(5) - 0.003 * I(7)
    g["eye_lo"] = _t(p.eye_hl) - 0.008 * I(7)
    g["iris_r"] = _t(p.iris_r)
    # -- brows (n, 2) for inner / mid / outer points
    g["brow_in_x"] = S * (eye_dx - 0.85 * eye_w - 0.012 * I(4)[:, None]) + xs
    g["brow_in_y"] = (brow_base - 0.028 * I(1) + 0.02 * I(4))[:, None].expand(-1, 2)
    g["brow_mid_x"] = S * (eye_dx + 0.1 * eye_w) + xs
    g["brow_mid_y"] = (brow_base - 0.045 - 0.01 * I(1) - 0.014 * I(2) + 0.012 * I(4))[:, None].expand(-1, 2)
    g["brow_out_x"] = S * (eye_dx + 1.1 * eye_w) + xs
    g["brow_out_y"] = (brow_base + 0.01 - 0.028 * I(2) + 0.004 * I(4))[:, None].expand(-1, 2)
    g["brow_t"] = _t(p.brow_t)
    g["forehead_y"] = brow_base - 0.17  # lower row of forehead lines
    g["frown_top"], g["frown_bottom"] = brow_base - 0.02, brow_base + 0.10
    # -- cheeks, nose
    g["cheek_x"] = S * 0.33 + xs
    g["cheek_y"] = (0.08 - 0.025 * I(6))[:, None].expand(-1, 2)
    g["nose_x"] = 0.08 * yaw
    g["nose_tip_y"] = _t(p.nose_len)
    g["nose_w"] = _t(p.nose_w)
    g["nostril_x"] = g["nose_x"][:, None] + S * 0.7 * g["nose_w"][:, None]
    g["nostril_y"] = (g["nose_tip_y"] + 0.01 - 0.012 * I(9))[:, None].expand(-1, 2)
    # -- mouth
    g["mouth_x"] = xs[:, 0]
    g["mouth_y"] = _t(p.mouth_y)
    g["corner_dx"] = (_t(p.mouth_w)[:, None] + 0.012 * I12s + 0.025 * I(20)[:, None] - 0.004 * I14s
                      - 0.016 * I(23)[:, None])  # (n, 2) half-width per side
    g["corner_dy"] = -0.022 * I12s + (0.022 * I(15) + 0.004 * I(20))[:, None]  # (n, 2), + is down
    g["gap_up"] = 0.012 * I(10) + 0.006 * I(25)
    g["gap_lo"] = 0.035 * I(25)
    thin = (1 - 0.12 * I(23)) * (1 - 0.04 * I(24)) * (1 - 0.04 * I(20))
    g["lip_tu"] = _t(p.lip_tu) * thin
    g["lip_tl"] = _t(p.lip_tl) * thin * (1 - 0.06 * I(17))
    # -- cue opacities
    def op(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 0.95)

    def cue(x: torch.Tensor) -> torch.Tensor:
        """Opacity of a texture cue: 60% of full at level A (1), 95% at E (5), linear ramp below A."""
        return 0.95 * torch.where(x < 1.0, 0.6 * x, 0.6 + 0.4 * (x - 1.0) / 4.0)
    g["forehead_center"], g["forehead_side"] = cue(I(1)), cue(I(2))
    g["frown"], g["crows_feet"], g["cheek_glow"] = cue(I(4)), cue(I(6)), op(0.1 + 0.08 * I(6))
    g["lower_lid_line"] = op(0.25 + 0.12 * I(7))
    g["nose_wrinkle"], g["nasolabial"] = cue(I(9)), cue(I(10))
    g["smile_fold"], g["dimple"] = cue(I12s), cue(I14s)
    g["marionette"], g["chin_crease"], g["stretch"] = cue(I(15)), cue(I(17)), cue(I(20))
    g["bulge"], g["seam"] = cue(I(24)), op(0.3 + 0.13 * I(24))
    g["lip_lines"] = cue(I(23))
    g["lip_pale"] = 0.75 * cue(I(24))
    g["chin_dots"] = cue(I(17))
    return g


def landmarks(p: FaceParams) -> dict[str, np.ndarray]:
    """Named landmarks in the canonical frame: (n, 2, 2) [face, side, xy] for paired ones, (n, 2) xy otherwise."""
    g = face_geometry(p)

    def pair(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        return torch.stack([x, y.expand_as(x) if y.dim() == 2 else y[:, None].expand_as(x)], -1).numpy()

    def point(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        return torch.stack([x, y], -1).numpy()

    mx, my = g["mouth_x"], g["mouth_y"]
    return {
        "brow_inner": pair(g["brow_in_x"], g["brow_in_y"]),
        "brow_outer": pair(g["brow_out_x"], g["brow_out_y"]),
        "upper_lid": pair(g["eye_x"], g["eye_y"][:, None] - g["eye_up"][:, None]),
        "lower_lid": pair(g["eye_x"], g["eye_y"][:, None] + g["eye_lo"][:, None]),
        "cheek": pair(g["cheek_x"], g["cheek_y"]),
        "nostril": pair(g["nostril_x"], g["nostril_y"]),
        "mouth_corner": pair(mx[:, None] + SIDES * g["corner_dx"], my[:, None] + g["corner_dy"]),
        "upper_lip_top": point(mx, my - g["gap_up"] - g["lip_tu"]),
        "upper_lip_bottom": point(mx, my - g["gap_up"]),
        "lower_lip_top": point(mx, my + g["gap_lo"]),
        "lower_lip_bottom": point(mx, my + g["gap_lo"] + g["lip_tl"]),
        "chin": point(mx, g["chin_y"]),
    }
