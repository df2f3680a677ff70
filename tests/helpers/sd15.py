"""SD-1.5-shaped folders of tiny random weights (test_maugen_published.py, test_sd15_training.py): the same
component classes and config keys as a diffusers SD-1.5 checkpoint, small enough for CPU tests; and what the sd15
training tests share: a run through the CLI, the saved weights, a simulated crash."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def sd_like_folder(root: Path, in_channels: int = 9, fp16_variant: bool = True, name: str = "sd",
                   layout: str = "small", image_size: int = 64) -> Path:
    """A diffusers-layout SD-1.5-like folder `root/name`: UNet2DConditionModel with `in_channels` (9: inpainting,
    MAUGen; 4: text-to-image, SynFER) and cross_attention_dim 32 = the CLIPTextModel's width, AutoencoderKL,
    CLIPTokenizer (a character BPE), SD's legacy text config (eos_token_id 2), a PNDM scheduler config that omits
    clip_sample. `fp16_variant`: weights only as `*.fp16.safetensors` (as some SD folders ship), else plain fp32.

    `layout`: "small" (a two-level UNet, a 3-level VAE, one text layer: the quickest) or "sd15" (SD-1.5's own block
    layout at tiny widths, reference.common.parts.tiny_sd15_parts: 4 UNet levels of 2 layers, cross-attention in
    3, the 4-level VAE with mid-block attention, 2 quick_gelu text layers), with `image_size` px images."""
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from reference.common.parts import tiny_sd15_parts, tiny_unet

    torch.manual_seed(0)
    out = Path(root) / name
    tdir = Path(root) / f"{name}-tok-src"
    tdir.mkdir(parents=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in sorted(set(string.ascii_lowercase + string.digits + ",.-()'/:")):
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    (tdir / "vocab.json").write_text(json.dumps(vocab))
    (tdir / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tdir / "vocab.json"), str(tdir / "merges.txt"), model_max_length=77)
    tok.save_pretrained(out / "tokenizer")
    if layout == "sd15":
        parts = tiny_sd15_parts(in_channels, tok)
        text, unet, vae = parts["text_encoder"], parts["unet"], parts["vae"]
        text.config.eos_token_id = 2  # SD-1.5's legacy text config (read again when the folder loads)
        unet.register_to_config(sample_size=image_size // 8)
        vae.register_to_config(sample_size=image_size)
    elif layout == "small":
        text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
                                            bos_token_id=0, eos_token_id=2, pad_token_id=1))
        unet = tiny_unet(in_channels=in_channels, out_channels=4, cross_attention_dim=32)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
                            down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                            block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8,
                            mid_block_add_attention=False)
    else:
        raise ValueError(f"layout must be small or sd15, not {layout!r}")
    for sub, m in (("text_encoder", text), ("unet", unet), ("vae", vae)):
        if fp16_variant:
            m.half().save_pretrained(out / sub, variant="fp16")
        else:
            m.save_pretrained(out / sub)
    (out / "scheduler").mkdir()
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        {"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
         "beta_end": 0.012, "num_train_timesteps": 1000, "skip_prk_steps": True}))
    return out


# -- training through the CLI, saved weights, a simulated crash (test_sd15_training.py, test_synfer_sd15.py,
#    test_maugen_sd15_layout.py) ----------------------------------------------------------------------------------

LOOP = {"steps": 2, "batch": 2, "grad_accum": 1, "checkpoint_every": 1}  # the smallest run that checkpoints twice


def train_cli(model: str, folder: Path, data: Path, out: Path, **options) -> Path:
    """`augen train MODEL --config sd15 --sd15 FOLDER --data SET --option k=v ... --quiet` through the CLI parser
    (errors raised, not printed); `options` over `LOOP`. Returns `out`."""
    from bench.cli import build_parser

    argv = ["train", model, "--config", "sd15", "--sd15", str(folder), "--data", str(data), "--quiet"]
    for k, v in {**LOOP, "out": out, **options}.items():
        argv += ["--option", f"{k}={v}"]
    args = build_parser().parse_args(argv)
    assert args.func(args) == 0
    return out


def saved_weights(folder: Path, *subs: str) -> dict[str, torch.Tensor]:
    """Every tensor of the pipeline folder's `subs` components, keyed `component/name`."""
    from safetensors.torch import load_file

    return {f"{s}/{k}": v for s in subs for k, v in load_file(next((folder / s).glob("*.safetensors"))).items()}


@contextmanager
def crash_in_step_1() -> Iterator[None]:
    """Within the block, the sd15 training loop checkpoints step 0 and raises KeyboardInterrupt in step 1; the real
    loop is back after it."""
    import reference.common.sd15train as loop

    real = loop.train_resumable

    def crashing(ckpt, steps, step_fn, *a, **kw):
        def fn(step):
            if step == 1:
                raise KeyboardInterrupt("simulated crash")
            return step_fn(step)
        return real(ckpt, steps, fn, *a, **kw)

    loop.train_resumable = crashing
    try:
        yield
    finally:
        loop.train_resumable = real
