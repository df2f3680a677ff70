"""Component configs of the two sizes every reference pipeline comes in: `tiny` (64 px world) and `sd15`.

`tiny` parts are small enough to train on 2 CPU cores: a 64x64x3 -> 16x16x8 AutoencoderKL, a two-level
UNet2DConditionModel with attention only at 8x8, a 2-layer CLIP text encoder over the world vocabulary.
`sd15` parts have Stable Diffusion 1.5's shapes (for random-weight GPU checks); real weights come from
a local folder (`load_sd15_folder`).
"""

from __future__ import annotations

import json
from pathlib import Path

from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from bench.core.atomic import atomic_dir, atomic_write_text
from bench.core.errors import MissingWeights, UsageError
from reference.common.text import world_tokenizer


def tiny_vae(latent_channels: int = 8) -> AutoencoderKL:
    """64x64x3 <-> 16x16x8 (three levels, no attention: the world has no long-range texture).

    8 latent channels, not SD's 4: with 4, 1-px wrinkles and mouth corners blurred away and the world judge's
    AU F1 on reconstructions fell from 0.97 to 0.77 (reports/maugen_tiny.md).
    """
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=latent_channels, sample_size=64,
                         down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                         block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8,
                         mid_block_add_attention=False)


def tiny_unet(in_channels: int = 8, cross_attention_dim: int = 64, class_dim: int | None = None,
              out_channels: int = 8, channels: tuple[int, int] = (64, 96)) -> UNet2DConditionModel:
    """16x16 latents; ResNet level at 16x16, cross-attention level at 8x8 (self-attention there is cheap).

    `class_dim`: width of a vector added to the time embedding through a projection (None: no such input).
    `channels`: widths of the two levels ((64, 96): 2.5 M parameters, ~0.75 s per batch-64 training step on
    2 cores; (32, 64): 1.0 M, ~0.43 s).
    """
    extra = dict(class_embed_type="projection", projection_class_embeddings_input_dim=class_dim) if class_dim else {}
    return UNet2DConditionModel(sample_size=16, in_channels=in_channels, out_channels=out_channels,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), block_out_channels=channels,
                                layers_per_block=1, norm_num_groups=16, cross_attention_dim=cross_attention_dim,
                                attention_head_dim=8, **extra)


def tiny_text_encoder(vocab_size: int, hidden: int = 64, max_positions: int = 77) -> CLIPTextModel:
    tok = world_tokenizer(max_positions)
    cfg = CLIPTextConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=max_positions, projection_dim=hidden,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return CLIPTextModel(cfg)


def tiny_scheduler() -> DDIMScheduler:
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")


def sd_scheduler(config: dict | None = None) -> DDIMScheduler:
    """DDIM as SD-1.5 samples it: clip_sample off, set_alpha_to_one off, steps_offset 1, whatever `config`
    (a folder's scheduler config) says or omits about them; its beta schedule otherwise. (DDIMScheduler's own
    defaults would turn clip_sample on for a folder whose config omits it, e.g. SD's PNDM config.)"""
    base = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    keep = {k: v for k, v in (config or {}).items() if not k.startswith("_")}
    return DDIMScheduler.from_config({**base, **keep, "clip_sample": False, "set_alpha_to_one": False,
                                      "steps_offset": 1})


def folder_scheduler_config(folder: Path) -> dict:
    """`folder/scheduler/scheduler_config.json` as a dict ({} when the folder has none)."""
    import json

    f = Path(folder) / "scheduler" / "scheduler_config.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def sd15_unet(in_channels: int = 9, channels: tuple[int, ...] = (320, 640, 1280, 1280), cross_attention_dim: int = 768,
              norm_num_groups: int = 32) -> UNet2DConditionModel:
    """Stable Diffusion 1.5's UNet shape (in_channels 9 = the inpainting variant), random weights.

    `channels`, `cross_attention_dim`, `norm_num_groups`: SD-1.5's by default; smaller ones keep SD-1.5's block
    layout (block types, 2 layers per block, 8 attention heads, 64x64 latents) at a width CPU tests can train
    (`tiny_sd15_parts`)."""
    return UNet2DConditionModel(sample_size=64, in_channels=in_channels, out_channels=4,
                                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                                block_out_channels=tuple(channels), layers_per_block=2,
                                cross_attention_dim=cross_attention_dim, attention_head_dim=8,
                                norm_num_groups=norm_num_groups)


def sd15_vae(channels: tuple[int, ...] = (128, 256, 512, 512), norm_num_groups: int = 32) -> AutoencoderKL:
    """SD-1.5's VAE shape (4 levels of 2 layers, mid-block attention, 4 latent channels); `channels` and
    `norm_num_groups` smaller for CPU tests."""
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=512,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         block_out_channels=tuple(channels), layers_per_block=2, norm_num_groups=norm_num_groups,
                         scaling_factor=0.18215)


def sd15_text_encoder(tokenizer=None, hidden: int = 768, layers: int = 12, heads: int = 12) -> CLIPTextModel:
    """CLIP ViT-L/14's text tower shape (SD-1.5's); vocabulary and special ids from `tokenizer` if given;
    `hidden`, `layers`, `heads` smaller for CPU tests."""
    ids = {} if tokenizer is None else dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return CLIPTextModel(CLIPTextConfig(hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
                                        num_attention_heads=heads, max_position_embeddings=77, hidden_act="quick_gelu",
                                        projection_dim=hidden, **ids))


TINY_SD15_WIDTHS = dict(unet=(32, 32, 64, 64), vae=(16, 16, 32, 32), text=32, groups=8)  # tiny_sd15_parts' widths


def tiny_sd15_parts(in_channels: int = 4, tokenizer=None) -> dict:
    """SD-1.5's block layout at tiny widths (TINY_SD15_WIDTHS), random weights: {"unet", "vae", "text_encoder"}.

    Every block type, layer count, attention-head layout, the VAE's 4 levels and the text tower's quick_gelu are
    SD-1.5's, so code that walks SD-1.5's structure (cross-attention layers, up-block features, LoRA targets)
    meets the same structure in a CPU test; 64x64 latents = 512 px images as at SD-1.5 (set the UNet's
    sample_size lower for smaller images)."""
    w = TINY_SD15_WIDTHS
    return {"unet": sd15_unet(in_channels, w["unet"], cross_attention_dim=w["text"], norm_num_groups=w["groups"]),
            "vae": sd15_vae(w["vae"], norm_num_groups=w["groups"]),
            "text_encoder": sd15_text_encoder(tokenizer, hidden=w["text"], layers=2, heads=4)}


def eval_mode(pipe):
    """Freshly built modules start in train mode; a pipeline samples in eval mode (as from_pretrained gives)."""
    import torch

    for m in pipe.components.values():
        if isinstance(m, torch.nn.Module):
            m.eval()
    return pipe


SD15_SUBFOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def load_pipeline_folder(cls, weights: str | Path | None, generator: str, dtype: str = "float32"):
    """A trained pipeline folder the user names (`--option weights=...`), or a clear error."""
    import torch

    if weights is None:
        raise UsageError(f"generator {generator} needs weights=<folder of a trained {cls.__name__}> "
                         f"(or use {generator}-tiny)")
    if not (Path(weights) / "model_index.json").is_file():
        raise MissingWeights(f"{weights}: not a {cls.__name__} folder (no model_index.json)")
    pipe = cls.from_pretrained(weights, torch_dtype=getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def check_sd15_folder(folder: str | Path, what: str = "Stable Diffusion 1.5 inpainting") -> Path:
    """A local diffusers-layout folder of SD-1.5 weights, or a clear error saying what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingWeights(f"{folder}: no such folder. The sd15 config loads {what} weights from a local "
                                f"diffusers-layout folder (subfolders {', '.join(SD15_SUBFOLDERS)}); nothing is "
                                f"downloaded.")
    missing = [s for s in SD15_SUBFOLDERS if not (folder / s).is_dir()]
    if missing:
        raise MissingWeights(f"{folder}: missing subfolder(s) {', '.join(missing)} of a diffusers-layout "
                                f"{what} checkpoint")
    return folder


def check_weights_variant(folder: Path, variant: str | None, subfolders: tuple[str, ...] = ("unet", "vae",
                                                                                           "text_encoder")) -> None:
    """Each component folder holds weights of the file variant asked for (None / "": plain `*.safetensors` or
    `*.bin`; e.g. "fp16": `*.fp16.safetensors`), or a UsageError says which variants it holds and what to pass
    (diffusers' own error names one missing file)."""
    want = variant or ""
    for sub in subfolders:
        held = {(p.name.split(".")[-2] if p.name.count(".") > 1 else "") for p in (Path(folder) / sub).iterdir()
                if p.suffix in (".safetensors", ".bin")}
        if held and want not in held:
            have = ", ".join(f"weights_variant={v}" if v else "plain files (weights_variant='')" for v in sorted(held))
            raise UsageError(f"{Path(folder) / sub}: no {'plain' if not want else want + '-variant'} weights; the "
                             f"folder holds {have}: pass --option weights_variant=<that>")


def save_trained(pipe, out: Path, report: dict) -> Path:
    """Write a trained pipeline folder atomically: `save_pretrained`, every component config's `_name_or_path`
    (the folder a component was loaded from: a path of the training machine) dropped, then `training.json`."""
    with atomic_dir(out, overwrite=True) as tmp:
        pipe.save_pretrained(tmp)
        for cfg in tmp.glob("*/config.json"):
            data = json.loads(cfg.read_text())
            if data.pop("_name_or_path", None) is not None:
                atomic_write_text(cfg, json.dumps(data, indent=2, sort_keys=True) + "\n")
        atomic_write_text(tmp / "training.json", json.dumps(report, indent=1, default=str))
    return out
