"""The tiny world autoencoder (AutoencoderKL, 64x64x3 <-> 16x16x8), trained once and shared by both references.

`augen train vae` (or the first `augen train maugen|synfer --config tiny`) runs `train_tiny_vae`; the result is
a diffusers folder `tiny-vae-<config hash>` found by `load_tiny_vae` in the committed weights, then the user
cache. `scaling_factor` is set to 1/std of the training latents, as SD does, so latents have unit variance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.core.atomic import atomic_dir, atomic_write_text
from bench.core.errors import MissingWeights, UsageError
from bench.core.registry import check_fields
from bench.world.params import WorldConfig
from reference.common.loop import lr_factor, optimizer_step, step_generator, train_resumable
from reference.common.parts import tiny_vae
from reference.common.worlddata import world_batch

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"  # committed tiny checkpoints


@dataclass(frozen=True)
class TinyVAEConfig:
    world_seed: int = 0  # world whose train split is used
    image_size: int = 64  # world image size (latents are image_size/4)
    steps: int = 2000  # optimisation steps
    batch: int = 32  # fresh world-train images per step
    lr: float = 2e-3  # AdamW peak learning rate (cosine decay to 5%)
    kl_weight: float = 1e-6  # weight of the KL term (SD used 1e-6); it keeps the latent scale bounded
    edge_weight: float = 1.0  # weight of L1 on image gradients (keeps 1-px wrinkles and lip lines sharp)
    latent_channels: int = 8  # channels of the 16x16 latent
    sample_posterior: bool = False  # decode a posterior sample (SD) or its mean (trains ~1.5x faster here)
    seed: int = 0  # sampling noise seed
    eval_n: int = 512  # world-val images for the reported PSNR

    @property
    def key(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True) + "|vae-v2"
        return "tiny-vae-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def cache_dir() -> Path:
    from bench.core.paths import cache_root  # the same cache root as the harness (AUGEN_CACHE)

    return cache_root() / "reference"


def find_trained(relative: str, marker: str = "model_index.json") -> Path | None:
    """A trained folder (e.g. `maugen-tiny-<hash>`, `synfer-tiny-<hash>/full`): committed, else the user cache."""
    for folder in (WEIGHTS / relative, cache_dir() / relative):
        if (folder / marker).is_file():
            return folder
    return None


def edge_l1(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences of (B, C, H, W) images."""
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    return 0.5 * ((dy(y) - dy(x)).abs().mean() + (dx(y) - dx(x)).abs().mean())


@torch.no_grad()
def vae_psnr(vae, cfg: TinyVAEConfig) -> float:
    """Mean PSNR (dB, images in [0,1]) of encode-mean -> decode on world *val* images."""
    wcfg = WorldConfig(seed=cfg.world_seed, image_size=cfg.image_size)
    tot = 0.0
    for s in range(cfg.eval_n // 128):
        x = world_batch(wcfg, s, 128, split="val").images
        y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
        mse = ((y - x) / 2).pow(2).mean((1, 2, 3))
        tot += float((-10 * torch.log10(mse)).sum())
    return tot / (cfg.eval_n // 128 * 128)


def train_tiny_vae(cfg: TinyVAEConfig = TinyVAEConfig(), out: Path | None = None, progress: bool = True) -> Path:
    """Train (resuming from the cached checkpoint if any) and save a diffusers folder; returns its path."""
    out = out or cache_dir() / cfg.key
    torch.manual_seed(cfg.seed)
    vae = tiny_vae(cfg.latent_channels)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=0.0)
    wcfg = WorldConfig(seed=cfg.world_seed, image_size=cfg.image_size)

    def step_fn(step: int) -> dict[str, float]:
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(step, cfg.steps, warm=50)
        x = world_batch(wcfg, step, cfg.batch).images
        post = vae.encode(x).latent_dist
        z = post.mean
        if cfg.sample_posterior:
            z = z + post.std * torch.randn(post.mean.shape, generator=step_generator(cfg.seed, step))
        y = vae.decode(z).sample
        rec, kl, edge = (y - x).abs().mean(), post.kl().mean(), edge_l1(y, x)
        optimizer_step(opt, rec + cfg.edge_weight * edge + cfg.kl_weight * kl)
        return {"l1": rec.item(), "edge": edge.item(), "kl": kl.item()}

    ckpt = cache_dir() / f"{cfg.key}.ckpt"
    log = train_resumable(ckpt, cfg.steps, step_fn, {"vae": vae}, {"opt": opt}, desc="tiny VAE", progress=progress)
    with torch.no_grad():
        z = torch.cat([vae.encode(world_batch(wcfg, 10_000 + s, 128).images).latent_dist.mean for s in range(4)])
    vae.register_to_config(scaling_factor=float(1.0 / z.std()))
    report = {"key": cfg.key, "config": dataclasses.asdict(cfg), "psnr_val_db": round(vae_psnr(vae, cfg), 2),
              "latent_std": round(float(z.std()), 4), "log": log,
              "command": "augen train vae"}
    with atomic_dir(out, overwrite=True) as tmp:
        vae.save_pretrained(tmp)
        atomic_write_text(tmp / "training.json", json.dumps(report, indent=1))
    return out


def load_tiny_vae(cfg: TinyVAEConfig = TinyVAEConfig(), train_if_missing: bool = False, progress: bool = True):
    """The trained tiny VAE: committed weights, else the user cache, else train it (if allowed) or say how."""
    from diffusers import AutoencoderKL

    if (folder := find_trained(cfg.key, "config.json")) is not None:
        return AutoencoderKL.from_pretrained(folder).eval()
    if not train_if_missing:
        raise MissingWeights(f"no tiny VAE {cfg.key} in {WEIGHTS} or {cache_dir()}; run `augen train vae`")
    return AutoencoderKL.from_pretrained(train_tiny_vae(cfg, progress=progress)).eval()


def train_command(config: str, options: dict, progress: bool = True) -> Path:
    """`augen train vae [--option k=v]` (the `augen.trainers` entry point)."""
    if config != "tiny":
        raise UsageError("the VAE has only a tiny config; sd15 pipelines bring their own")
    check_fields(TinyVAEConfig, options, "trainer vae")
    return train_tiny_vae(TinyVAEConfig(**options), progress=progress)
