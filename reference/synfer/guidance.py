"""SynFER's semantic guidance rules as pure functions: which denoising steps are guided, and how the
classifier's gradient on the text embedding is normalised into a step.

Published (magnusdtd/SynFER `src/evaluate_synfer.py:483,516-517`): guide the last 40% of a 50-step DDIM
schedule (step index >= 30, t <= 381) and normalise the gradient per token, so every one of the L tokens moves
by exactly lambda. Ours before (kept as `"global"` for the committed tiny entries): one L2 norm over the whole
(L, D) embedding of a sample, so the whole step has length lambda.
"""

from __future__ import annotations

import math

import torch

GUIDANCE_NORMS = ("token", "global")  # per-token (published) | whole-embedding (our earlier reading)
PUBLISHED_GUIDANCE_START = 0.6  # guide step i of N when i >= 0.6 N: the reproduction's 20 of 50 steps (t <= 381)
TOKEN_EPS = 1e-8  # added to each token's norm (the reproduction's epsilon)
GLOBAL_EPS = 1e-12  # lower bound of the whole-embedding norm (our earlier code)


def check_guidance_start(start: int | float) -> None:
    """An int is a step index into the full schedule (>= 0); a float in [0, 1] a fraction of the schedule."""
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        raise ValueError(f"guidance_start must be a step index (int) or a fraction in [0, 1] (float), got {start!r}")
    if isinstance(start, int) and start < 0:
        raise ValueError(f"guidance_start as a step index must be >= 0, got {start}")
    if isinstance(start, float) and not 0.0 <= start <= 1.0:
        raise ValueError(f"guidance_start as a fraction must be in [0, 1], got {start}")


def first_guided_step(start: int | float, num_steps: int) -> int:
    """Index (0-based, into the full `num_steps` schedule) of the first guided step.

    int: that index; float f: the first i with i >= f * num_steps (0.6 -> 30 of 50, 15 of 25: t <= 381 / 361).
    """
    check_guidance_start(start)
    if isinstance(start, int):
        return start
    return math.ceil(start * num_steps - 1e-9)


def embedding_step(grad: torch.Tensor, step_size: float, mode: str) -> torch.Tensor:
    """(B, L, D) cross-entropy gradient on the text embedding -> the step to subtract from it (B, L, D).

    token: each token's D-vector scaled to L2 norm `step_size` (zero tokens, e.g. unguided rows, stay zero);
    global: each sample's whole (L, D) gradient scaled to L2 norm `step_size` (computed in our earlier order,
    so the committed tiny entries stay bit-identical).
    """
    if mode == "token":
        return step_size * (grad / (grad.norm(dim=-1, keepdim=True) + TOKEN_EPS))  # (B, L, 1) norms
    if mode == "global":
        return step_size * grad / grad.flatten(1).norm(dim=1).clamp_min(GLOBAL_EPS)[:, None, None]  # (B, 1, 1)
    raise ValueError(f"guidance_norm must be one of {', '.join(GUIDANCE_NORMS)}, got {mode!r}")
