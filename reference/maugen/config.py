"""MAUGen's two configs through one code path: `tiny` (trained here on the world) and `sd15` (SD-1.5 inpainting).

`build_tiny` makes a random-weight tiny pipeline (tests use it with `torch.manual_seed(0)`; the trainer starts
from it); `build_sd15_random` makes SD-1.5-shaped random components (GPU shape/speed checks);
`from_sd15_folder` assembles real SD-1.5 inpainting weights from a local folder (nothing is downloaded).
Each takes a variant: "published" (the authors' code; default for sd15) or "v1" (our first reading; the
committed tiny checkpoint, hence `MAUGenTinyConfig()`'s default). See docs/fidelity-maugen.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.core.errors import MissingWeights, UsageError
from bench.world.captions import STYLES
from reference.common.autoencoder import TinyVAEConfig
from reference.common.parts import (
    check_sd15_folder,
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
from reference.common.text import ID_TOKENS, caption_tokenizer, world_tokenizer
from reference.maugen.dig import PublishedDIGHead
from reference.maugen.identity import PublishedMRL
from reference.maugen.modules import DIGLabelHead, MultimodalRepresentation
from reference.maugen.pipeline_maugen import DISFA12, VARIANTS, MAUGenPipeline

# Fields only the published tiny uses: left out of a v1 config's key (so the committed checkpoint keeps its
# name) and required to keep their defaults there.
PUBLISHED_ONLY = ("variant", "intensity_weight", "head_ffn", "aux_mid", "aux_groups", "aux_out", "idm_hidden",
                  "exp_dim")
# Fields added after checkpoints were committed: left out of every key while at their default (keys stay as filed).
LATER_FIELDS = ("captions", "init")
#: The committed two-style checkpoint (`maugen-tiny` option captions=mixed): the published tiny's recipe (2,500 steps
#: of 64 faces from random weights) with half the captions in the authors' style (docs/captions.md).
TWO_STYLE = {"variant": "published", "captions": "mixed"}


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
    label_weight: float = 0.5  # weight of the focal label losses (on the label head's one output per step)
    mrl_weight: float = 0.05  # weight of the contrastive alignment loss
    head_attends_text: bool = False  # label queries also attend to text tokens (off: labels must come from the image)
    seed: int = 0  # initialisation and per-step noise seed
    vae: str = TinyVAEConfig().key  # key of the shared tiny VAE whose latents it learns (part of its own key)
    variant: str = "v1"  # "v1": level-carrying cues, class vector, random DIG queries (the committed checkpoint);
    #                      "published": the authors' code (text-only request, cue-token queries, per-block DIG)
    intensity_weight: float = 1.0  # published: weight of focal-MSE (sigmoid vs intensity/5) beside focal BCE
    head_ffn: int = 48  # published DIG transformer FFN width (authors 512 for 768-d tokens: 2/3 of the width)
    aux_mid: int = 64  # published DIG reader: 1x1 conv width after the depthwise 3x3 (authors 512)
    aux_groups: int = 32  # published DIG reader: groups of its 3x3 conv (authors 256: 2 channels per group)
    aux_out: int = 32  # published DIG reader: width before the 4x4 patch embedding (authors 256)
    idm_hidden: int = 32  # published identity-decoupling attention width (authors 128)
    exp_dim: int = 16  # published Img2Text null-expression slot width (authors 64)
    captions: str = "world"  # training prompts (bench.world.captions.STYLES): "world" the world grammar and its
    #                          tokenizer (every committed checkpoint); "mixed" half world grammar, half the authors'
    #                          style, per sample, with the tokenizer of both (reference.common.text.caption_tokenizer)
    init: str = ""  # key of a trained tiny MAUGen to start from ("": random); words its tokenizer lacks get new rows

    def __post_init__(self):
        if self.captions not in STYLES:
            raise UsageError(f"captions must be one of {', '.join(STYLES)}, not {self.captions!r}")
        if self.variant not in VARIANTS:
            raise UsageError(f"variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
        if self.variant == "v1":
            changed = [f.name for f in dataclasses.fields(self)
                       if f.name in PUBLISHED_ONLY and getattr(self, f.name) != f.default]
            if changed:
                raise UsageError(f"{', '.join(changed)} only apply to variant=published")
        elif self.head_attends_text:
            raise UsageError("head_attends_text is a v1 option (the published head attends text through LGFE)")

    def real_data(self) -> dict:
        """The real data it learned from (the benchmark's real budget, recorded in every result): world-train
        samples 0 .. steps * batch - 1 with their AU labels; its VAE read the first 64,000 of them (unlabelled).
        Started from `init`: the larger of the two ranges (both begin at sample 0)."""
        if self.init:
            from reference.common.autoencoder import find_trained

            folder = find_trained(self.init)
            if folder is None:
                raise MissingWeights(f"init={self.init}: no such trained tiny MAUGen")
            base = MAUGenTinyConfig(**json.loads((folder / "training.json").read_text())["config"]).real_data()
            mine = dataclasses.replace(self, init="").real_data()
            return {**mine, "labelled_images": max(base["labelled_images"], mine["labelled_images"]),
                    "started_from": self.init}
        return {"labelled_images": self.steps * self.batch, "unlabelled_images": 0, "split": "train",
                "labels": "AU intensities (DISFA12) and prompts", "world_seed": self.world_seed}

    @property
    def key(self) -> str:
        fields = dataclasses.asdict(self)
        if self.variant == "v1":  # the pre-variant hash: the committed checkpoint's name
            fields = {k: v for k, v in fields.items() if k not in PUBLISHED_ONLY}
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        fields = {k: v for k, v in fields.items() if not (k in LATER_FIELDS and v == defaults[k])}
        blob = json.dumps(fields, sort_keys=True) + "|maugen-tiny-v1"
        return "maugen-tiny-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def _identity_vit(image_size: int, hidden: int, layers: int, heads: int, patch: int, eps: float = 1e-12):
    from transformers import ViTConfig, ViTModel

    return ViTModel(ViTConfig(image_size=image_size, patch_size=patch, hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=2 * hidden if hidden < 256 else 4 * hidden,
                              num_channels=3, layer_norm_eps=eps))


def _cross_attention_channels(unet) -> tuple[int, ...]:
    """Widths of the UNet's cross-attention up-blocks, in order (what the DIG head reads)."""
    return tuple(unet.config.block_out_channels[::-1][i] for i, b in enumerate(unet.up_blocks)
                 if getattr(b, "has_cross_attention", False))


def build_tiny(cfg: MAUGenTinyConfig = MAUGenTinyConfig(), vae=None) -> MAUGenPipeline:
    """A tiny MAUGen with random weights (or the given trained VAE): 64 px images, 16x16x8 latents."""
    tok = world_tokenizer() if cfg.captions == "world" else caption_tokenizer()
    vae = vae if vae is not None else tiny_vae()
    c = vae.config.latent_channels
    d = cfg.text_dim
    layers = (0, 1, 2, 3)
    if cfg.variant == "v1":  # creation order = the random draws the committed checkpoint started from
        vit = _identity_vit(cfg.reference_size, hidden=32, layers=4, heads=4, patch=8)
        unet = tiny_unet(in_channels=2 * c + 1, out_channels=c, cross_attention_dim=d, class_dim=len(DISFA12))
        text = tiny_text_encoder(len(tok), hidden=d)
        mrl = MultimodalRepresentation(num_aus=len(DISFA12), token_dim=d, identity_dim=32 * len(layers), text_dim=d,
                                       image_channels=c, embed_dim=64, identity_layers=layers)
        head = DIGLabelHead(feature_channels=_cross_attention_channels(unet), num_aus=len(DISFA12), dim=64, patch=4,
                            layers=2, heads=4, text_dim=d, identity_dim=32 * len(layers), time_dim=64,
                            attend_text=cfg.head_attends_text)
    else:
        vit = _identity_vit(cfg.reference_size, hidden=32, layers=4, heads=4, patch=8, eps=1e-6)
        unet = tiny_unet(in_channels=2 * c + 1, out_channels=c, cross_attention_dim=d)
        text = tiny_text_encoder(len(tok), hidden=d)
        mrl = PublishedMRL(num_aus=len(DISFA12), token_dim=d, vit_width=32, identity_layers=layers,
                           img2text_hidden=32 * len(layers), exp_dim=cfg.exp_dim, text_dim=d, image_channels=c,
                           embed_dim=64)
        head = PublishedDIGHead(feature_channels=_cross_attention_channels(unet), num_aus=len(DISFA12), dim=d, heads=4,
                                ffn=cfg.head_ffn, patch=4, temb_dim=unet.time_embedding.linear_2.out_features,
                                aux_mid=cfg.aux_mid, aux_groups=cfg.aux_groups, aux_out=cfg.aux_out, id_dim=2 * d,
                                idm_hidden=cfg.idm_hidden)
    return eval_mode(MAUGenPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=tiny_scheduler(),
                                    mrl=mrl, label_head=head, identity_encoder=vit))


def _sd15_heads(unet, text_dim: int = 768, variant: str = "published"):
    """(mrl, label_head, identity ViT-S/8 112 px) for an SD-sized UNet; published widths are the authors'."""
    layers = (2, 5, 8, 11)
    if variant == "v1":
        vit = _identity_vit(112, hidden=384, layers=12, heads=6, patch=8)
        mrl = MultimodalRepresentation(num_aus=12, token_dim=text_dim, identity_dim=384 * 4, text_dim=text_dim,
                                       image_channels=4, embed_dim=256, identity_layers=layers)
        head = DIGLabelHead(feature_channels=_cross_attention_channels(unet), num_aus=12, dim=768, patch=4, layers=2,
                            heads=8, text_dim=text_dim, identity_dim=384 * 4, time_dim=128)
        return mrl, head, vit
    if variant != "published":
        raise UsageError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    vit = _identity_vit(112, hidden=384, layers=12, heads=12, patch=8, eps=1e-6)  # MSID ViT shape
    mrl = PublishedMRL(num_aus=12, token_dim=text_dim, vit_width=384, identity_layers=layers,
                       img2text_hidden=384 * 4, text_dim=text_dim, image_channels=unet.config.out_channels)
    head = PublishedDIGHead(feature_channels=_cross_attention_channels(unet), num_aus=12, dim=text_dim,
                            temb_dim=unet.time_embedding.linear_2.out_features, id_dim=2 * text_dim)
    return mrl, head, vit


def build_sd15_random(variant: str = "published") -> MAUGenPipeline:
    """SD-1.5-inpainting-shaped MAUGen with random weights (for GPU shape, memory and speed checks)."""
    tok = world_tokenizer()
    unet = sd15_unet(9)
    mrl, head, vit = _sd15_heads(unet, variant=variant)
    return eval_mode(MAUGenPipeline(vae=sd15_vae(), text_encoder=sd15_text_encoder(tok), tokenizer=tok,
                                    unet=unet, scheduler=sd_scheduler(), mrl=mrl, label_head=head,
                                    identity_encoder=vit))


def from_sd15_folder(folder: str | Path, identity_folder: str | Path | None = None,
                     dtype: torch.dtype = torch.float32, weights_variant: str | None = None,
                     variant: str = "published") -> MAUGenPipeline:
    """MAUGen on local SD-1.5 inpainting weights; MRL / label head start untrained (train them before use).

    AU cue tokens are initialised from the CLIP pooled embedding of each AU's name, as MAUGen does.
    `identity_folder`: a local ViT-S/8 (transformers layout) for reference faces; None: random ViT-S/8 shape.
    `weights_variant`: file variant to load, e.g. "fp16" for `*.fp16.safetensors` folders (with dtype
    torch.float16, or float32 to upcast). `variant`: the MAUGen variant ("published" or "v1").
    The scheduler is DDIM with the folder's betas and clip_sample / set_alpha_to_one off, steps_offset 1 (a
    folder config that omits them would otherwise turn them on); `pipe.scheduler_source` names the folder's
    own scheduler class. The text encoder pools at the tokenizer's end-of-text token (SD-1.5's config says
    eos_token_id 2, which pools at the highest id: `<ID2>` once it is added).
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer, ViTModel

    from bench.data.aus import AU_NAMES

    folder = check_sd15_folder(folder)
    load = dict(torch_dtype=dtype, variant=weights_variant)
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", **load)
    if unet.config.in_channels != 9:
        raise UsageError(f"{folder / 'unet'}: in_channels {unet.config.in_channels}; MAUGen needs the 9-channel "
                         "inpainting UNet (stable-diffusion-inpainting)")
    tok = CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
    tok.add_tokens(list(ID_TOKENS))
    text = CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True, **load)
    text.resize_token_embeddings(len(tok))
    text.config.eos_token_id = tok.eos_token_id  # pool at <|endoftext|>, not at argmax(id) = <ID2>
    getattr(text, "text_model", text).eos_token_id = tok.eos_token_id  # transformers caches it at init
    mrl, head, vit = _sd15_heads(unet, text.config.hidden_size, variant)
    if identity_folder is not None:
        if not Path(identity_folder).is_dir():
            raise MissingWeights(f"{identity_folder}: no such folder (a local ViT-S/8 in transformers layout)")
        vit = ViTModel.from_pretrained(identity_folder, local_files_only=True)
    sched_cfg = folder_scheduler_config(folder)
    pipe = MAUGenPipeline(vae=AutoencoderKL.from_pretrained(folder / "vae", **load), text_encoder=text,
                          tokenizer=tok, unet=unet, scheduler=sd_scheduler(sched_cfg), mrl=mrl, label_head=head,
                          identity_encoder=vit)
    pipe.scheduler_source = sched_cfg.get("_class_name", "none")
    eval_mode(pipe)
    with torch.no_grad():
        names = [AU_NAMES[a] for a in DISFA12]
        _, pooled = pipe.encode_text(names)
        mrl.cue_tokens.copy_(pooled.float())
    return pipe
