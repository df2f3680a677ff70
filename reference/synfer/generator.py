"""SynFER as a benchmark generator: `synfer-tiny` (committed/cached tiny checkpoint; `stage=base|text|full`)
and `synfer` (any trained SynFER pipeline folder given by `weights=`).

Prompts are FEText-style expression captions of the requested expression; the AU adapter gets the requested
AU vector; semantic guidance (if `semantic_guidance_scale` > 0) steers toward the requested expression.
Claimed labels: the requested AUs, and the requested expression, or with `pseudo_label=True` the
pseudo-labeller's label (overruled by the external FER ensemble where they disagree). The share relabelled
is kept in `self.stats`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from bench.data.aus import AUS
from bench.data.sampleset import Sample
from bench.generators import Condition
from reference.common.parts import load_pipeline_folder
from reference.synfer.pipeline_synfer import SynFERPipeline


class SynFERGenerator:
    name = "synfer"
    version = "1"
    labelled_aus = AUS
    expression_labelled = True

    def __init__(self, weights: str | Path | None = None, steps: int = 25, guidance_scale: float = 3.0,
                 au_scale: float = 1.0, semantic_guidance_scale: float = 0.0, guidance_start: int = 10,
                 pseudo_label: bool = False, batch_size: int = 64, device: str = "cpu",
                 pipe: SynFERPipeline | None = None, **_ignored):
        if pipe is None:
            pipe = load_pipeline_folder(SynFERPipeline, weights, "synfer")
        self.pipe = pipe.to(device)
        self.kw = dict(num_inference_steps=steps, guidance_scale=guidance_scale, au_scale=au_scale,
                       semantic_guidance_scale=semantic_guidance_scale, guidance_start=guidance_start,
                       pseudo_label=pseudo_label)
        self.batch_size, self.device = batch_size, device
        s = pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.image_size = (s, s)
        self.config = {"weights": Path(weights).name if weights else "", **self.kw}
        self.stats = {"n": 0, "relabelled": 0}

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        from reference.synfer.train import GENERIC, expression_caption

        for lo in range(0, len(conditions), self.batch_size):
            conds = conditions[lo:lo + self.batch_size]
            prompts = [expression_caption(c.expression) if c.expression >= 0 else GENERIC for c in conds]
            aus = np.stack([np.nan_to_num(c.aus, nan=0.0) for c in conds]).clip(0, 5).astype(np.float32)
            expr = [max(c.expression, 0) for c in conds]
            kw = dict(self.kw)
            if self.pipe.au_adapter is not None:
                kw["au_intensity"] = torch.from_numpy(aus)
            if kw["semantic_guidance_scale"] > 0:
                kw["expression"] = expr
            gens = [torch.Generator(self.device).manual_seed(int(c.seed)) for c in conds]
            out = self.pipe(prompts, generator=gens, **kw)
            self.stats["n"] += len(conds)
            self.stats["relabelled"] += int(out.relabelled.sum())
            for j, c in enumerate(conds):
                label = int(out.expression[j]) if self.kw["pseudo_label"] and out.expression[j] >= 0 else c.expression
                yield Sample(image=out.images[j], intensity=aus[j], expression=label, prompt=prompts[j], seed=c.seed)


class SynFERTiny(SynFERGenerator):
    """The tiny SynFER trained on world-v1 train data; `stage` picks an ablation row's model (committed or cached
    weights, else trained now with progress bars; `train=False` refuses instead)."""

    name = "synfer-tiny"

    def __init__(self, stage: str = "full", train: bool = True, **kw):
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import load_tiny_synfer

        cfg = SynFERTinyConfig()
        super().__init__(pipe=load_tiny_synfer(cfg, stage=stage, train_if_missing=train), **kw)
        self.config = {**self.config, "weights": f"{cfg.key}/{stage}"}
