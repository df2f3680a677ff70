"""Controls: generators that bound every metric of a protocol on the world (registered with `needs=("world",)`:
the harness hands them the protocol's world settings).

- `real`:      the world's own images for the requested labels (the best any generator can do)
- `shuffled`:  real images whose claimed labels belong to other samples (alignment at chance)
- `collapsed`: every face has one identity (diversity collapse; labels still true)
- `noise`:     uniform noise images with the requested labels (realism and alignment at their worst)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from bench.core.registry import GENERATORS
from bench.data.aus import AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample
from bench.world.params import FaceParams, WorldConfig, sample_params
from bench.world.prompts import prompt_from_aus
from bench.world.render import render

BATCH = 256
#: Generators that bound the metrics rather than compete: reference rows of a leaderboard, never ranked.
CONTROL_NAMES = ("real", "shuffled", "collapsed", "noise")


class _WorldControl:
    """Shared machinery: render the world samples behind a batch of conditions."""

    version = "1"
    labelled_aus = AUS

    def __init__(self, world: dict | None = None, split: str = "val", seed: int = 0):
        world = world or {"seed": 0, "image_size": 64}
        self.cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
        self.split, self.seed = split, seed
        self.image_size = (self.cfg.image_size, self.cfg.image_size)
        self.config = {"world": dict(world), "split": split, "seed": seed}

    def _params(self, conds: list[Condition]) -> FaceParams:
        return sample_params(self.cfg, self.split, [c.index for c in conds])

    def _images(self, p: FaceParams, conds: list[Condition]) -> np.ndarray:
        return render(p, self.cfg.image_size)

    def _labels(self, p: FaceParams, conds: list[Condition]) -> FaceParams:
        return p

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        for lo in range(0, len(conditions), BATCH):
            conds = conditions[lo:lo + BATCH]
            p = self._params(conds)
            images, lab = self._images(p, conds), self._labels(p, conds)
            for j, c in enumerate(conds):
                yield Sample(image=images[j], intensity=lab.aus[j], expression=int(lab.expression[j]),
                             prompt=prompt_from_aus(lab.aus[j]), identity=f"w{int(p.identity[j])}", seed=c.seed,
                             attributes={"skin_tone": int(p.skin_tone[j]), "gender": int(p.gender[j]),
                                         "age_group": int(p.age_group[j])})


@GENERATORS.register("real", needs=("world",))
class RealControl(_WorldControl):
    name = "real"


@GENERATORS.register("shuffled", needs=("world",))
class ShuffledControl(_WorldControl):
    """Claimed labels are those of another condition (a seeded permutation); images are the real ones."""

    name = "shuffled"

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        perm = np.random.default_rng(self.seed).permutation(len(conditions))
        self._label_of = {c.index: conditions[k].index for c, k in zip(conditions, perm)}
        yield from super().generate(conditions)

    def _labels(self, p: FaceParams, conds: list[Condition]) -> FaceParams:
        return sample_params(self.cfg, self.split, [self._label_of[c.index] for c in conds])


@GENERATORS.register("collapsed", needs=("world",))
class CollapsedControl(_WorldControl):
    """Every face gets the identity (and demographics) of the first condition's face."""

    name = "collapsed"
    _IDENTITY_FIELDS = [f.name for f in dataclasses.fields(FaceParams)
                        if f.name not in {"expression", "aus", "asym", "roll", "yaw", "scale", "tx", "ty", "light_x",
                                          "light_y", "bright", "bg_top", "bg_bottom", "noise_sigma", "noise_seed"}]

    def _params(self, conds: list[Condition]) -> FaceParams:
        p = super()._params(conds)
        first = sample_params(self.cfg, self.split, [0])
        return p.replace(**{k: np.repeat(getattr(first, k), len(p), axis=0) for k in self._IDENTITY_FIELDS})


@GENERATORS.register("noise", needs=("world",))
class NoiseControl(_WorldControl):
    """Uniform noise images (seeded per condition) claiming the requested labels."""

    name = "noise"

    def _images(self, p: FaceParams, conds: list[Condition]) -> np.ndarray:
        h, w = self.image_size
        return np.stack([np.random.default_rng([self.seed, c.seed]).integers(0, 256, (h, w, 3), dtype=np.uint8)
                         for c in conds])
