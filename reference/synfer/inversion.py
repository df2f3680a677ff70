"""DDIM inversion for SynFER: layout initialisation (invert a real face part of the way, then edit it) and
FERAnno's deterministic route from a clean latent to the small timestep t_small.

Layout (reproduction `src/evaluate_synfer.py:237-268,449,474`): invert 35 of 50 steps (strength 0.7, up to
t = 681) under the neutral prompt "a photo of a face" and zero AUs, then denoise only the remaining schedule
with the target prompt and AUs. Our earlier variant (strength 1.0, the target prompt and AUs) stays selectable.

Step convention (diffusers' DDIMInverseScheduler, our earlier code): K inverted steps evaluate the noise at the
ascending timesteps timesteps[N-1], ..., timesteps[N-K] (K UNet calls, the first from the clean latent's
alpha_bar_0). The reproduction treats the clean latent as already at timesteps[N-1] and evaluates the noise at
each step's start (K - 1 calls). Both end at timesteps[N - K], where the denoising loop starts.
"""

from __future__ import annotations

import math

import torch

INVERSION_SOURCES = ("neutral", "target")  # inversion condition: "a photo of a face" + zero AUs | the target's own
PUBLISHED_INVERSION_STRENGTH = 0.7  # the reproduction's 35 inverted steps of 50 (ev:115)
FERANNO_INVERSION_STEPS = 3  # DDIM steps from the clean latent to t_small (t = 17, 33, 50 for t_small = 50)


def inverted_steps(strength: float, num_steps: int) -> int:
    """How many of `num_steps` DDIM steps a layout inversion of `strength` in (0, 1] covers (nearest, >= 1)."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 < strength <= 1.0:
        raise ValueError(f"inversion_strength must be in (0, 1], got {strength!r}")
    return max(1, min(num_steps, math.floor(strength * num_steps + 0.5 + 1e-9)))


def feranno_timesteps(t_small: int, steps: int = FERANNO_INVERSION_STEPS) -> torch.Tensor:
    """Ascending timesteps (<= steps of them, the last = t_small) of FERAnno's inversion."""
    if isinstance(t_small, bool) or not isinstance(t_small, int) or t_small < 1:
        raise ValueError(f"t_small must be an int >= 1, got {t_small!r}")
    return torch.linspace(t_small / steps, t_small, steps).round().long().clamp_min(1).unique()


@torch.no_grad()
def ddim_invert_latents(pipe, z: torch.Tensor, timesteps: torch.Tensor, emb: torch.Tensor,
                        au: torch.Tensor | None, au_scale: float = 1.0) -> torch.Tensor:
    """Run DDIM backwards from clean latents z (B, C, h, w) through ascending `timesteps` under text embedding
    `emb` (B, L, D) and AU vector `au` (B, num_aus) or None; returns the latents at timesteps[-1] (B, C, h, w)."""
    ac = pipe.scheduler.alphas_cumprod.to(z.device)
    prev = torch.as_tensor(getattr(pipe.scheduler, "final_alpha_cumprod", 1.0), dtype=ac.dtype, device=ac.device)
    for t in timesteps:
        eps = pipe.predict_noise(z, t, emb, au, au_scale)
        a = ac[int(t)]
        x0 = (z - (1 - prev).sqrt() * eps) / prev.sqrt()
        z = a.sqrt() * x0 + (1 - a).sqrt() * eps
        prev = a
    return z
