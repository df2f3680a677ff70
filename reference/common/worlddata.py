"""World training batches for the reference generators: a pure function of (seed, step).

Batch `step` holds world *train* samples [step*B, (step+1)*B) (fresh faces every step, never a test or val
identity), the labels they were drawn with, the prompt, and a neutral reference face of the same identity
(MAUGen's identity branch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.data.aus import subset_indices
from bench.world.params import WorldConfig, neutral_pose, sample_params
from bench.world.prompts import prompt_from_aus
from bench.world.render import render


@dataclass
class WorldBatch:
    images: torch.Tensor  # (B, 3, S, S) float in [-1, 1]
    aus: torch.Tensor  # (B, 17) float intensities 0-5
    expression: torch.Tensor  # (B,) long 0-7
    prompts: list[str]  # B captions of `aus`
    references: torch.Tensor  # (B, 3, R, R) float in [-1, 1]: same identity, neutral, frontal


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def world_batch(cfg: WorldConfig, step: int, batch: int, split: str = "train", reference_size: int = 0,
                offset: int = 0) -> WorldBatch:
    idx = np.arange(offset + step * batch, offset + (step + 1) * batch)
    p = sample_params(cfg, split, idx)
    refs = torch.zeros(len(idx), 3, reference_size, reference_size)
    if reference_size:
        n = len(p)
        neutral = neutral_pose(p.replace(aus=np.zeros_like(p.aus), asym=np.zeros(n), expression=np.zeros(n, np.int64)))
        refs = F.interpolate(to_unit(render(neutral, cfg.image_size)), size=reference_size, mode="area")
    return WorldBatch(images=to_unit(render(p, cfg.image_size)), aus=torch.from_numpy(p.aus),
                      expression=torch.from_numpy(p.expression).long(),
                      prompts=[prompt_from_aus(a) for a in p.aus], references=refs)


def disfa12(aus: torch.Tensor) -> torch.Tensor:
    """(B, 17) -> (B, 12) the DISFA12 columns (MAUGen's label set)."""
    return aus[:, subset_indices("DISFA12")]
