"""World parameters: identities (with demographics), expressions -> AU vectors, nuisance; splits.

Every array here is a pure function of (world seed, split, sample index) through `bench.world.rng`, so
the world is reproducible sample by sample. Units of geometry: the canonical face frame, x and y in
[-1, 1] across the image, y pointing down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from bench.core.errors import UsageError
from bench.data.aus import AU_INDEX, N_AUS, N_EXPRESSIONS
from bench.world.rng import Draws

SPLITS = ("train", "val", "test")

#: EMFACS-style prototype AUs per expression (AffectNet codes). The first AU is the core one, never dropped.
PROTOTYPES: dict[int, tuple[int, ...]] = {
    0: (), 1: (12, 6), 2: (15, 1, 4), 3: (1, 2, 5, 26), 4: (1, 2, 4, 5, 7, 20, 26),
    5: (9, 10, 15), 6: (4, 5, 7, 23), 7: (12, 14),
}
#: AUs that often join a prototype, with their probability (AU24 joins several so it is not read as "AU23's twin").
OPTIONAL: dict[int, dict[int, float]] = {
    1: {25: 0.4, 26: 0.1}, 2: {17: 0.4, 6: 0.1, 24: 0.3}, 3: {25: 0.6}, 4: {25: 0.5},
    5: {17: 0.3, 25: 0.3, 4: 0.3, 24: 0.25}, 6: {24: 0.4, 10: 0.2, 17: 0.3}, 7: {24: 0.3},
}
#: Expressions whose prototype is one-sided (contempt: unilateral 12+14).
UNILATERAL = {7: (12, 14)}

#: Skin tone groups (6, light to dark), sRGB in [0, 1].
SKIN_TONES = np.array([
    [0.96, 0.84, 0.76], [0.90, 0.73, 0.61], [0.80, 0.61, 0.47],
    [0.66, 0.47, 0.33], [0.50, 0.34, 0.23], [0.34, 0.22, 0.15],
])
HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05], [0.22, 0.14, 0.09], [0.40, 0.26, 0.15], [0.80, 0.68, 0.42], [0.60, 0.25, 0.10],
])
IRIS_COLOURS = np.array([
    [0.35, 0.20, 0.10], [0.15, 0.10, 0.07], [0.30, 0.45, 0.65], [0.30, 0.45, 0.30], [0.45, 0.35, 0.20],
])
GENDERS = ("feminine", "masculine")  # presentation, drawn by visible cues (hair length, brows, jaw, stubble)
AGE_GROUPS = ("young", "adult", "old")  # young: round face, big eyes; old: grey hair, eye bags, jowls


@dataclass(frozen=True)
class WorldConfig:
    """Settings of the embedded FACS world (all of them change pixels or labels)."""

    seed: int = 0  # world seed: changes every identity and every sample
    image_size: int = 64  # output side in pixels, 32-256
    identities: tuple[int, int, int] = (1500, 250, 250)  # identity pool size of train/val/test (disjoint)
    blend_prob: float = 0.4  # chance a sample mixes in a second expression's prototype, weakened
    spontaneous_prob: float = 0.05  # chance each AU fires on its own at low intensity
    drop_prob: float = 0.15  # chance a non-core prototype AU is left out

    def __post_init__(self):
        if not 32 <= self.image_size <= 256:
            raise UsageError(f"image_size {self.image_size} outside 32-256")


@dataclass
class FaceParams:
    """Everything that determines one batch of faces; arrays have a leading batch dimension n."""

    identity: np.ndarray  # (n,) int64 identity id (global across splits)
    skin_tone: np.ndarray  # (n,) int64 0-5
    gender: np.ndarray  # (n,) int64 0 feminine, 1 masculine (presentation)
    age_group: np.ndarray  # (n,) int64 0 young, 1 adult, 2 old
    skin_rgb: np.ndarray  # (n, 3)
    hair_rgb: np.ndarray  # (n, 3)
    iris_rgb: np.ndarray  # (n, 3)
    lip_rgb: np.ndarray  # (n, 3)
    long_hair: np.ndarray  # (n,) 0/1
    stubble: np.ndarray  # (n,) 0-1 strength of lower-face shading
    face_w: np.ndarray  # (n,) face half-width
    face_hu: np.ndarray  # (n,) face half-height above the centre
    face_hl: np.ndarray  # (n,) face half-height below the centre (jaw)
    jaw_x: np.ndarray  # (n,) jaw width as a fraction of face_w
    eye_dx: np.ndarray  # (n,) eye centre distance from the midline
    eye_y: np.ndarray  # (n,) eye centre height
    eye_w: np.ndarray  # (n,) eye half-width
    eye_h: np.ndarray  # (n,) upper-lid opening at rest
    eye_hl: np.ndarray  # (n,) lower-lid opening at rest
    iris_r: np.ndarray  # (n,) iris radius
    brow_gap: np.ndarray  # (n,) brow height above the eye centre
    brow_t: np.ndarray  # (n,) brow thickness
    nose_len: np.ndarray  # (n,) nose tip height
    nose_w: np.ndarray  # (n,) nostril spacing
    mouth_y: np.ndarray  # (n,) mouth seam height
    mouth_w: np.ndarray  # (n,) mouth half-width at rest
    lip_tu: np.ndarray  # (n,) upper lip thickness
    lip_tl: np.ndarray  # (n,) lower lip thickness
    hairline: np.ndarray  # (n,) hairline height at the midline
    expression: np.ndarray  # (n,) int64 AffectNet code 0-7
    aus: np.ndarray  # (n, 17) float32 canonical AU intensities 0-5
    asym: np.ndarray  # (n,) -1/0/+1: unilateral AU12/AU14 on the left/both/right side
    roll: np.ndarray  # (n,) head roll, radians
    yaw: np.ndarray  # (n,) head yaw in [-1, 1] (shifts inner features sideways)
    scale: np.ndarray  # (n,) face scale in the image
    tx: np.ndarray  # (n,) horizontal offset
    ty: np.ndarray  # (n,) vertical offset
    light_x: np.ndarray  # (n,) horizontal light gradient
    light_y: np.ndarray  # (n,) vertical light gradient
    bright: np.ndarray  # (n,) overall brightness
    bg_top: np.ndarray  # (n, 3) background colour at the top
    bg_bottom: np.ndarray  # (n, 3) background colour at the bottom
    noise_sigma: np.ndarray  # (n,) pixel noise std (0-1 scale)
    noise_seed: np.ndarray  # (n,) int64 seed of the pixel noise

    def __len__(self) -> int:
        return len(self.identity)

    def take(self, idx) -> FaceParams:
        """Subset (or reorder) the batch."""
        return FaceParams(**{f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)})

    def replace(self, **changes) -> FaceParams:
        return dataclasses.replace(self, **changes)

    @staticmethod
    def concat(parts: list[FaceParams]) -> FaceParams:
        return FaceParams(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                             for f in dataclasses.fields(FaceParams)})


def split_identity_range(cfg: WorldConfig, split: str) -> tuple[int, int]:
    """[start, stop) of the identity ids that belong to `split`."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    k = SPLITS.index(split)
    start = sum(cfg.identities[:k])
    return start, start + cfg.identities[k]


def identity_params(cfg: WorldConfig, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Identity fields of FaceParams for identity ids (n,)."""
    d = Draws(cfg.seed, "identity", ids)
    tone, gender, age = d.integers("skin", 6), d.integers("gender", 2), d.integers("age", 3)
    young, old, fem = age == 0, age == 2, gender == 0
    skin = SKIN_TONES[tone] * (1 + 0.025 * np.stack([d.normal(f"skin{c}") for c in range(3)], 1).clip(-2, 2))
    grey = d.uniform("grey", 0.62, 0.85)[:, None] * np.array([1.0, 1.0, 0.97])
    hair = HAIR_COLOURS[d.integers("hair", len(HAIR_COLOURS))] * (1 + 0.08 * d.normal("hairj")[:, None].clip(-2, 2))
    hair = np.where(old[:, None], grey, hair)
    eye_scale = np.where(young, 1.15, 1.0)
    lip = skin * np.array([0.85, 0.55, 0.55]) + fem[:, None] * np.array([0.10, 0.0, 0.03])
    u = d.uniform
    return dict(
        identity=np.asarray(ids, np.int64), skin_tone=tone, gender=gender, age_group=age,
        skin_rgb=skin.clip(0, 1), hair_rgb=hair.clip(0, 1), lip_rgb=lip.clip(0, 1),
        iris_rgb=IRIS_COLOURS[d.integers("iris", len(IRIS_COLOURS))],
        long_hair=fem.astype(np.float64),
        stubble=np.where(~fem & (u("stubble?") < 0.6), u("stubble", 0.5, 1.0), 0.0),
        face_w=np.where(young, u("fw", 0.61, 0.65), u("fw", 0.55, 0.59)),
        face_hu=u("fhu", 0.74, 0.78), face_hl=u("fhl", 0.60, 0.64),
        jaw_x=np.where(fem, u("jaw", 0.84, 0.88), u("jaw", 0.95, 0.99)),
        eye_dx=u("edx", 0.25, 0.29), eye_y=u("ey", -0.17, -0.13),
        eye_w=u("ew", 0.13, 0.145) * eye_scale, eye_h=u("eh", 0.055, 0.065) * eye_scale,
        eye_hl=u("ehl", 0.045, 0.055) * eye_scale, iris_r=u("ir", 0.048, 0.055) * np.where(young, 1.1, 1.0),
        brow_gap=u("bg", 0.15, 0.18), brow_t=np.where(fem, u("bt", 0.035, 0.045), u("bt", 0.055, 0.065)),
        nose_len=u("nl", 0.12, 0.17), nose_w=u("nw", 0.05, 0.065) * np.where(young, 0.85, 1.0),
        mouth_y=u("my", 0.33, 0.37), mouth_w=u("mw", 0.15, 0.18),
        lip_tu=u("ltu", 0.035, 0.045) * np.where(fem, 1.1, 1.0) * np.where(old, 0.8, 1.0),
        lip_tl=u("ltl", 0.045, 0.055) * np.where(fem, 1.1, 1.0) * np.where(old, 0.8, 1.0),
        hairline=u("hl", -0.66, -0.61),
    )


def _mask_matrix(table: dict[int, tuple[int, ...]]) -> np.ndarray:
    m = np.zeros((N_EXPRESSIONS, N_AUS), dtype=bool)
    for e, aus in table.items():
        m[e, [AU_INDEX[a] for a in aus]] = True
    return m


_PROTO = _mask_matrix(PROTOTYPES)
_CORE = _mask_matrix({e: aus[:1] for e, aus in PROTOTYPES.items()})
_OPT = np.zeros((N_EXPRESSIONS, N_AUS))
for _e, _aus in OPTIONAL.items():
    for _a, _p in _aus.items():
        _OPT[_e, AU_INDEX[_a]] = _p


def expression_aus(cfg: WorldConfig, d: Draws, expression: np.ndarray) -> np.ndarray:
    """(n, 17) float32 AU intensities for expressions (n,): prototype, optional AUs, blends, noise.

    Every intensity is 0 or in [1, 5] (FACS has no level below A), so occurrence is crisp.
    """
    n = len(expression)
    strength = d.uniform("strength", 0.25, 1.0)[:, None]
    jitter = np.stack([d.uniform(f"jit{a}", 0.6, 1.15) for a in range(N_AUS)], 1)
    keep = _CORE[expression] | (_PROTO[expression] & ~np.stack(
        [d.bernoulli(f"drop{a}", cfg.drop_prob) for a in range(N_AUS)], 1))
    aus = np.where(keep, 1.0 + 4.0 * strength * jitter, 0.0)
    opt_on = np.stack([d.uniform(f"opt{a}") for a in range(N_AUS)], 1) < _OPT[expression]
    aus = np.maximum(aus, np.where(opt_on, 1.0 + 3.0 * strength * np.stack(
        [d.uniform(f"optv{a}") for a in range(N_AUS)], 1), 0.0))
    # blend: a second expression's prototype, weakened (halved again for neutral faces)
    second = (expression + 1 + d.integers("blend_expr", N_EXPRESSIONS - 1)) % N_EXPRESSIONS
    weight = d.uniform("blend_w", 0.3, 0.95) * np.where(expression == 0, 0.5, 1.0)
    blend_on = d.bernoulli("blend", cfg.blend_prob)
    blend = np.where(_PROTO[second] & blend_on[:, None],
                     (1.0 + 4.0 * d.uniform("blend_s", 0.35, 1.0)[:, None] * jitter) * weight[:, None], 0.0)
    aus = np.maximum(aus, blend)
    spont = np.stack([d.bernoulli(f"spont{a}", cfg.spontaneous_prob) for a in range(N_AUS)], 1)
    aus = np.maximum(aus, np.where(spont, np.stack([d.uniform(f"spv{a}", 1.0, 2.5) for a in range(N_AUS)], 1), 0))
    aus = np.where(aus < 1.0, 0.0, aus)  # FACS codes nothing below level A: an AU is absent or >= 1
    return np.round(aus.clip(0.0, 5.0), 2).astype(np.float32).reshape(n, N_AUS)


def sample_params(cfg: WorldConfig, split: str, indices) -> FaceParams:
    """FaceParams of samples `indices` (n,) of `split`; identical whatever batch they are drawn in."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and indices.min() < 0:
        raise UsageError("sample indices must be >= 0")
    d = Draws(cfg.seed, f"sample/{split}", indices)
    lo, hi = split_identity_range(cfg, split)
    ids = lo + d.integers("identity", hi - lo)
    ident = identity_params(cfg, ids)
    expression = d.integers("expression", N_EXPRESSIONS)
    aus = expression_aus(cfg, d, expression)
    side = np.where(d.bernoulli("side", 0.5), 1.0, -1.0)
    asym = np.where(expression == 7, side, 0.0)
    u = d.uniform
    return FaceParams(
        **ident, expression=expression, aus=aus, asym=asym,
        roll=u("roll", -1, 1) * np.deg2rad(10.0), yaw=u("yaw", -1, 1), scale=u("scale", 1.05, 1.15),
        tx=u("tx", -0.04, 0.04), ty=u("ty", -0.11, -0.03),  # tight crop, like aligned AU datasets
        light_x=u("lx", -0.15, 0.15), light_y=u("ly", -0.15, 0.15), bright=u("bright", 0.94, 1.06),
        bg_top=np.stack([u(f"bgt{c}", 0.15, 0.85) for c in range(3)], 1),
        bg_bottom=np.stack([u(f"bgb{c}", 0.15, 0.85) for c in range(3)], 1),
        noise_sigma=u("noise", 0.0, 0.02), noise_seed=d.seeds("noise_seed"),
    )


def neutral_pose(p: FaceParams) -> FaceParams:
    """The same faces looking straight at the camera, centred, evenly lit, without noise (for tests/figures)."""
    z = np.zeros(len(p))
    return p.replace(roll=z, yaw=z, scale=np.full(len(p), 1.1), tx=z, ty=np.full(len(p), -0.07), light_x=z, light_y=z,
                     bright=np.ones(len(p)), noise_sigma=z)
