"""MAUGen's two configs through one code path: `tiny` (trained here on the world) and `sd15` (SD-1.5 inpainting).

`build_tiny` makes a random-weight tiny pipeline (tests use it with `torch.manual_seed(0)`; the trainer starts
from it); `build_sd15_random` makes SD-1.5-shaped random components (GPU shape/speed checks);
`from_sd15_folder` assembles real SD-1.5 inpainting weights from a local folder (nothing is downloaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.core.errors import MissingWeights, UsageError
from reference.common.autoencoder import TinyVAEConfig
from reference.common.parts import (
    check_sd15_folder,
    eval_mode,
    sd15_text_encoder,
    sd15_unet,
    sd15_vae,
    tiny_scheduler,
    tiny_text_encoder,
    tiny_unet,
    tiny_vae,
)
from reference.common.text import ID_TOKENS, world_tokenizer
from reference.maugen.modules import DIGLabelHead, MultimodalRepresentation
from reference.maugen.pipeline_maugen import DISFA12, MAUGenPipeline


@dataclass(frozen=True)
class MAUGenTinyConfig:
    """Training settings of the tiny MAUGen (its hash names the checkpoint)."""

    world_seed: int = 0  # world whose train split is used
    steps: int = 2500  # UNet/label-head/MRL optimisation steps
    batch: int = 64  # fresh world-train faces per step
    lr: float = 5e-4  # AdamW peak learning rate (warm-up 100 steps, cosine to 5%)
    text_dim: int = 64  # text encoder width = cross-attention width = token width
    reference_size: int = 32  # reference-face size for the identity ViT
    p_drop: float = 0.1  # probability of dropping the whole condition (classifier-free guidance)
    p_reference: float = 0.5  # probability a training face gets an identity reference (and <ID> prompt)
    p_inpaint: float = 0.25  # probability a training face gets a random inpainting mask (else: generate all)
    label_weight: float = 0.5  # weight of the focal label losses (summed over the up-block taps)
    mrl_weight: float = 0.05  # weight of the contrastive alignment loss
    head_attends_text: bool = False  # label queries also attend to text tokens (off: labels must come from the image)
    seed: int = 0  # initialisation and per-step noise seed
    vae: str = TinyVAEConfig().key  # key of the shared tiny VAE whose latents it learns (part of its own key)

    def real_data(self) -> dict:
        """The real data it learned from (the benchmark's real budget, recorded in every result): world-train
        samples 0 .. steps * batch - 1 with their AU labels; its VAE read the first 64,000 of them (unlabelled)."""
        return {"labelled_images": self.steps * self.batch, "unlabelled_images": 0, "split": "train",
                "labels": "AU intensities (DISFA12) and prompts", "world_seed": self.world_seed}

    @property
    def key(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True) + "|maugen-tiny-v1"
        return "maugen-tiny-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def _identity_vit(image_size: int, hidden: int, layers: int, heads: int, patch: int):
    from transformers import ViTConfig, ViTModel

    return ViTModel(ViTConfig(image_size=image_size, patch_size=patch, hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=2 * hidden if hidden < 256 else 4 * hidden,
                              num_channels=3))


def build_tiny(cfg: MAUGenTinyConfig = MAUGenTinyConfig(), vae=None) -> MAUGenPipeline:
    """A tiny MAUGen with random weights (or the given trained VAE): 64 px images, 16x16x8 latents."""
    tok = world_tokenizer()
    vae = vae if vae is not None else tiny_vae()
    c = vae.config.latent_channels
    d = cfg.text_dim
    vit = _identity_vit(cfg.reference_size, hidden=32, layers=4, heads=4, patch=8)
    layers = (0, 1, 2, 3)
    unet = tiny_unet(in_channels=2 * c + 1, out_channels=c, cross_attention_dim=d, class_dim=len(DISFA12))
    chans = tuple(unet.config.block_out_channels[::-1][i] for i, b in enumerate(unet.up_blocks)
                  if getattr(b, "has_cross_attention", False))
    return eval_mode(MAUGenPipeline(
        vae=vae, text_encoder=tiny_text_encoder(len(tok), hidden=d), tokenizer=tok,
        unet=unet, scheduler=tiny_scheduler(),
        mrl=MultimodalRepresentation(num_aus=len(DISFA12), token_dim=d, identity_dim=32 * len(layers), text_dim=d,
                                     image_channels=c, embed_dim=64, identity_layers=layers),
        label_head=DIGLabelHead(feature_channels=chans, num_aus=len(DISFA12), dim=64, patch=4, layers=2, heads=4,
                                text_dim=d, identity_dim=32 * len(layers), time_dim=64,
                                attend_text=cfg.head_attends_text),
        identity_encoder=vit))


def _sd15_heads(text_dim: int = 768) -> tuple[MultimodalRepresentation, DIGLabelHead, object]:
    vit = _identity_vit(112, hidden=384, layers=12, heads=6, patch=8)  # ViT-S/8 shape
    layers = (2, 5, 8, 11)
    mrl = MultimodalRepresentation(num_aus=12, token_dim=text_dim, identity_dim=384 * 4, text_dim=text_dim,
                                   image_channels=4, embed_dim=256, identity_layers=layers)
    head = DIGLabelHead(feature_channels=(1280, 640, 320), num_aus=12, dim=768, patch=4, layers=2, heads=8,
                        text_dim=text_dim, identity_dim=384 * 4, time_dim=128)
    return mrl, head, vit


def build_sd15_random() -> MAUGenPipeline:
    """SD-1.5-inpainting-shaped MAUGen with random weights (for GPU shape, memory and speed checks)."""
    from diffusers import DDIMScheduler

    tok = world_tokenizer()
    mrl, head, vit = _sd15_heads()
    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                          clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return eval_mode(MAUGenPipeline(vae=sd15_vae(), text_encoder=sd15_text_encoder(tok), tokenizer=tok,
                                unet=sd15_unet(9), scheduler=sched, mrl=mrl, label_head=head, identity_encoder=vit))


def from_sd15_folder(folder: str | Path, identity_folder: str | Path | None = None,
                     dtype: torch.dtype = torch.float32) -> MAUGenPipeline:
    """MAUGen on local SD-1.5 inpainting weights; MRL / label head start untrained (train them before use).

    AU cue tokens are initialised from the CLIP pooled embedding of each AU's name, as MAUGen does.
    `identity_folder`: a local ViT-S/8 (transformers layout) for reference faces; None: random ViT-S/8 shape.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer, ViTModel

    from bench.data.aus import AU_NAMES

    folder = check_sd15_folder(folder)
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=dtype)
    if unet.config.in_channels != 9:
        raise UsageError(f"{folder / 'unet'}: in_channels {unet.config.in_channels}; MAUGen needs the 9-channel "
                         "inpainting UNet (stable-diffusion-inpainting)")
    tok = CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
    tok.add_tokens(list(ID_TOKENS))
    text = CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True, torch_dtype=dtype)
    text.resize_token_embeddings(len(tok))
    mrl, head, vit = _sd15_heads(text.config.hidden_size)
    if identity_folder is not None:
        if not Path(identity_folder).is_dir():
            raise MissingWeights(f"{identity_folder}: no such folder (a local ViT-S/8 in transformers layout)")
        vit = ViTModel.from_pretrained(identity_folder, local_files_only=True)
    pipe = MAUGenPipeline(vae=AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=dtype), text_encoder=text,
                          tokenizer=tok, unet=unet,
                          scheduler=DDIMScheduler.from_pretrained(folder / "scheduler"), mrl=mrl, label_head=head,
                          identity_encoder=vit)
    eval_mode(pipe)
    with torch.no_grad():
        names = [AU_NAMES[a] for a in DISFA12]
        _, pooled = pipe.encode_text(names)
        mrl.cue_tokens.copy_(pooled.float())
    return pipe

