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

from bench.core.errors import DataError
from bench.data.aus import AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample
from reference.common.parts import load_pipeline_folder
from reference.synfer.pipeline_synfer import SynFERPipeline


class SynFERGenerator:
    name = "synfer"
    version = "1"
    labelled_aus = AUS
    expression_labelled = True
    needs = ("weights", "device")  # a local pipeline folder (--option weights=DIR); runs on --option device=cuda

    def __init__(self, weights: str | Path | None = None, steps: int = 25, guidance_scale: float = 3.0,
                 au_scale: float = 1.0, semantic_guidance_scale: float = 0.0, guidance_start: int = 10,
                 pseudo_label: bool = False, batch_size: int = 64, device: str = "cpu",
                 pipe: SynFERPipeline | None = None):
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
    needs = ("device",)  # committed weights

    def __init__(self, stage: str = "full", train: bool = True, **kw):
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import load_tiny_synfer

        cfg = SynFERTinyConfig()
        super().__init__(pipe=load_tiny_synfer(cfg, stage=stage, train_if_missing=train), **kw)
        self.config = {**self.config, "weights": f"{cfg.key}/{stage}"}
        self.real_data = cfg.real_data(stage)


class SynFERRelabel:
    """SynFER's label rectification as a generator: replays an existing SampleSet (`source`, sample i answers
    condition i) and gives each image the pseudo-labeller's expression, overruled by the FER ensemble where they
    disagree (seeded by the sample's seed); images, AUs, prompts and file names are kept. It records itself as the
    source's generator with `pseudo_label: true`, and the share relabelled in `stats`."""

    def __init__(self, source: str | Path, stage: str = "full", batch_size: int = 128,
                 pipe: SynFERPipeline | None = None):
        from bench.data.sampleset import SampleSet
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import load_tiny_synfer

        self.set = SampleSet(source)
        m = self.set.manifest
        self.pipe = pipe or load_tiny_synfer(SynFERTinyConfig(), stage=stage)
        self.name, self.version = str(m.generator.get("name", "synfer-tiny")), str(m.generator.get("version", ""))
        self.config = {**m.generator.get("config", {}), "pseudo_label": True}
        self.real_data = {**(m.generator.get("real_data") or SynFERTinyConfig().real_data())}
        self.image_size, self.labelled_aus, self.batch_size = m.image_size, m.labelled_aus, batch_size
        self.expression_labelled = True
        self.stats = {"n": 0, "relabelled": 0}

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        rows = iter(self.set)
        for lo in range(0, len(conditions), self.batch_size):
            buf = [s for _, s in zip(range(min(self.batch_size, len(conditions) - lo)), rows)]
            if len(buf) < min(self.batch_size, len(conditions) - lo):
                raise DataError(self.set.root, f"holds {len(self.set)} samples, asked for {len(conditions)}")
            x = torch.from_numpy(np.stack([s.image for s in buf])).permute(0, 3, 1, 2).float() / 127.5 - 1
            final, *_, relabelled = self.pipe.label_images(
                x, generator=[torch.Generator().manual_seed(int(s.seed)) for s in buf])
            self.stats["n"] += len(buf)
            self.stats["relabelled"] += int(relabelled.sum())
            for s, e in zip(buf, final.tolist()):
                s.expression = int(e)
                yield s
