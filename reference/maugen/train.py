"""Training the tiny MAUGen on world train data (`augen train maugen --config tiny`).

One stage after the shared tiny VAE: the UNet, text encoder, MRL, identity ViT and DIG label head train
jointly on fresh world-train faces every step. Loss = noise-prediction MSE + label_weight x (focal BCE on
occurrence + focal MSE on intensity) + mrl_weight x contrastive alignment. Per step, each face draws:
a dropped condition (classifier-free guidance), an identity reference (prompt gets `<ID> <ID2>`), a random
inpainting mask. The config's variant picks the model and conventions:
- v1: the AU request also enters as level-carrying cue tokens and a class vector; focal MSE is the tanh form on
  5 * sigmoid vs the 0-5 target, weight 0.1; no mask = zero masked latents (fill 0 elsewhere), latent means.
- published: the request is the prompt text only; focal MSE is the authors' form on sigmoid vs target / 5,
  weight `intensity_weight`; masked regions are filled black and no mask = an all-black frame, latents
  sampled, as the published pipeline samples.
`captions=mixed` captions each world face in the world grammar or the authors' style (bench/world/captions.py),
half and half, a pure function of the sample. Resumable (checkpoint every 100 steps, identical weights after a
kill); the result is a pipeline folder `maugen-tiny-<hash>` with `training.json` beside it.
`--config sd15` (`train_sd15_maugen`) runs the same `training_step` on SD-1.5 inpainting weights and batches
of a labelled SampleSet (reference/common/sd15train.py: bf16, gradient checkpointing, accelerate): the set's own
captions (or a stated rule), its labelled AUs (the others masked out of the label losses) and head masks from
face-api's landmarks as the inpainting regions (bench/data/headregions.py; `masks=random`: rectangles).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.core.errors import MissingWeights, UsageError
from bench.world.captions import training_prompt
from bench.world.params import WorldConfig
from reference.common import autoencoder
from reference.common.autoencoder import TinyVAEConfig, cache_dir, find_trained, load_tiny_vae
from reference.common.loop import lr_factor, optimizer_step, step_generator, train_resumable
from reference.common.parts import save_trained
from reference.common.sd15train import SD15TrainConfig, train_by_config
from reference.common.worlddata import WorldBatch, disfa12, world_batch
from reference.maugen.config import MAUGenTinyConfig, build_tiny
from reference.maugen.modules import focal_bce, focal_mse, focal_mse_tanh
from reference.maugen.pipeline_maugen import DISFA12, ID_PLACEHOLDERS, MAUGenPipeline


def random_masks(g: torch.Generator, n: int, size: int) -> torch.Tensor:
    """(n, 1, size, size) rectangles (1 = regenerate) covering 25-75% of each side."""
    m = torch.zeros(n, 1, size, size)
    wh = (torch.rand(n, 2, generator=g) * 0.5 + 0.25) * size
    xy = torch.rand(n, 2, generator=g) * (size - wh)
    for i in range(n):
        x0, y0 = int(xy[i, 0]), int(xy[i, 1])
        m[i, :, y0:y0 + max(1, int(wh[i, 1])), x0:x0 + max(1, int(wh[i, 0]))] = 1.0
    return m


def _regions(pipe: MAUGenPipeline, wb: WorldBatch, rows: torch.Tensor, g: torch.Generator, h: int
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel masks (k, 1, S, S), latent masks (k, 1, h, h)) of the inpainted `rows`: the batch's own regions (head
    masks; latent = nearest downsampling, as the pipeline samples) or random rectangles drawn from `g`."""
    if wb.regions is not None:
        px = wb.regions[rows]
        return px, F.interpolate(px, size=(h, h), mode="nearest")
    m = random_masks(g, int(rows.sum()), h).to(wb.images.device)
    return F.interpolate(m, scale_factor=pipe.vae_scale_factor, mode="nearest"), m


def training_step(pipe: MAUGenPipeline, cfg: MAUGenTinyConfig, step: int, wb: WorldBatch | None = None
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one training step (a pure function of the weights, `step` and the batch).

    `wb`: the faces (any source: world, SampleSet; on the pipeline's device); None = world-train batch `step`.
    `cfg` is any config with the loss fields of MAUGenTinyConfig (MAUGenSD15Config has them).
    """
    if wb is None:
        wcfg = WorldConfig(seed=cfg.world_seed, image_size=64)
        wb = world_batch(wcfg, step, cfg.batch, reference_size=cfg.reference_size)
        if cfg.captions != "world":  # the same faces, each captioned in the style its (seed, index) draws
            idx = range(step * cfg.batch, (step + 1) * cfg.batch)
            wb.prompts = [training_prompt(a, e, i, cfg.world_seed, cfg.captions)
                          for a, e, i in zip(wb.aus.numpy(), wb.expression.tolist(), idx)]
    g = step_generator(cfg.seed, step)
    if getattr(cfg, "variant", "v1") != "v1":  # published Img2Text dropout draws from the global RNG: seeded by
        torch.manual_seed(step_generator(cfg.seed, step, stream=99).initial_seed())  # the step, so runs resume
    n = len(wb.images)
    dev = wb.images.device
    drop = torch.rand(n, generator=g) < cfg.p_drop
    has_ref = (torch.rand(n, generator=g) < cfg.p_reference) & ~drop
    inpaint = torch.rand(n, generator=g) < cfg.p_inpaint
    drop, has_ref, inpaint = drop.to(dev), has_ref.to(dev), inpaint.to(dev)
    target = disfa12(wb.aus)  # (B, 12) what the image shows
    cond = torch.where(drop[:, None], torch.zeros_like(target), target)  # (B, 12) what the model is told
    prompts = ["" if d else (f"a photo of {' '.join(ID_PLACEHOLDERS)}, {p}" if r else p)
               for p, d, r in zip(wb.prompts, drop.tolist(), has_ref.tolist())]
    sf = pipe.vae.config.scaling_factor
    published = cfg.variant == "published"
    with torch.no_grad():
        z0 = pipe.vae.encode(wb.images).latent_dist.mean * sf  # (B, C, 16, 16)
        h = z0.shape[-1]
        mask = torch.ones(n, 1, h, h, device=dev)
        if published:  # black fill; no mask = an all-black frame (as the published pipeline samples)
            px = torch.ones(n, 1, *wb.images.shape[2:], device=dev)
            if inpaint.any():
                px[inpaint], mask[inpaint] = _regions(pipe, wb, inpaint, g, h)
            frames = torch.where(px >= 0.5, -torch.ones_like(wb.images), wb.images)
            masked = pipe.vae.encode(frames).latent_dist.sample(g) * sf
        else:
            masked = torch.zeros_like(z0)
            if inpaint.any():
                px, mask[inpaint] = _regions(pipe, wb, inpaint, g, h)
                masked[inpaint] = pipe.vae.encode(wb.images[inpaint] * (px < 0.5)).latent_dist.mean * sf
    noise = torch.randn(z0.shape, generator=g).to(dev)
    t = torch.randint(0, pipe.scheduler.config.num_train_timesteps, (n,), generator=g).to(dev)
    xt = pipe.scheduler.add_noise(z0, noise, t)
    identity = pipe.identity_vector(wb.references)  # (B, id_dim)
    occ = (target >= 1.0).float()
    # unlabelled AUs (a set labelling a subset of DISFA12) leave the label losses; None keeps world batches exact
    known = None if bool(wb.au_mask.all()) else disfa12(wb.au_mask)  # (B, 12) bool
    if published:  # the request reaches the model only as prompt text
        words = pipe.mrl.identity_tokens(identity)  # (B, 2, D)
        ctx, text, pooled = pipe.context(prompts, torch.zeros_like(cond), identity, has_ref, words=words)
        eps, logits, inten = pipe.unet_with_labels(torch.cat([xt, mask, masked], 1), t, ctx, text, cond, words,
                                                   identity_mask=has_ref)
        lab = (focal_bce(logits, occ, mask=known)
               + cfg.intensity_weight * focal_mse(inten, target / 5.0, mask=known))
    else:
        ctx, text, pooled = pipe.context(prompts, cond, identity, has_ref)
        eps, logits, inten = pipe.unet_with_labels(torch.cat([xt, mask, masked], 1), t, ctx, text, cond, identity,
                                                   identity_mask=has_ref)
        lab = focal_bce(logits, occ, mask=known) + 0.1 * focal_mse_tanh(inten, target, mask=known)
    diff = F.mse_loss(eps, noise)
    keep = ~drop
    # unlabelled AUs enter the alignment as their 0 placeholders: positives are rows of equal levels, and a SampleSet
    # labels the same AUs in every row, so only labelled AUs tell rows apart
    mrl = pipe.mrl.alignment_loss(pooled[keep], target[keep], z0[keep], identity[keep], has_ref[keep])
    loss = diff + cfg.label_weight * lab + cfg.mrl_weight * mrl
    return loss, {"diffusion": diff.item(), "label": lab.item(), "mrl": mrl.item()}


def start_from(pipe: MAUGenPipeline, key: str) -> None:
    """Load the trained tiny MAUGen `key` into `pipe` (same architecture); token embeddings move by word, so a
    larger vocabulary keeps every word it shares and its new words keep their (seeded) random rows."""
    folder = find_trained(key)
    if folder is None:
        raise MissingWeights(f"init={key}: no trained tiny MAUGen in {autoencoder.WEIGHTS} or {cache_dir()}")
    src = MAUGenPipeline.from_pretrained(folder)
    for name in ("unet", "mrl", "label_head", "identity_encoder"):
        getattr(pipe, name).load_state_dict(getattr(src, name).state_dict())
    state = src.text_encoder.state_dict()
    emb = "embeddings.token_embedding.weight"
    rows = pipe.text_encoder.state_dict()[emb].clone()  # (V_new, D)
    old = src.tokenizer.get_vocab()
    for word, i in pipe.tokenizer.get_vocab().items():
        if word in old:
            rows[i] = state[emb][old[word]]
    pipe.text_encoder.load_state_dict({**state, emb: rows})


def tiny_options(cfg: MAUGenTinyConfig) -> str:
    """The `--option` flags that train `cfg` (variant and caption style when not v1 / world)."""
    defaults = MAUGenTinyConfig(variant=cfg.variant)
    return ("" if cfg.variant == "v1" else f" --option variant={cfg.variant}") + "".join(
        f" --option {k}={getattr(cfg, k)}" for k in ("captions", "init", "steps", "batch", "lr")
        if getattr(cfg, k) != getattr(defaults, k))


def train_tiny_maugen(cfg: MAUGenTinyConfig = MAUGenTinyConfig(), out: Path | None = None, progress: bool = True,
                      vae_cfg: TinyVAEConfig = TinyVAEConfig()) -> Path:
    """Train (resuming from its checkpoint) and save the tiny MAUGen pipeline; returns the folder."""
    out = out or cache_dir() / cfg.key
    if vae_cfg.key != cfg.vae:
        raise UsageError(f"config {cfg.key} learns the latents of VAE {cfg.vae}, not {vae_cfg.key}")
    vae = load_tiny_vae(vae_cfg, train_if_missing=True, progress=progress)
    torch.manual_seed(cfg.seed)
    pipe = build_tiny(cfg, vae=vae)
    if cfg.init:
        start_from(pipe, cfg.init)
    vae.requires_grad_(False)
    trainable = {"unet": pipe.unet, "text_encoder": pipe.text_encoder, "mrl": pipe.mrl,
                 "label_head": pipe.label_head, "identity_encoder": pipe.identity_encoder}
    params = [p for m in trainable.values() for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)

    def step_fn(step: int) -> dict[str, float]:
        for grp in opt.param_groups:
            grp["lr"] = cfg.lr * lr_factor(step, cfg.steps)
        loss, parts = training_step(pipe, cfg, step)
        optimizer_step(opt, loss, params)
        return parts

    log = train_resumable(cache_dir() / f"{cfg.key}.ckpt", cfg.steps, step_fn, trainable, {"opt": opt},
                          desc="tiny MAUGen", progress=progress)
    command = "augen train maugen --config tiny" + tiny_options(cfg)
    report = {"key": cfg.key, "config": dataclasses.asdict(cfg), "vae": vae_cfg.key, "log": log, "command": command}
    return save_trained(pipe, out, report)


def load_tiny_maugen(cfg: MAUGenTinyConfig = MAUGenTinyConfig(), train_if_missing: bool = False,
                     progress: bool = True) -> MAUGenPipeline:
    """The trained tiny MAUGen: committed weights, else the user cache, else train it (if allowed) or say how."""
    folder = find_trained(cfg.key)
    if folder is None:
        if not train_if_missing:
            raise MissingWeights(f"no tiny MAUGen {cfg.key} in {autoencoder.WEIGHTS} or {cache_dir()}; "
                                 f"run `augen train maugen --config tiny{tiny_options(cfg)}`")
        folder = train_tiny_maugen(cfg, progress=progress)
    pipe = MAUGenPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@dataclass(frozen=True)
class MAUGenSD15Config(SD15TrainConfig):
    """sd15 MAUGen: the loop settings plus the published variant's loss settings (as MAUGenTinyConfig's)."""

    p_drop: float = 0.1  # probability of dropping the whole condition (classifier-free guidance)
    p_reference: float = 0.5  # probability a face gets an identity reference (and the `<ID> <ID2>` prompt)
    p_inpaint: float = 0.25  # probability a face gets an inpainting mask (`masks`; else an all-black frame)
    label_weight: float = 0.5  # weight of the focal label losses
    intensity_weight: float = 1.0  # weight of the authors' focal-MSE beside focal BCE
    mrl_weight: float = 0.05  # weight of the contrastive alignment loss
    reference_size: int = 112  # identity ViT-S/8 input size
    masks: str = "head"  # inpainting regions: head (`augen head-regions SET`, bench/data/headregions.py) | random
    weights_variant: str = ""  # file variant of the SD folder's weights ("fp16" for *.fp16.safetensors; "" plain)
    captions: str = "dataset"  # caption rule (sd15train.CAPTION_RULES): the set's own | world (the world grammar)
    variant: str = "published"  # MAUGen variant trained (sd15 trains the authors' published model only)

    def __post_init__(self):
        super().__post_init__()
        if self.variant != "published":
            raise UsageError("sd15 training trains the published MAUGen only (variant=published)")
        if self.masks not in ("head", "random"):
            raise UsageError(f"masks must be head or random, not {self.masks!r}")


def train_sd15_maugen(folder: Path, data: Path, cfg: MAUGenSD15Config = MAUGenSD15Config(),
                      progress: bool = True, pipe: MAUGenPipeline | None = None) -> Path:
    """Fine-tune MAUGen (published) on SD-1.5 inpainting weights in `folder` from the SampleSet `data`.

    Trains UNet, text encoder, MRL, DIG head and identity ViT jointly with `training_step` (VAE frozen); returns
    the pipeline folder (loadable by the `maugen` generator with weights=DIR). Captions: `cfg.captions`; a set
    labelling only some of DISFA12 trains with the others masked out of the label losses (training.json names them).
    `pipe`: an already built pipeline instead of `folder`'s (reference/gpucheck.py: random SD-1.5-size weights).
    """
    from reference.common.sd15train import LabelledFaces, output_folder, to_device, train_sd15
    from reference.maugen.config import from_sd15_folder

    torch.manual_seed(cfg.seed)  # the untrained MRL / DIG head / ViT initialisation
    pipe = pipe or from_sd15_folder(folder, weights_variant=cfg.weights_variant or None)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    faces = LabelledFaces(data, size, any_aus=DISFA12, reference_size=cfg.reference_size, what="MAUGen",
                          captions=cfg.captions, head_regions=cfg.masks == "head")
    trainable = {"unet": pipe.unet, "text_encoder": pipe.text_encoder, "mrl": pipe.mrl,
                 "label_head": pipe.label_head, "identity_encoder": pipe.identity_encoder}

    def loss_fn(micro: int):
        wb = to_device(faces.batch(micro, cfg.batch, cfg.seed), pipe.device)
        return training_step(pipe, cfg, micro, wb)

    out = output_folder("maugen", cfg, folder, data)
    report = {"method": "maugen", "variant": "published", "sd15": str(folder), "data": str(data),
              "faces": len(faces), "image_size": size, **faces.describe(),
              "inpainting": f"{cfg.p_inpaint:g} of faces: {faces.describe().get('regions', 'random rectangles')}, "
                            "filled black; the rest: an all-black frame",
              "command": f"augen train maugen --config sd15 --sd15 {folder} --data {data}"}
    return train_sd15(pipe, cfg, trainable, loss_fn, out, report, "MAUGen sd15", progress)


def train_command(config: str, options: dict, progress: bool = True) -> Path:
    """`augen train maugen --config tiny|sd15 [--sd15 FOLDER --data SET] [--option k=v]` (`augen.trainers`)."""
    return train_by_config("maugen", config, options, lambda: (MAUGenTinyConfig, train_tiny_maugen),
                           lambda: (MAUGenSD15Config, train_sd15_maugen), progress)
