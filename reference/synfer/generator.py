"""SynFER as a benchmark generator: `synfer-tiny` (committed/cached tiny checkpoint; `stage=base|text|full`)
and `synfer` (any trained SynFER pipeline folder given by `weights=`).

Prompts are FEText-style expression captions of the requested expression (a condition without one gets its own
prompt, or the generic caption); the AU adapter gets the requested AU vector; semantic guidance (if
`semantic_guidance_scale` > 0) steers toward the requested expression (conditions without one are not guided).
Claimed labels: the requested AUs, and the requested expression, or with `pseudo_label=True` FERAnno's label
rectified by the external FER ensemble. The share relabelled is kept in `self.stats`.

Defaults: `synfer` follows the method as published (reference/synfer/options.py PUBLISHED); `synfer-tiny` keeps
the committed checkpoint's settings (TINY) so its filed entries stay bit-identical; every published setting is an
option on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from bench.core.errors import DataError, UsageError
from bench.data.aus import AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample
from reference.common.parts import load_pipeline_folder
from reference.common.text import refuse_unknown
from reference.synfer.labels import FERANNO_MODES, RECTIFY_RULES
from reference.synfer.options import PUBLISHED, TINY, TINY_PUBLISHED, SynFERSampling
from reference.synfer.pipeline_synfer import SynFERPipeline


class SynFERGenerator:
    name = "synfer"
    version = "1"
    labelled_aus = AUS
    expression_labelled = True
    needs = ("weights", "device")  # a local pipeline folder (--option weights=DIR); runs on --option device=cuda
    defaults: SynFERSampling = PUBLISHED  # sampling/labelling options not given

    def __init__(self, weights: str | Path | None = None, steps: int | None = None,
                 guidance_scale: float | None = None, au_scale: float | None = None,
                 semantic_guidance_scale: float | None = None, guidance_start: int | float | None = None,
                 guidance_norm: str | None = None, negative_prompt: str | None = None,
                 pseudo_label: bool | None = None, feranno: str | None = None, rectify: str | None = None,
                 unlabelled_prompt: str | None = None, batch_size: int = 64, device: str = "cpu",
                 pipe: SynFERPipeline | None = None):
        # options left None take `self.defaults` (SynFERSampling documents each)
        self.options = self.defaults.with_options(
            steps=steps, guidance_scale=guidance_scale, au_scale=au_scale,
            semantic_guidance_scale=semantic_guidance_scale, guidance_start=guidance_start,
            guidance_norm=guidance_norm, negative_prompt=negative_prompt, pseudo_label=pseudo_label,
            feranno=feranno, rectify=rectify, unlabelled_prompt=unlabelled_prompt)
        if pipe is None:
            pipe = load_pipeline_folder(SynFERPipeline, weights, "synfer")
        self.pipe = pipe.to(device)
        read = pipe.au_adapter.config.get("read") if pipe.au_adapter is not None else None
        if read is not None:  # an adapter trained on a set labelling some AUs reads those alone: it claims those
            self.labelled_aus = tuple(AUS[i] for i in read)
        self._claimed = np.isin(np.array(AUS), self.labelled_aus)  # (17,) bool: AUs written as labels
        self.kw = self.options.pipeline_kwargs()
        self.batch_size, self.device = batch_size, device
        s = pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.image_size = (s, s)
        self.config = {"weights": Path(weights).name if weights else "", **self.options.record()}
        self.stats = {"n": 0, "relabelled": 0}

    def prompt(self, c: Condition) -> str:
        """The caption of the requested expression; without one, the condition's own prompt (or GENERIC)."""
        from reference.synfer.train import GENERIC, expression_caption

        if c.expression >= 0:
            return expression_caption(c.expression)
        return c.prompt if self.options.unlabelled_prompt == "condition" and c.prompt else GENERIC

    def check_prompts(self, conditions: list[Condition], file: str | None = None) -> None:
        """Refuse conditions whose prompts (as sent: `prompt`) hold words the model's tokenizer does not know (by
        name; with `file`, the conditions are its rows in order). `generate` checks them all before drawing any."""
        refuse_unknown(self.pipe.tokenizer, [self.prompt(c) for c in conditions], self.config["weights"] or "synfer",
                       file, rows=[c.index for c in conditions])

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        self.check_prompts(conditions)
        for lo in range(0, len(conditions), self.batch_size):
            conds = conditions[lo:lo + self.batch_size]
            prompts = [self.prompt(c) for c in conds]
            aus = np.stack([np.nan_to_num(c.aus, nan=0.0) for c in conds]).clip(0, 5).astype(np.float32)
            kw = dict(self.kw)
            if self.pipe.au_adapter is not None:
                kw["au_intensity"] = torch.from_numpy(aus)
            if kw["semantic_guidance_scale"] > 0:
                kw["expression"] = [c.expression if c.expression >= 0 else -1 for c in conds]  # -1: not guided
            gens = [torch.Generator(self.device).manual_seed(int(c.seed)) for c in conds]
            out = self.pipe(prompts, generator=gens, **kw)
            self.stats["n"] += len(conds)
            self.stats["relabelled"] += int(out.relabelled.sum())
            for j, c in enumerate(conds):
                label = int(out.expression[j]) if self.kw["pseudo_label"] and out.expression[j] >= 0 else c.expression
                yield Sample(image=out.images[j], intensity=np.where(self._claimed, aus[j], np.nan).astype(np.float32),
                             expression=label, prompt=prompts[j], seed=c.seed)


class SynFERTiny(SynFERGenerator):
    """The tiny SynFER trained on world-v1 train data; `stage` picks an ablation row's model (committed or cached
    weights, else trained now with progress bars; `train=False` refuses instead).

    `preset` picks the defaults of the options not given: "tiny" (TINY: the committed checkpoint's settings, its
    filed entries) or "published" (TINY_PUBLISHED: the method as published on the tiny weights, the filed
    `synfer-tiny-published` entry)."""

    name = "synfer-tiny"
    needs = ("device",)  # committed weights
    defaults = TINY  # the committed checkpoint's settings (its filed entries); published ones are options
    PRESETS = {"tiny": TINY, "published": TINY_PUBLISHED}

    def __init__(self, stage: str = "full", train: bool = True, preset: str = "tiny", **kw):
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import load_tiny_synfer

        if preset not in self.PRESETS:
            raise UsageError(f"synfer-tiny option preset must be one of {', '.join(self.PRESETS)}, not {preset!r}")
        self.defaults = self.PRESETS[preset]
        cfg = SynFERTinyConfig()
        super().__init__(pipe=load_tiny_synfer(cfg, stage=stage, train_if_missing=train), **kw)
        self.config = {**self.config, "weights": f"{cfg.key}/{stage}"}
        self.real_data = cfg.real_data(stage)


class SynFERRelabel:
    """SynFER's label rectification as a generator: replays an existing SampleSet (`source`, sample i answers
    condition i) and gives each image the pseudo-labeller's expression, overruled by the FER ensemble where they
    disagree (seeded by the sample's seed); images, AUs, prompts and file names are kept. It records itself as the
    source's generator with `pseudo_label: true`, and the share relabelled in `stats`.

    `feranno` and `rectify` as in SynFERPipeline.label_images; the defaults ("renoise" seeded by the sample's
    seed, "hard") are the committed tiny ablation's; "invert" or "renoise-image" give the label the pipeline
    itself would give the same image."""

    def __init__(self, source: str | Path, stage: str = "full", batch_size: int = 128, feranno: str = "renoise",
                 rectify: str = "hard", pipe: SynFERPipeline | None = None):
        from bench.data.sampleset import SampleSet
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import load_tiny_synfer

        if feranno not in FERANNO_MODES or rectify not in RECTIFY_RULES:
            raise UsageError(f"synfer-tiny-relabel: feranno must be one of {', '.join(FERANNO_MODES)} and rectify "
                             f"one of {', '.join(RECTIFY_RULES)}, got {feranno!r}, {rectify!r}")
        self.feranno, self.rectify = feranno, rectify
        self.set = SampleSet(source)
        m = self.set.manifest
        self.pipe = pipe or load_tiny_synfer(SynFERTinyConfig(), stage=stage)
        self.name, self.version = str(m.generator.get("name", "synfer-tiny")), str(m.generator.get("version", ""))
        legacy = {"feranno": "renoise", "rectify": "hard"}  # absent from a record = the filed ablation's rule
        chosen = {k: v for k, v in (("feranno", feranno), ("rectify", rectify)) if v != legacy[k]}
        source = {k: v for k, v in m.generator.get("config", {}).items() if k not in legacy}
        self.config = {**source, "pseudo_label": True, **chosen}
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
            labels = self.pipe.label_images(x, generator=[torch.Generator().manual_seed(int(s.seed)) for s in buf],
                                            feranno=self.feranno, rectify=self.rectify)
            self.stats["n"] += len(buf)
            self.stats["relabelled"] += int(labels.relabelled.sum())
            for s, e in zip(buf, labels.final.tolist()):
                s.expression = int(e)
                yield s
