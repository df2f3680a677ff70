"""Fault variants: the `real` control with one graded fault, the generators of the metric meta-evaluation
(bench.studies.metaeval, docs/metaeval.md).

    augen submit generator:world-fault --option fault=blur --option level=0.5

`world-fault` renders the world samples behind the protocol's conditions (as `real` does) and spoils them with
one fault of `FAULTS`, graded by `level` (0: exactly the `real` control; 1: the strongest of the graded range).
Every random draw is a pure function of (`seed`, fault, the sample's world index), so a set is identical
whatever shards or batches it is generated in, and one sample's draws are the same at every level (a higher
level hits a superset of the samples a lower one hits).

Families of faults:

- image:        the pixels degrade, the labels stay true (`pixel_noise`, `blur`, `jpeg`, `downsample`)
- label:        the images stay real, the claimed labels are wrong (`label_noise`, `au_dropout`,
                `intensity_bias`, `expression_swap`)
- distribution: each sample is a real world image with its true labels, but the mix changes
                (`expression_imbalance`, `mode_drop`, `identity_collapse`, `demographic_skew`); a replaced condition
                is answered by a world val sample of the replacement pool (indices from `POOL_START` on, far beyond
                any protocol's conditions), so the set still holds one sample per condition, in order
- memorization: `train_copies`, world *train* images with their true labels
- mixture:      `mixture`, a share of the images replaced by uniform noise (the `noise` control's output)
"""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from bench.core.errors import UsageError
from bench.core.registry import GENERATORS
from bench.data.aus import N_AUS, N_EXPRESSIONS
from bench.data.conditions import Condition
from bench.generation.controls import _WorldControl
from bench.world.params import FaceParams, identity_params, sample_params, split_identity_range

POOL_START = 50_000  # world val indices from here on answer replaced conditions (distribution faults)
POOL_CHUNK = 8192  # pool samples drawn at a time while looking for members of a predicate
DOMINANT_EXPRESSION = 1  # expression_imbalance: happy dominates
DROP_ORDER = (7, 6, 5, 4, 3, 2, 0)  # mode_drop: the classes dropped first; happy (1) is never dropped
SKEW_GROUP = {"skin_tone": 0, "gender": 1}  # demographic_skew: light-skinned masculine faces dominate


# -- the faults, one pure function each ------------------------------------------------------------------------


def add_pixel_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 + Gaussian noise of std `sigma` (0-255 units), rounded and clipped."""
    noise = rng.standard_normal(image.shape) * sigma
    return np.clip(np.rint(image.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, radius: float) -> np.ndarray:
    """(H, W, 3) uint8 blurred by a Gaussian of std `radius` pixels (each channel; edges reflected)."""
    out = gaussian_filter(image.astype(np.float64), sigma=(radius, radius, 0.0), mode="reflect")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """(H, W, 3) uint8 encoded as a JPEG of `quality` (1-95, PIL, 4:2:0 chroma) and decoded again."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)


def colour_cast(image: np.ndarray, strength: float) -> np.ndarray:
    """(H, W, 3) uint8 with a warm cast: red scaled by 1 + `strength`, blue by 1 - `strength` (0-1), rounded and
    clipped; green unchanged."""
    gains = np.array([1.0 + strength, 1.0, 1.0 - strength])
    return np.clip(np.rint(image.astype(np.float64) * gains), 0, 255).astype(np.uint8)


def down_up(image: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 resampled down to side x side (antialiased bilinear) and back up to H x W (bilinear)."""
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.uint8)


def flip_occurrences(aus: np.ndarray, hit: np.ndarray, new_intensity: np.ndarray) -> np.ndarray:
    """(17,) intensities with the AUs where `hit` (17,) bool flipped: a present AU becomes 0, an absent one
    `new_intensity` (17,) (in [1, 5])."""
    flipped = np.where(aus >= 1.0, 0.0, new_intensity)
    return np.where(hit, flipped, aus)


def drop_aus(aus: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """(17,) intensities with the AUs where `hit` (17,) bool set to 0."""
    return np.where(hit, 0.0, aus)


def bias_intensities(aus: np.ndarray, bias: float) -> np.ndarray:
    """(17,) intensities with `bias` added to the present AUs (>= 1), clipped to 5; occurrence is unchanged."""
    return np.where(aus >= 1.0, np.clip(aus + bias, 0.0, 5.0), aus)


def wrong_class(expression: int, offset: int) -> int:
    """Another expression class: `expression` + `offset` (1..7) modulo 8."""
    return (expression + offset) % N_EXPRESSIONS


def collapse_identities(ids: np.ndarray, lo: int, k: int) -> np.ndarray:
    """(n,) identity ids of a split starting at `lo` mapped onto the split's first `k` identities."""
    return lo + (ids - lo) % k


def is_dominant(pool: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) bool: pool samples of the dominant expression (expression_imbalance)."""
    return pool["expression"] == DOMINANT_EXPRESSION


def in_skew_group(pool: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) bool: pool samples of the group that dominates under demographic_skew."""
    return (pool["skin_tone"] == SKEW_GROUP["skin_tone"]) & (pool["gender"] == SKEW_GROUP["gender"])


def not_dropped(pool: dict[str, np.ndarray], dropped: np.ndarray) -> np.ndarray:
    """(n,) bool: pool samples whose expression is not one of the `dropped` classes (mode_drop)."""
    return ~np.isin(pool["expression"], dropped)


# -- levels -> fault parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSpec:
    """One fault: what it does and how `level` (0-1) sets its parameter."""

    family: str  # image, label, distribution, memorization or mixture
    parameter: str  # what the level sets, in words (with units)
    strength: Callable[[float, int, int], float]  # (level, image side, identities of the split) -> parameter value
    doc: str  # what the fault does


FAULTS: dict[str, FaultSpec] = {
    "none": FaultSpec("none", "-", lambda lv, s, k: 0.0, "the real control (level must be 0)"),
    "pixel_noise": FaultSpec("image", "noise std (0-255)", lambda lv, s, k: 48.0 * lv,
                             "Gaussian pixel noise added to every image"),
    "blur": FaultSpec("image", "Gaussian blur std (px)", lambda lv, s, k: 2.5 * lv, "every image blurred"),
    "jpeg": FaultSpec("image", "JPEG quality", lambda lv, s, k: max(1, round(100 - 95 * lv)),
                      "every image JPEG-compressed"),
    "downsample": FaultSpec("image", "side resampled through (px)", lambda lv, s, k: max(2, round(s / 8.0 ** lv)),
                            "every image resampled down and back up"),
    "label_noise": FaultSpec("label", "flip probability", lambda lv, s, k: 0.5 * lv,
                             "each claimed AU occurrence flipped, and the claimed expression replaced by another "
                             "class, with this probability"),
    "au_dropout": FaultSpec("label", "drop probability", lambda lv, s, k: float(lv),
                            "each claimed AU zeroed with this probability"),
    "intensity_bias": FaultSpec("label", "bias (intensity units)", lambda lv, s, k: 3.0 * lv,
                                "claimed intensities of present AUs raised by the bias (clipped to 5)"),
    "expression_swap": FaultSpec("label", "share swapped", lambda lv, s, k: float(lv),
                                 "this share of claimed expressions replaced by a fixed wrong class (code + 1)"),
    "expression_imbalance": FaultSpec("distribution", "share replaced", lambda lv, s, k: 0.8 * lv,
                                      "this share of samples replaced by pool samples of one class (happy)"),
    "mode_drop": FaultSpec("distribution", "classes dropped", lambda lv, s, k: float(np.ceil(7 * lv - 1e-9)),
                           "samples of the dropped classes replaced by pool samples of the other classes"),
    "identity_collapse": FaultSpec("distribution", "identities left",
                                   lambda lv, s, k: float(max(1, round(k ** (1 - lv)))),
                                   "faces drawn from the split's first K = identities ** (1 - level) identities "
                                   "only (labels stay true)"),
    "demographic_skew": FaultSpec("distribution", "share replaced", lambda lv, s, k: 0.8 * lv,
                                  "this share of samples replaced by pool samples of one group (skin tone 0, "
                                  "masculine)"),
    "train_copies": FaultSpec("memorization", "share copied", lambda lv, s, k: float(lv),
                              "this share of samples replaced by world train images (train index = condition "
                              "index) with their true labels"),
    "mixture": FaultSpec("mixture", "share of noise images", lambda lv, s, k: float(lv),
                         "this share of images replaced by uniform noise (labels kept)"),
}

LEVELS = (0.25, 0.5, 1.0)  # the graded levels of every fault in VARIANTS


def _variants() -> list[tuple[str, float]]:
    """(fault, level): the real control, then every fault at full strength, then at half, then at a quarter (so
    any prefix spreads over the faults)."""
    faults = [f for f in FAULTS if f != "none"]
    return [("none", 0.0)] + [(f, lv) for lv in sorted(LEVELS, reverse=True) for f in faults]


VARIANTS: list[tuple[str, float]] = _variants()


def variant_name(fault: str, level: float) -> str:
    """The file name of a variant, e.g. fault-blur-0.50 (`_` -> `-`, so it is also a valid submission name)."""
    return f"fault-{fault.replace('_', '-')}-{level:.2f}"


def _key(fault: str) -> int:
    return zlib.crc32(fault.encode())


# -- the generator -----------------------------------------------------------------------------------------------


@GENERATORS.register("world-fault", needs=("world",))
class FaultGenerator(_WorldControl):
    """The `real` control with one fault of `FAULTS` at `level` (0-1). `seed` seeds the fault's draws; `start`
    answers condition i with world sample i + start (a redrawn condition set, for rank stability); `n`, the number
    of conditions the set answers (the protocol's), lets `real_data` declare how many real labelled world images
    the data is made of (0: nothing declared)."""

    name = "world-fault"
    version = "1"
    expression_labelled = True

    def __init__(self, fault: str, level: float, seed: int = 0, split: str = "val", start: int = 0, n: int = 0,
                 world: dict | None = None):
        if fault not in FAULTS:
            raise UsageError(f"world-fault: unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0.0 <= level <= 1.0:
            raise UsageError(f"world-fault: level must be a number in [0, 1], not {level!r}")
        if fault == "none" and level != 0:
            raise UsageError(f"world-fault: fault 'none' is the real control; its level must be 0, not {level!r}")
        for k, v in (("seed", seed), ("start", start), ("n", n)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise UsageError(f"world-fault: {k} must be an integer >= 0, not {v!r}")
        super().__init__(world=world, split=split, seed=seed)
        self.fault, self.level, self.start = fault, float(level), start
        self.spec = FAULTS[fault]
        lo, hi = split_identity_range(self.cfg, split)
        self.strength = self.spec.strength(self.level, self.cfg.image_size, hi - lo)
        self.config = {**self.config, "fault": fault, "level": self.level, "start": start, "n": n}
        self._pool: dict[str, np.ndarray] = {}  # pool sample fields, grown on demand
        self._members: dict[str, np.ndarray] = {}  # predicate name -> pool world indices satisfying it
        self.real_data = self._real_data(n)  # recorded in the manifest before any sample is generated

    def _real_data(self, n: int) -> dict:
        """What the data of conditions 0..n-1 is made of: {labelled_images: world images with labels (all but the
        mixture's noise images), split, train_images: of them world train copies}; {} (nothing declared) when
        `n` is 0. Exact: every draw is a function of (seed, fault, world index)."""
        if n == 0:
            return {}
        conds = [Condition(index=i, seed=i, prompt="", aus=np.zeros(N_AUS, np.float32), expression=-1)
                 for i in range(n)]
        hits = sum(self._hit(c, self.strength) for c in conds) if self.level > 0 else 0
        noise = hits if self.fault == "mixture" else 0
        train = hits if self.fault == "train_copies" else 0
        return {"labelled_images": n - noise, "split": self.split, "train_images": train}

    # draws and sources --------------------------------------------------------------------------------------------

    def _world_index(self, c: Condition) -> int:
        return c.index + self.start

    def _rng(self, c: Condition) -> np.random.Generator:
        """The fault's draws for one condition: a function of (seed, fault, world index) only."""
        return np.random.default_rng([self.seed, _key(self.fault), self._world_index(c)])

    def _hit(self, c: Condition, share: float) -> bool:
        """Whether this condition's sample is hit by a fault that hits a `share` of them (the first draw)."""
        return bool(self._rng(c).random() < share)

    def _grow_pool(self) -> None:
        lo = POOL_START + len(self._pool.get("expression", ()))
        p = sample_params(self.cfg, self.split, np.arange(lo, lo + POOL_CHUNK))
        for k in ("expression", "skin_tone", "gender"):
            self._pool[k] = np.concatenate([self._pool.get(k, np.empty(0, np.int64)), getattr(p, k)])

    def _member(self, name: str, keep: Callable[[dict], np.ndarray], k: int) -> int:
        """World index of the k-th pool sample for which `keep(pool fields) -> (n,) bool` holds (named `name`)."""
        while k >= len(self._members.get(name, ())):
            if len(self._pool.get("expression", ())) >= 1000 * POOL_CHUNK:
                raise RuntimeError(f"world-fault: pool predicate {name!r} is (almost) never satisfied")
            self._grow_pool()
            self._members[name] = POOL_START + np.flatnonzero(keep(self._pool))
        return int(self._members[name][k])

    def _sources(self, conds: list[Condition]) -> list[tuple[str, int]]:
        """(split, index) of the world sample that answers each condition."""
        w = [self._world_index(c) for c in conds]
        if max(w) >= POOL_START:
            raise UsageError(f"world-fault: conditions reach world index {max(w)}, inside the replacement pool "
                             f"(from {POOL_START}); use fewer conditions or a smaller start")
        f, s = self.fault, self.strength
        src = [(self.split, i) for i in w]
        if self.level == 0:
            return src
        if f == "expression_imbalance":
            return [(self.split, self._member(f, is_dominant, i)) if self._hit(c, s) else x
                    for c, i, x in zip(conds, w, src)]
        if f == "demographic_skew":
            return [(self.split, self._member(f, in_skew_group, i)) if self._hit(c, s) else x
                    for c, i, x in zip(conds, w, src)]
        if f == "mode_drop":
            dropped = np.array(DROP_ORDER[:int(s)])
            own = sample_params(self.cfg, self.split, w).expression
            keep = functools.partial(not_dropped, dropped=dropped)
            return [(self.split, self._member(f"{f}-{int(s)}", keep, i)) if e in dropped else x
                    for e, i, x in zip(own, w, src)]
        if f == "train_copies":
            return [("train", c.index) if self._hit(c, s) else x for c, x in zip(conds, src)]
        return src

    # the three stages of _WorldControl.generate --------------------------------------------------------------------

    def _params(self, conds: list[Condition]) -> FaceParams:
        src = self._sources(conds)
        p = _gather(self.cfg, src)
        if self.fault == "identity_collapse" and self.level > 0:
            lo, _ = split_identity_range(self.cfg, self.split)
            p = p.replace(**identity_params(self.cfg, collapse_identities(p.identity, lo, int(self.strength))))
        return p

    def _images(self, p: FaceParams, conds: list[Condition]) -> np.ndarray:
        images = super()._images(p, conds)
        f, s = self.fault, self.strength
        if self.level > 0 and self.spec.family in ("image", "mixture"):
            images = np.stack([self._spoil(img, c, f, s) for img, c in zip(images, conds)])
        return images

    def _spoil(self, img: np.ndarray, c: Condition, f: str, s: float) -> np.ndarray:
        """One image through the image fault (or the mixture's noise), (H, W, 3) uint8 -> same."""
        if f == "pixel_noise":
            rng = self._rng(c)
            rng.random()  # the selection draw, unused: every image is hit
            return add_pixel_noise(img, s, rng)
        if f == "blur":
            return gaussian_blur(img, s)
        if f == "jpeg":
            return jpeg_roundtrip(img, int(s))
        if f == "downsample":
            return down_up(img, int(s))
        rng = self._rng(c)  # mixture
        if rng.random() < s:
            return rng.integers(0, 256, img.shape, dtype=np.uint8)
        return img

    def _labels(self, p: FaceParams, conds: list[Condition]) -> FaceParams:
        if self.level == 0 or self.spec.family != "label":
            return p
        aus, expr = p.aus.astype(np.float64), p.expression.copy()
        for j, c in enumerate(conds):
            aus[j], expr[j] = self._spoil_labels(aus[j], int(expr[j]), c)
        return p.replace(aus=np.round(aus, 2).astype(np.float32), expression=expr)

    def _spoil_labels(self, aus: np.ndarray, expr: int, c: Condition) -> tuple[np.ndarray, int]:
        """One sample's claimed (17,) intensities and expression through the label fault. Draws, in order: the
        selection draw, 17 AU draws, 17 new intensities, one expression draw, one class offset."""
        rng, f, s = self._rng(c), self.fault, self.strength
        selected = rng.random() < s
        hit = rng.random(N_AUS) < s
        new = np.round(rng.uniform(1.0, 5.0, N_AUS), 2)
        expr_hit = rng.random() < s
        offset = 1 + int(rng.integers(N_EXPRESSIONS - 1))
        if f == "label_noise":
            return flip_occurrences(aus, hit, new), wrong_class(expr, offset) if expr_hit else expr
        if f == "au_dropout":
            return drop_aus(aus, hit), expr
        if f == "intensity_bias":
            return bias_intensities(aus, s), expr
        if f == "expression_swap":
            return aus, wrong_class(expr, 1) if selected else expr
        raise AssertionError(f"{f} is not a label fault")


def _gather(cfg, src: list[tuple[str, int]]) -> FaceParams:
    """FaceParams of world samples (split, index), in the order given (one draw per split)."""
    splits = sorted({s for s, _ in src})
    parts, order = [], []
    for split in splits:
        rows = [j for j, (s, _) in enumerate(src) if s == split]
        parts.append(sample_params(cfg, split, [src[j][1] for j in rows]))
        order += rows
    p = parts[0] if len(parts) == 1 else FaceParams.concat(parts)
    return p.take(np.argsort(order, kind="stable"))
