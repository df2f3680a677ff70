"""The condition suite of a world protocol: the labels, prompts and identities of world samples of one split,
as the Conditions a generator is asked for."""

from __future__ import annotations

import numpy as np

from bench.data.conditions import Condition
from bench.world.params import WorldConfig, sample_params
from bench.world.prompts import prompt_from_aus


def world_conditions(world: dict, split: str, n: int, start: int = 0, seed_offset: int = 0) -> list[Condition]:
    """Labels, prompts and identities of world `split` samples start..start+n-1, as Conditions; sample i asks
    for generation seed i + seed_offset."""
    cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
    out = []
    for lo in range(start, start + n, 4096):
        p = sample_params(cfg, split, np.arange(lo, min(start + n, lo + 4096)))
        for j in range(len(p)):
            out.append(Condition(index=lo + j, seed=lo + j + seed_offset, prompt=prompt_from_aus(p.aus[j]),
                                 aus=p.aus[j], expression=int(p.expression[j]), identity=f"w{int(p.identity[j])}",
                                 demographics={"skin_tone": int(p.skin_tone[j]), "gender": int(p.gender[j]),
                                               "age_group": int(p.age_group[j])}))
    return out


def suite_conditions(proto, n: int | None = None) -> list[Condition]:
    """THE condition suite of a world protocol (its `conditions` section), or its first `n` conditions."""
    c = proto.conditions
    return world_conditions(proto.world.as_dict(), c.split, n or c.n, start=c.start or 0,
                            seed_offset=c.seed_offset or 0)
