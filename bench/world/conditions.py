"""The condition suite of a world protocol: the labels, prompts and identities of world samples of one split,
as the Conditions a generator is asked for."""

from __future__ import annotations

import numpy as np

from bench.data.conditions import Condition
from bench.world.params import WorldConfig, sample_params
from bench.world.prompts import prompt_from_aus


def world_conditions(world: dict, split: str, n: int, start: int = 0) -> list[Condition]:
    """The condition suite of a world protocol: labels, prompts and identities of `split` samples."""
    cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
    out = []
    for lo in range(start, start + n, 4096):
        p = sample_params(cfg, split, np.arange(lo, min(start + n, lo + 4096)))
        for j in range(len(p)):
            out.append(Condition(index=lo + j, seed=lo + j, prompt=prompt_from_aus(p.aus[j]), aus=p.aus[j],
                                 expression=int(p.expression[j]), identity=f"w{int(p.identity[j])}",
                                 demographics={"skin_tone": int(p.skin_tone[j]), "gender": int(p.gender[j]),
                                               "age_group": int(p.age_group[j])}))
    return out
