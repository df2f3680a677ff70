"""SynFER's two configs through one code path: `tiny` (trained here on the world) and `sd15` (SD-1.5 sized).

`build_tiny` makes a random-weight tiny pipeline (tests; the trainer's start); `build_sd15_random` makes
SD-1.5-shaped random components for GPU checks; `from_sd15_folder` puts the SynFER modules on local SD-1.5
weights (nothing is downloaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.data.aus import N_AUS
from reference.common.autoencoder import TinyVAEConfig
from reference.common.parts import (
    check_sd15_folder,
    check_weights_variant,
    eval_mode,
    folder_scheduler_config,
    sd15_text_encoder,
    sd15_unet,
    sd15_vae,
    sd_scheduler,
    tiny_scheduler,
    tiny_text_encoder,
    tiny_unet,
    tiny_vae,
)
from reference.common.text import world_tokenizer
from reference.synfer.modules import AUAdapter, FERClassifier, FEREnsemble, PseudoLabeller, inner_dims
from reference.synfer.pipeline_synfer import SynFERPipeline


@dataclass(frozen=True)
class SynFERTinyConfig:
    """Training settings of the tiny SynFER, stage by stage (its hash names the checkpoint)."""

    world_seed: int = 0  # world whose train split is used
    batch: int = 64  # fresh world-train faces per step
    text_dim: int = 64  # text encoder width = cross-attention width
    unet_channels: tuple[int, int] = (32, 64)  # UNet level widths (smaller than MAUGen's: 5 stages to train)
    base_steps: int = 1200  # stage 0: UNet + text encoder on a generic caption ("a photo of a face"): the "SD" base
    text_steps: int = 1200  # stage 1: fine-tune on expression captions (FEText analogue)
    adapter_steps: int = 600  # stage 2: AU adapter on the frozen fine-tuned model
    fer_steps: int = 600  # FER classifier (guidance) and each external ensemble member
    labeller_steps: int = 400  # pseudo-labeller on UNet features of world-train images at t_small
    lr: float = 5e-4  # AdamW peak learning rate of every stage (warm-up, cosine to 5%)
    p_drop: float = 0.1  # probability of dropping the condition (classifier-free guidance)
    adapter_tokens: int = 4  # AU tokens
    t_small: int = 50  # timestep at which the pseudo-labeller reads the UNet
    seed: int = 0  # initialisation and per-step noise seed
    vae: str = TinyVAEConfig().key  # key of the shared tiny VAE

    def real_data(self, stage: str = "full") -> dict:
        """The real data a trained `stage` (base | text | full) learned from (the benchmark's real budget, recorded
        in every result), by training stage (reference/synfer/train.py: each reads its own range of world-train
        samples): labelled = the text stage (expression captions), the AU adapter, the FER models and the
        pseudo-labeller; unlabelled = the base stage (a generic caption; its VAE read a subset of these)."""
        stages = {"text": self.text_steps, "adapter": self.adapter_steps, "fer": self.fer_steps,
                  "labeller": self.labeller_steps}
        keep = {"base": (), "text": ("text",)}.get(stage, tuple(stages))
        stages = {k: v for k, v in stages.items() if k in keep}
        return {"labelled_images": sum(v * self.batch for v in stages.values()),
                "unlabelled_images": self.base_steps * self.batch, "split": "train",
                "labels": "expressions (captions, classifiers), AU intensities (adapter)",
                "by_stage": {k: v * self.batch for k, v in stages.items()}, "world_seed": self.world_seed}

    @property
    def p_drop_text(self) -> float:
        """Caption dropout of `diffusion_step` (the tiny drops caption and AUs independently, both at p_drop)."""
        return self.p_drop

    @property
    def p_drop_au(self) -> float:
        return self.p_drop

    @property
    def key(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True) + "|synfer-tiny-v1"
        return "synfer-tiny-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def build_tiny(cfg: SynFERTinyConfig = SynFERTinyConfig(), vae=None, with_heads: bool = True) -> SynFERPipeline:
    """A tiny SynFER with random weights (or the given trained VAE); `with_heads`: adapter, classifier,
    pseudo-labeller and ensemble too (the stage-0/1 models have none)."""
    tok = world_tokenizer()
    vae = vae if vae is not None else tiny_vae()
    c, d = vae.config.latent_channels, cfg.text_dim
    unet = tiny_unet(in_channels=c, out_channels=c, cross_attention_dim=d, channels=tuple(cfg.unet_channels))
    heads = {}
    if with_heads:
        heads = dict(
            au_adapter=AUAdapter(num_aus=N_AUS, num_tokens=cfg.adapter_tokens, cross_attention_dim=d,
                                 inner_dims=inner_dims(unet), hidden=128),
            fer_classifier=FERClassifier(8, 32),
            pseudo_labeller=PseudoLabeller(feature_channels=tuple(unet.config.block_out_channels[::-1]),
                                           map_tokens=tok.model_max_length, num_classes=8, dim=64, heads=4, grid=4,
                                           t_small=cfg.t_small),
            fer_ensemble=FEREnsemble((16, 24, 32), 8))
    return eval_mode(SynFERPipeline(vae=vae, text_encoder=tiny_text_encoder(len(tok), hidden=d), tokenizer=tok,
                                    unet=unet, scheduler=tiny_scheduler(), **heads))


HEADS = ("au_adapter", "fer_classifier", "pseudo_labeller", "fer_ensemble")  # SynFER's modules beside SD's


def sd15_heads(unet, map_tokens: int = 77, which: tuple[str, ...] = HEADS, read: tuple[int, ...] | None = None,
               t_small: int = 50, num_tokens: int = 4) -> dict:
    """Untrained SynFER modules `which` sized from `unet` (cross-attention width; the labeller reads its up-blocks'
    outputs, one per up-block, whose widths are the reversed block_out_channels: (1280, 1280, 640, 320) at SD-1.5.
    An earlier version listed the deepest width twice, five inputs for four features: the labeller failed at the
    third feature, so no SD-size labeller ever ran). `read`: the AU positions the adapter reads (None: all 17);
    `t_small`: the timestep the labeller reads the UNet at; `num_tokens`: the adapter's AU tokens. Built in HEADS
    order (the random draws)."""
    outs = tuple(unet.config.block_out_channels[::-1])
    make = dict(au_adapter=lambda: AUAdapter(num_aus=N_AUS, num_tokens=num_tokens,
                                             cross_attention_dim=unet.config.cross_attention_dim,
                                             inner_dims=inner_dims(unet), read=read),
                fer_classifier=lambda: FERClassifier(8, 64),
                pseudo_labeller=lambda: PseudoLabeller(feature_channels=outs, map_tokens=map_tokens, t_small=t_small),
                fer_ensemble=lambda: FEREnsemble((32, 48, 64), 8))
    return {name: make[name]() for name in HEADS if name in which}


def build_sd15_random() -> SynFERPipeline:
    """SD-1.5-shaped SynFER (4-channel UNet) with random weights, for GPU shape, memory and speed checks."""
    tok = world_tokenizer()
    unet = sd15_unet(4)
    return eval_mode(SynFERPipeline(vae=sd15_vae(), text_encoder=sd15_text_encoder(tok), tokenizer=tok, unet=unet,
                                    scheduler=sd_scheduler(), **sd15_heads(unet, tok.model_max_length)))


def from_sd15_folder(folder: str | Path, dtype: torch.dtype = torch.float32, weights_variant: str | None = None,
                     heads: bool = True) -> SynFERPipeline:
    """SynFER on local SD-1.5 weights (text-to-image, 4-channel UNet), with untrained SynFER modules (`heads`) or
    none (the sd15 trainer adds each in its stage).

    `weights_variant`: file variant to load, e.g. "fp16" for a folder of `*.fp16.safetensors` (with `dtype`
    torch.float16, or float32 to upcast, as training does); None: the plain files."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from bench.core.errors import UsageError

    folder = check_sd15_folder(folder, "Stable Diffusion 1.5")
    check_weights_variant(folder, weights_variant)
    load = dict(torch_dtype=dtype, variant=weights_variant or None)
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", **load)
    if unet.config.in_channels != 4:
        raise UsageError(f"{folder / 'unet'}: in_channels {unet.config.in_channels}; SynFER needs the 4-channel "
                         "text-to-image UNet (stable-diffusion-v1-5, not the inpainting one)")
    tok = CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
    return eval_mode(SynFERPipeline(
        vae=AutoencoderKL.from_pretrained(folder / "vae", **load),
        text_encoder=CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True, **load),
        tokenizer=tok, unet=unet, scheduler=sd_scheduler(folder_scheduler_config(folder)),
        **(sd15_heads(unet, tok.model_max_length) if heads else {})))
