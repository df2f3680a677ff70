"""The cost of SynFER's semantic guidance per image, against plain sampling with the same pipeline (same run).

Guided steps add a UNet forward + backward through the predicted x0, the VAE decoder and the FER classifier;
with guidance from step 10 of 25 (the tiny default), 15 of 25 steps pay it.
"""

from __future__ import annotations

import pytest
import torch

from reference.synfer.config import SynFERTinyConfig, build_tiny

N, STEPS, START = 16, 25, 10


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    p.set_progress_bar_config(disable=True)
    return p


def _run(pipe, guided: bool):
    kw = dict(expression=[1] * N, semantic_guidance_scale=0.1, guidance_start=START) if guided else {}
    return pipe(["a photo of a happy face"] * N, au_intensity=torch.full((N, 17), 1.0), num_inference_steps=STEPS,
                guidance_scale=3.0, pseudo_label=False, generator=[torch.Generator().manual_seed(i) for i in range(N)],
                **kw)


@pytest.mark.benchmark(group="synfer-tiny-guidance")
def test_synfer_semantic_guidance(benchmark, pipe):
    benchmark.extra_info.update(items=N, unit="img", baseline="test_synfer_plain_sampling", steps=STEPS,
                                guided_steps=STEPS - START)
    benchmark.pedantic(lambda: _run(pipe, True), rounds=2, warmup_rounds=1)


@pytest.mark.benchmark(group="synfer-tiny-guidance")
def test_synfer_plain_sampling(benchmark, pipe):
    benchmark.extra_info.update(items=N, unit="img", steps=STEPS)
    benchmark.pedantic(lambda: _run(pipe, False), rounds=2, warmup_rounds=1)
