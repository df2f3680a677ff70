"""Shared inputs for the MAUGen tests (tests/test_maugen.py: v1 and pure functions; test_maugen_published.py)."""

from __future__ import annotations

import numpy as np
import torch

PROMPTS = ["a face with clearly raised cheeks, strongly pulled-up lip corners", "a photo of <ID> <ID2>, a face",
           "a face with a neutral, relaxed expression"]


def inputs(n: int = 3, seed: int = 0) -> dict:
    """Pipeline call arguments for n rows: prompts, AU requests, reference faces, one generator per row, 2 steps."""
    r = np.random.RandomState(seed)
    return dict(prompt=PROMPTS[:n], au_intensity=torch.from_numpy(r.randint(0, 6, (n, 12))).float(),
                reference_image=torch.from_numpy(r.uniform(-1, 1, (n, 3, 64, 64))).float(),
                generator=[torch.Generator().manual_seed(i) for i in range(n)], num_inference_steps=2,
                guidance_scale=3.0)


def tiny_pipe(variant: str = "v1"):
    """build_tiny of that variant after torch.manual_seed(0), progress bar off."""
    from reference.maugen.config import MAUGenTinyConfig, build_tiny

    torch.manual_seed(0)
    p = build_tiny(MAUGenTinyConfig(variant=variant))
    p.set_progress_bar_config(disable=True)
    return p


def assert_batch_consistent(pipe) -> None:
    """Each row of a batch of 3 equals that row sampled alone (images within 1 level, probabilities 1e-4)."""
    full = pipe(**inputs(3))
    for i in range(3):
        one = inputs(3)
        single = pipe(prompt=[one["prompt"][i]], au_intensity=one["au_intensity"][i:i + 1],
                      reference_image=one["reference_image"][i:i + 1], generator=[one["generator"][i]],
                      num_inference_steps=2, guidance_scale=3.0)
        assert np.abs(single.images[0].astype(int) - full.images[i]).max() <= 1
        assert torch.allclose(single.au_probability[0], full.au_probability[i], atol=1e-4)
