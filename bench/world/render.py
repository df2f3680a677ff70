"""Vectorized, deterministic rendering of world faces from `face_geometry`.

How it is fast: faces are painted in the canonical face frame, where every face's features sit in the
same few regions, so each feature is evaluated only on its region's pixels, with one shared coordinate
grid broadcast against per-face parameters (n, 1, 1). Pose is applied once at the end by one affine
`grid_sample` of the RGBA face layer, composited over the background. No transcendental functions
are used on pixels (only sqrt), so results do not depend on batch size or SIMD width.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from bench.world.geometry import FACE_CY, SIDES, face_geometry
from bench.world.params import FaceParams

SCLERA = (0.96, 0.96, 0.94)
MOUTH_INSIDE = (0.25, 0.05, 0.07)
TEETH = (0.95, 0.93, 0.88)
BLACK = (0.03, 0.02, 0.02)
LINE_SHADE = 0.32  # wrinkles/folds: skin darkened to this factor (high contrast on every tone)
LINE = 0.016  # half-thickness of wrinkle lines (~1 px wide at 64 px)


def _c(x: torch.Tensor) -> torch.Tensor:
    """(n,) -> (n, 1, 1) for broadcasting against a region's (h, w)."""
    return x.reshape(-1, 1, 1)


def _rgb(x, n: int) -> torch.Tensor:
    """A colour as (n, 3)."""
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    return t.expand(n, 3) if t.dim() == 1 else t


def soft(d: torch.Tensor, aa: float) -> torch.Tensor:
    """Coverage from a signed distance (negative inside), anti-aliased over `aa`."""
    return d.mul_(-1.0 / aa).add_(0.5).clamp_(0.0, 1.0)


def ellipse_d(X, Y, cx, cy, rx, ry) -> torch.Tensor:
    """Approximate signed distance to an axis-aligned ellipse (args (n,1,1) or broadcastable)."""
    r = (((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2).sqrt_()
    return r.sub_(1.0).mul_(torch.minimum(torch.as_tensor(rx), torch.as_tensor(ry)))


def segment_d(X, Y, x0, y0, x1, y1, half: float | torch.Tensor) -> torch.Tensor:
    """Signed distance to a capsule (segment of half-thickness `half`)."""
    bx, by = x1 - x0, y1 - y0
    px, py = X - x0, Y - y0
    h = (px * bx + py * by).mul_(1.0 / (bx * bx + by * by + 1e-12)).clamp_(0.0, 1.0)
    dx, dy = px - bx * h, py - by * h
    return (dx * dx).add_(dy * dy).sqrt_() - half  # not in place: half may add the batch dim


def between(Y, top, bottom, aa: float) -> torch.Tensor:
    """Coverage of the band top <= Y <= bottom (top/bottom broadcast over columns)."""
    return ((Y - top) / aa + 0.5).clamp_(0.0, 1.0) * ((bottom - Y) / aa + 0.5).clamp_(0.0, 1.0)


class Region:
    """A rectangle of the canvas: views of its pixels and its canonical coordinates X (1,1,w), Y (1,h,1)."""

    def __init__(self, canvas: Canvas, rows: slice, cols: slice):
        self.rgb = canvas.rgb[:, :, rows, cols]  # (n, 3, h, w) view
        self.alpha = canvas.alpha[:, :, rows, cols]  # (n, 1, h, w) view
        self.X = canvas.coords[cols].reshape(1, 1, -1)
        self.Y = canvas.coords[rows].reshape(1, -1, 1)
        self.aa = canvas.aa

    def paint(self, cover: torch.Tensor, colour: torch.Tensor, opacity: torch.Tensor | float | None = None,
              solid: bool = False) -> None:
        """Composite `colour` (n, 3) with coverage (n, h, w) x opacity (n,) over the region (premultiplied)."""
        m = cover if opacity is None else cover * _c(torch.as_tensor(opacity, dtype=torch.float32))
        m = m.unsqueeze(1)  # (n, 1, h, w)
        self.rgb.lerp_(colour[:, :, None, None], m)  # one fused pass: rgb + (colour - rgb) * m
        if solid:
            self.alpha.lerp_(_ONE, m)


_ONE = torch.ones(())


class Canvas:
    """The premultiplied RGBA face layer (n, 4, R, R) in the canonical frame."""

    def __init__(self, n: int, size: int, full_frame: bool = False):
        self.size, self.full_frame = size, full_frame
        self.rgb = torch.zeros(n, 3, size, size)
        self.alpha = torch.zeros(n, 1, size, size)
        self.coords = (torch.arange(size, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
        self.aa = 2.0 / size  # one pixel in canonical units

    def region(self, x0: float, x1: float, y0: float, y1: float) -> Region:
        """Pixels whose centres may fall in [x0, x1] x [y0, y1] (all pixels with `full_frame`)."""
        if self.full_frame:
            return Region(self, slice(None), slice(None))
        R = self.size

        def span(a: float, b: float) -> slice:
            return slice(max(0, math.floor((a + 1) * R / 2) - 1), min(R, math.ceil((b + 1) * R / 2) + 1))

        return Region(self, span(y0, y1), span(x0, x1))


def _paint_head(cv: Canvas, g: dict, p: FaceParams, skin: torch.Tensor, hair: torch.Tensor) -> None:
    aa = cv.aa
    W, Hu, Hl, jaw = _c(g["face_w"]), _c(g["face_hu"]), _c(g["face_hl"]), _c(g["jaw_x"])
    long_hair = torch.as_tensor(p.long_hair, dtype=torch.float32)
    # long hair behind the head (feminine presentation)
    r = cv.region(-0.9, 0.9, -0.92, 1.0)
    r.paint(soft(ellipse_d(r.X, r.Y, 0.0, 0.12, W + 0.17, 0.95), aa), hair, long_hair, solid=True)
    # neck
    r = cv.region(-0.36, 0.36, 0.3, 1.0)
    neck = soft(segment_d(r.X, r.Y, 0.0, FACE_CY + 0.5, 0.0, 1.4, 0.24 * W / 0.6), aa)
    r.paint(neck, skin * 0.82, solid=True)
    # shadow the jaw casts on the neck: it moves with the chin (AU26 jaw drop, AU17)
    shadow = soft(ellipse_d(r.X, r.Y, 0.0, _c(g["chin_y"]) + 0.02, 0.3, 0.09), aa * 3)
    r.paint(shadow * neck, skin * 0.4, 0.85)
    # face: upper half-ellipse, lower half narrowing to the jaw
    r = cv.region(-0.68, 0.68, -0.8, 0.92)
    X, Y = r.X, r.Y
    below = ((Y - FACE_CY) / Hl).clamp(0.0, 1.0)
    rx = W * (1.0 - (1.0 - jaw) * below)  # (n, h, 1)
    ry = torch.where(Y < FACE_CY, Hu, Hl)
    d = ((X / rx) ** 2).add_(((Y - FACE_CY) / ry) ** 2).sqrt_().sub_(1.0).mul_(0.6)
    r.paint(soft(d, aa), skin, solid=True)
    # hair cap above a hairline that curves down at the temples
    r = cv.region(-0.72, 0.72, -0.9, -0.2)
    X, Y = r.X, r.Y
    cap = soft(ellipse_d(X, Y, 0.0, FACE_CY, W + 0.06, Hu + 0.08), aa)
    line = _c(torch.as_tensor(p.hairline, dtype=torch.float32)) + 0.25 * (X / W) ** 2  # (n, 1, w)
    cap.mul_(((line - Y) / aa + 0.5).clamp_(0.0, 1.0))
    r.paint(cap, hair, solid=True)


def _paint_upper_face(cv: Canvas, g: dict, p: FaceParams, skin: torch.Tensor, hair: torch.Tensor) -> None:
    n = skin.shape[0]
    line = skin * LINE_SHADE
    old = torch.as_tensor(p.age_group == 2, dtype=torch.float32)
    # forehead lines (AU1 centre, AU2 sides)
    r = cv.region(-0.5, 0.5, -0.72, -0.38)
    X, Y, aa = r.X, r.Y, cv.aa
    fy = _c(g["forehead_y"])
    mx = _c(g["mouth_x"])
    for dy in (0.0, -0.06):
        r.paint(soft(segment_d(X, Y, mx - 0.13, fy + dy, mx + 0.13, fy + dy, LINE), aa), line, g["forehead_center"])
        for s in (-1.0, 1.0):
            r.paint(soft(segment_d(X, Y, mx + s * 0.2, fy + dy, mx + s * 0.38, fy + dy - 0.01, LINE), aa),
                    line, g["forehead_side"])
    # frown lines (AU4)
    r = cv.region(-0.2, 0.2, -0.48, -0.12)
    X, Y = r.X, r.Y
    for s in (-1.0, 1.0):
        r.paint(soft(segment_d(X, Y, mx + s * 0.045, _c(g["frown_top"]), mx + s * 0.04, _c(g["frown_bottom"]), LINE),
                     aa), line, g["frown"])
    # brows, eyes, crow's feet, eye bags, per side
    brow_col = hair * 0.75
    for k, s in enumerate((-1.0, 1.0)):
        x0 = 0.0 if s > 0 else -0.72
        r = cv.region(x0, x0 + 0.72, -0.66, 0.02)
        X, Y = r.X, r.Y
        ix, iy = _c(g["brow_in_x"][:, k]), _c(g["brow_in_y"][:, k])
        mx_, my_ = _c(g["brow_mid_x"][:, k]), _c(g["brow_mid_y"][:, k])
        ox, oy = _c(g["brow_out_x"][:, k]), _c(g["brow_out_y"][:, k])
        half = _c(g["brow_t"]) * 0.5
        brow = torch.maximum(soft(segment_d(X, Y, ix, iy, mx_, my_, half), aa),
                             soft(segment_d(X, Y, mx_, my_, ox, oy, half * 0.8), aa))
        r.paint(brow, brow_col, 0.92)
        ex, ey, ew = _c(g["eye_x"][:, k]), _c(g["eye_y"]), _c(g["eye_w"])
        u = (X - ex) / ew  # (n, 1, w)
        shape = (1.0 - u * u).clamp(min=0.0)
        upper, lower = ey - _c(g["eye_up"]) * shape, ey + _c(g["eye_lo"]) * shape
        across = ((1.0 - u.abs()) * ew / aa + 0.5).clamp(0.0, 1.0)
        opening = between(Y, upper, lower, aa) * across
        r.paint(opening, _rgb(SCLERA, n))
        iris_x = ex + 0.02 * _c(torch.as_tensor(p.yaw, dtype=torch.float32))
        r.paint(soft(ellipse_d(X, Y, iris_x, ey, _c(g["iris_r"]), _c(g["iris_r"])), aa) * opening,
                torch.as_tensor(p.iris_rgb, dtype=torch.float32))
        pr = _c(g["iris_r"]) * 0.45
        r.paint(soft(ellipse_d(X, Y, iris_x, ey, pr, pr), aa) * opening, _rgb(BLACK, n))
        wide = ((1.08 - u.abs()) * ew / aa + 0.5).clamp(0.0, 1.0)
        r.paint(soft((Y - upper).abs() - 0.013, aa) * wide, brow_col * 0.6, 0.9)
        r.paint(soft((Y - lower).abs() - 0.008, aa) * across, line, g["lower_lid_line"])
        # crow's feet (AU6): three rays from the outer corner
        cx, cy = ex + s * (ew + 0.025), ey
        for ang in (-0.5, 0.0, 0.5):
            r.paint(soft(segment_d(X, Y, cx, cy, cx + s * 0.07 * math.cos(ang), cy + 0.07 * math.sin(ang), LINE), aa),
                    line, g["crows_feet"])
        # eye bags (old)
        by = ey + _c(g["eye_lo"]) + 0.05
        r.paint(soft(segment_d(X, Y, ex - 0.6 * ew, by, ex + 0.6 * ew, by + 0.01, 0.01), aa), line, 0.35 * old)


def _paint_mid_face(cv: Canvas, g: dict, p: FaceParams, skin: torch.Tensor) -> None:
    line = skin * LINE_SHADE
    aa = cv.aa
    old = torch.as_tensor(p.age_group == 2, dtype=torch.float32)
    stubble = torch.as_tensor(p.stubble, dtype=torch.float32)
    # cheeks (AU6) and stubble
    r = cv.region(-0.62, 0.62, -0.2, 0.95)
    X, Y = r.X, r.Y
    r.paint(soft(ellipse_d(X, Y, _c(g["mouth_x"]), _c(g["mouth_y"]) + 0.08, 0.42, 0.34), aa), skin * 0.62,
            0.35 * stubble)
    for k in range(2):
        r.paint(soft(ellipse_d(X, Y, _c(g["cheek_x"][:, k]), _c(g["cheek_y"][:, k]), 0.13, 0.08), aa * 4),
                skin * torch.tensor([1.12, 0.85, 0.85]), g["cheek_glow"])
        s = float(SIDES[k])
        fw = _c(g["face_w"])
        r.paint(soft(segment_d(X, Y, s * fw * 0.72, 0.36, s * fw * 0.58, 0.56, 0.012), aa), line, 0.3 * old)
    # nose: bridge shadow, tip, nostrils, wrinkles (AU9)
    r = cv.region(-0.3, 0.3, -0.3, 0.3)
    X, Y = r.X, r.Y
    nx, tip, nw = _c(g["nose_x"]), _c(g["nose_tip_y"]), _c(g["nose_w"])
    ey = _c(g["eye_y"])
    r.paint(soft(segment_d(X, Y, nx + 0.035, ey + 0.03, nx + 0.045, tip - 0.03, 0.013), aa), line, 0.3)
    r.paint(soft(ellipse_d(X, Y, nx, tip, nw * 0.9, 0.03), aa), skin * 1.06, 0.6)
    for k in range(2):
        r.paint(soft(ellipse_d(X, Y, _c(g["nostril_x"][:, k]), _c(g["nostril_y"][:, k]), 0.022, 0.013), aa),
                line * 0.5, 0.85)
    for dy in (0.03, 0.065, 0.1):
        r.paint(soft(segment_d(X, Y, nx - 0.06, ey + dy, nx + 0.06, ey + dy, LINE), aa), line, g["nose_wrinkle"])


def _paint_mouth(cv: Canvas, g: dict, p: FaceParams, skin: torch.Tensor) -> None:
    n = skin.shape[0]
    line = skin * LINE_SHADE
    aa = cv.aa
    lip = torch.as_tensor(p.lip_rgb, dtype=torch.float32).lerp(skin, g["lip_pale"][:, None])  # AU24 pales the lips
    r = cv.region(-0.55, 0.55, 0.0, 0.95)
    X, Y = r.X, r.Y
    mx, my = _c(g["mouth_x"]), _c(g["mouth_y"])
    cdx = torch.where(X < mx, _c(g["corner_dx"][:, 0]), _c(g["corner_dx"][:, 1]))  # (n, 1, w)
    cdy = torch.where(X < mx, _c(g["corner_dy"][:, 0]), _c(g["corner_dy"][:, 1]))
    t = (X - mx) / cdx
    t2 = t * t
    sh = (1.0 - t2).clamp(min=0.0)
    across = ((1.0 - t.abs()) * cdx / aa + 0.5).clamp(0.0, 1.0)
    seam_up = my + cdy * t2 - _c(g["gap_up"]) * sh
    seam_lo = my + cdy * t2 + _c(g["gap_lo"]) * sh
    lip_top = seam_up - _c(g["lip_tu"]) * sh
    lip_bot = seam_lo + _c(g["lip_tl"]) * sh
    # nasolabial folds (AU10)
    for k, s in enumerate((-1.0, 1.0)):
        x0 = _c(g["nose_x"]) + s * (_c(g["nose_w"]) + 0.05)
        r.paint(soft(segment_d(X, Y, x0, _c(g["nose_tip_y"]), mx + s * (_c(g["corner_dx"][:, k]) + 0.06), my + 0.06,
                               LINE), aa), line, g["nasolabial"])
    # inside, teeth, lips, seam
    r.paint(between(Y, seam_up, seam_lo, aa) * across, _rgb(MOUTH_INSIDE, n))
    r.paint(between(Y, seam_up, torch.minimum(seam_up + 0.03, seam_lo), aa) * across, _rgb(TEETH, n))
    r.paint(between(Y, lip_top, seam_up, aa) * across, lip)
    r.paint(between(Y, seam_lo, lip_bot, aa) * across, lip)
    mid = 0.5 * (seam_up + seam_lo)
    r.paint(soft((Y - mid).abs() - 0.007, aa) * across, lip * 0.45, g["seam"])
    # lip bulges (AU24): a dark crease above the pressed upper lip
    top_c, bot_c = my - _c(g["gap_up"]) - _c(g["lip_tu"]), my + _c(g["gap_lo"]) + _c(g["lip_tl"])
    wbul = 0.7 * _c(g["corner_dx"].mean(1))
    r.paint(soft(segment_d(X, Y, mx - wbul, top_c - 0.035, mx + wbul, top_c - 0.035, 1.3 * LINE), aa), line, g["bulge"])
    # tightened lips (AU23): short vertical lines above and below the lips
    for dx in (-0.05, 0.0, 0.05):
        r.paint(soft(segment_d(X, Y, mx + dx, top_c - 0.012, mx + dx * 1.2, top_c - 0.05, LINE), aa), line,
                g["lip_lines"])
        r.paint(soft(segment_d(X, Y, mx + dx, bot_c + 0.012, mx + dx * 1.2, bot_c + 0.045, LINE), aa), line,
                g["lip_lines"])
    # corner cues per side: smile folds (AU12), dimples (AU14), marionette lines (AU15), stretch lines (AU20)
    for k, s in enumerate((-1.0, 1.0)):
        cx, cy = mx + s * _c(g["corner_dx"][:, k]), my + _c(g["corner_dy"][:, k])
        fold = torch.maximum(soft(segment_d(X, Y, cx + s * 0.02, cy - 0.06, cx + s * 0.045, cy - 0.01, LINE), aa),
                             soft(segment_d(X, Y, cx + s * 0.045, cy - 0.01, cx + s * 0.03, cy + 0.04, LINE), aa))
        r.paint(fold, line, g["smile_fold"][:, k])
        r.paint(soft(ellipse_d(X, Y, cx + s * 0.09, cy - 0.05, 0.036, 0.036), aa), line, g["dimple"][:, k])
        r.paint(soft(segment_d(X, Y, cx + s * 0.01, cy + 0.015, cx + s * 0.035, cy + 0.1, LINE), aa), line,
                g["marionette"])
        r.paint(soft(segment_d(X, Y, cx + s * 0.02, cy, cx + s * 0.11, cy + 0.005, 1.3 * LINE), aa), line, g["stretch"])
    # chin crease (AU17)
    cy = bot_c + 0.075
    crease = torch.maximum(soft(segment_d(X, Y, mx - 0.09, cy, mx, cy + 0.015, LINE), aa),
                           soft(segment_d(X, Y, mx, cy + 0.015, mx + 0.09, cy, LINE), aa))
    r.paint(crease, line, g["chin_crease"])
    # dimpled chin (AU17): three dots below the crease
    for dx, dy in ((-0.045, 0.06), (0.045, 0.06), (0.0, 0.095)):
        r.paint(soft(ellipse_d(X, Y, mx + dx, cy + dy, 0.026, 0.026), aa), line, g["chin_dots"])


def render_canonical(p: FaceParams, size: int, full_frame: bool = False) -> torch.Tensor:
    """Premultiplied RGBA face layer (n, 4, size, size) in the canonical frame, lit, before pose."""
    n = len(p)
    g = face_geometry(p)
    skin = torch.as_tensor(p.skin_rgb, dtype=torch.float32)
    hair = torch.as_tensor(p.hair_rgb, dtype=torch.float32)
    cv = Canvas(n, size, full_frame)
    _paint_head(cv, g, p, skin, hair)
    _paint_upper_face(cv, g, p, skin, hair)
    _paint_mid_face(cv, g, p, skin)
    _paint_mouth(cv, g, p, skin)
    X, Y = cv.coords.reshape(1, 1, -1), cv.coords.reshape(1, -1, 1)
    light = _c(torch.as_tensor(p.bright, dtype=torch.float32)) * (
        1.0 + _c(torch.as_tensor(p.light_x, dtype=torch.float32)) * X
        + _c(torch.as_tensor(p.light_y, dtype=torch.float32)) * Y)
    cv.rgb.mul_(light.unsqueeze(1))
    return torch.cat([cv.rgb, cv.alpha], 1)


def pose_matrix(p: FaceParams) -> torch.Tensor:
    """(n, 2, 3) affine map from output coordinates to the canonical frame (for `affine_grid`)."""
    c, s = np.cos(p.roll), np.sin(p.roll)
    k = 1.0 / p.scale
    theta = np.stack([
        np.stack([c * k, s * k, -(c * p.tx + s * p.ty) * k], 1),
        np.stack([-s * k, c * k, (s * p.tx - c * p.ty) * k], 1),
    ], 1)
    return torch.as_tensor(theta, dtype=torch.float32)


_NOISE_BANKS: dict[int, torch.Tensor] = {}


def noise_bank(size: int) -> torch.Tensor:
    """(K, 3, size, size) standard-normal fields from a fixed seed; a face picks one (and a sign) by its seed.

    Seeding a generator per face costs more than rendering it, so faces share a bank of K fields
    (K * 2 variants, K ~ 680 at 64 px), which keeps noise a pure function of the face's own seed.
    """
    if size not in _NOISE_BANKS:
        k = max(32, min(1024, (1 << 23) // (3 * size * size)))
        _NOISE_BANKS[size] = torch.randn(k, 3, size, size, generator=torch.Generator().manual_seed(20261121))
    return _NOISE_BANKS[size]


def pose_grid(p: FaceParams, size: int) -> torch.Tensor:
    """(n, size, size, 2) sampling grid: for each output pixel, where it lies in the canonical frame."""
    theta = pose_matrix(p)  # (n, 2, 3)
    o = (torch.arange(size, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
    X, Y = o.reshape(1, 1, -1), o.reshape(1, -1, 1)
    t = theta.reshape(-1, 6, 1, 1)
    gx = (t[:, 1] * Y + t[:, 0] * X).add_(t[:, 2])  # (n, size, size)
    gy = (t[:, 4] * Y + t[:, 3] * X).add_(t[:, 5])
    return torch.stack([gx, gy], -1)


@torch.no_grad()
def render(p: FaceParams, size: int = 64, full_frame: bool = False) -> np.ndarray:
    """Render faces to (n, size, size, 3) uint8. Deterministic per face, independent of the batch."""
    layer = render_canonical(p, size, full_frame)
    layer = F.grid_sample(layer, pose_grid(p, size), mode="bilinear", padding_mode="zeros", align_corners=False)
    v = ((torch.arange(size, dtype=torch.float32) + 0.5) / size).reshape(1, 1, size, 1)
    top = torch.as_tensor(p.bg_top, dtype=torch.float32)[:, :, None, None]
    bottom = torch.as_tensor(p.bg_bottom, dtype=torch.float32)[:, :, None, None]
    out = layer[:, :3].add_(top.lerp(bottom, v) * (1.0 - layer[:, 3:]))
    bank = noise_bank(size)
    seeds = torch.as_tensor(p.noise_seed, dtype=torch.int64)
    sign = 1.0 - 2.0 * ((seeds // bank.shape[0]) % 2).float()
    sigma = torch.as_tensor(p.noise_sigma, dtype=torch.float32) * sign
    out.add_(bank[seeds % bank.shape[0]].mul_(sigma.reshape(-1, 1, 1, 1)))
    out = out.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    return out.permute(0, 2, 3, 1).contiguous().numpy()
