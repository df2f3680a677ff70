"""World training batches for the reference generators: a pure function of (seed, step).

Batch `step` holds world *train* samples [step*B, (step+1)*B) (fresh faces every step, never a test or val
identity), the labels they were drawn with, the prompt, and a neutral reference face of the same identity
(MAUGen's identity branch).

`WorldBatch` is also the batch contract of the SD-size trainers (reference/common/sd15train.py `LabelledFaces`):
- `aus` holds a number in every cell, but only cells where `au_mask` is true are labels; elsewhere it holds 0 as a
  placeholder that no loss may read as "absent" (mask it, as MAUGen's label losses do) and no condition may
  present as a label without saying so. `au_mask` None on construction becomes all-true (world batches label
  every AU: their tensors and losses are unchanged).
- `expression` is -1 in a row without an expression label. A stage that reads expressions asks its producer to
  require them (`LabelledFaces(need_expression=True)` refuses such rows by name); nothing defaults them to neutral.
- `prompts` are the captions the model is trained on; their rule (the set's own, the world grammar) is the
  producer's, stated in the run's training.json.
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
    aus: torch.Tensor  # (B, 17) float intensities 0-5 (0 where au_mask is false: a placeholder, not a label)
    expression: torch.Tensor  # (B,) long 0-7, -1 = not labelled (see the module docstring)
    prompts: list[str]  # B captions of `aus`
    references: torch.Tensor  # (B, 3, R, R) float in [-1, 1]: same identity, neutral, frontal
    au_mask: torch.Tensor | None = None  # (B, 17) bool: the AU is labelled in this row (None -> all true)
    regions: torch.Tensor | None = None  # (B, 1, S, S) float: each face's inpainting region (1 = regenerate), e.g. its
    #                                      head (bench/data/headregions.py); None = the trainer draws its own

    def __post_init__(self):
        if self.au_mask is None:
            self.au_mask = torch.ones(self.aus.shape, dtype=torch.bool, device=self.aus.device)


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
