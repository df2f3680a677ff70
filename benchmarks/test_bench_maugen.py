"""Sampling throughput of the tiny MAUGen pipeline against a bare diffusers denoising loop (same run).

The bare loop is what any diffusers user writes by hand: the same UNet (9-channel inpainting input, CFG
doubling), the same scheduler and number of steps, the same VAE decode, with precomputed text context.
The pipeline adds prompt encoding, AU cue tokens, the DIG label head at every step and label combination;
DESIGN's target is an overhead of at most 10%. The pipeline is the published variant that `maugen-tiny` samples
(the authors' DIG: one transformer per up-block with LGFE and identity decoupling; no class vector into the UNet),
with random weights: throughput does not depend on training.
"""

from __future__ import annotations

import pytest
import torch

from reference.maugen.config import MAUGenTinyConfig, build_tiny

N, STEPS, CFG = 32, 25, 3.0  # one generation batch; small enough that tox -e bench stays under 20 min


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    p = build_tiny(MAUGenTinyConfig(variant="published"))
    p.set_progress_bar_config(disable=True)
    return p


def _prompts():
    return ["a face with clearly raised cheeks, strongly pulled-up lip corners, moderately parted lips"] * N


@torch.no_grad()
def bare_loop(pipe, ctx: torch.Tensor, cls: torch.Tensor, gens: list[torch.Generator]):
    u, s, v = pipe.unet, pipe.scheduler, pipe.vae
    s.set_timesteps(STEPS)
    c = v.config.latent_channels
    lat = torch.cat([torch.randn(1, c, 16, 16, generator=g) for g in gens]) * s.init_noise_sigma
    mask, masked = torch.ones(2 * N, 1, 16, 16), torch.zeros(2 * N, c, 16, 16)
    for t in s.timesteps:
        x = torch.cat([s.scale_model_input(torch.cat([lat] * 2), t), mask, masked], 1)
        eu, ec = u(x, t, encoder_hidden_states=ctx, class_labels=cls).sample.chunk(2)
        lat = s.step(eu + CFG * (ec - eu), t, lat).prev_sample
    return v.decode(lat / v.config.scaling_factor).sample


@pytest.mark.benchmark(group="maugen-tiny-sampling")
def test_maugen_pipeline_sampling(benchmark, pipe):
    inten = torch.full((N, 12), 2.0)
    benchmark.extra_info.update(items=N, unit="img", baseline="test_bare_diffusers_loop", steps=STEPS, cfg=CFG)

    def run():
        gens = [torch.Generator().manual_seed(i) for i in range(N)]
        return pipe(_prompts(), au_intensity=inten, num_inference_steps=STEPS, guidance_scale=CFG, generator=gens)

    benchmark.pedantic(run, rounds=1, warmup_rounds=1)  # one timed round after a warm-up: bench <= 15 min


@pytest.mark.benchmark(group="maugen-tiny-sampling")
def test_bare_diffusers_loop(benchmark, pipe):
    inten = torch.full((N, 12), 2.0)
    with torch.no_grad():
        c, _, _ = pipe.context(_prompts(), inten)
        u, _, _ = pipe.context([""] * N, torch.zeros_like(inten))
    ctx = torch.cat([u, c])
    cls = pipe.class_vector(torch.cat([torch.zeros_like(inten), inten]))  # None: the published UNet has no class input
    benchmark.extra_info.update(items=N, unit="img", steps=STEPS, cfg=CFG)
    benchmark.pedantic(lambda: bare_loop(pipe, ctx, cls, [torch.Generator().manual_seed(i) for i in range(N)]),
                       rounds=1, warmup_rounds=1)
