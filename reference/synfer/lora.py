"""LoRA on the UNet for SynFER's sd15 text stage, through `peft` as the public reproduction trains it.

magnusdtd/SynFER `src/train_lora.py` (at 1d87f41) freezes the text encoder and VAE and adds a LoRA of rank r = 4
(lora_alpha = r, Gaussian initialisation) to the UNet's attention projections `to_q`, `to_k`, `to_v`, `to_out.0`
(self- and cross-attention of every transformer block); AdamW at 1e-4, constant schedule; at the end it fuses the
LoRA into the UNet and saves a plain pipeline. We do the same: `add_lora` before training, `lora_state` (the LoRA
matrices alone) is what the resumable checkpoint holds, `merge_lora` folds them into the UNet's own weights before
the pipeline folder is saved, so any SynFER loader samples the trained model without peft.
"""

from __future__ import annotations

import torch
import torch.nn as nn

LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")  # the reproduction's target_modules (train_lora.py)


def add_lora(unet, rank: int, seed: int) -> list[nn.Parameter]:
    """Add a rank-`rank` LoRA (alpha = rank, Gaussian A, zero B: the UNet's output is unchanged) to `unet`'s
    attention projections; the initialisation is drawn from `seed` (a resumed run rebuilds the same one before
    its checkpoint overwrites it). Returns the LoRA parameters (the only ones left trainable in the UNet)."""
    from peft import LoraConfig

    if rank < 1:
        raise ValueError(f"lora_rank must be >= 1, got {rank}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                    target_modules=list(LORA_TARGETS)))
    return [p for n, p in unet.named_parameters() if ".lora_" in n]


def lora_state(unet) -> nn.ModuleDict:
    """The LoRA A/B layers of `unet` as one module (keys: the layer's path with "." -> "/"), for checkpoints: its
    state_dict holds the LoRA matrices only, not the frozen UNet."""
    return nn.ModuleDict({name.replace(".", "/"): m for name, m in unet.named_modules()
                          if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")})


def merge_lora(unet) -> None:
    """Fold the LoRA into the UNet's weights (W + B A, alpha / r = 1) and remove the peft layers: a plain
    UNet2DConditionModel again, saved and loaded as any other."""
    unet.fuse_lora()
    unet.unload_lora()
