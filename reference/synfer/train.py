"""Training the tiny SynFER on world train data (`augen train synfer --config tiny`), stage by stage.

Stages (each resumable from its own checkpoint, each saved as a pipeline folder so the ablation can
generate from every one of them):
  base     UNet + text encoder on one generic caption ("a photo of a face"): the analogue of an SD that
           knows faces but not expressions;
  text     the base fine-tuned on expression captions ("a photo of a happy face"; the FEText analogue: the
           expression in words, not the exact AUs);
  adapter  the AU adapter (MLP -> tokens -> decoupled cross-attention) on the frozen text model;
  fer      the guidance FER classifier and the external FER ensemble, on world-train images;
  labeller the FERAnno pseudo-labeller on UNet features + cross-attention maps at t_small (random re-noising, as
           the committed checkpoint was trained; the paper inverts, which labelling offers as `feranno="invert"`).
The result is `synfer-tiny-<hash>/{base,text,full}` pipeline folders with `training.json`.

`--config sd15` trains the same stages (text, adapter, fer, labeller; SD-1.5 plays `base`) at SD-1.5 size from a
labelled SampleSet: reference/synfer/train_sd15.py, with this module's losses (`diffusion_step`, `fer_loss`,
`labeller_loss`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.core.errors import MissingWeights, UsageError
from bench.data.aus import EXPRESSIONS
from bench.world.params import WorldConfig
from reference.common.autoencoder import WEIGHTS, TinyVAEConfig, cache_dir, find_trained, load_tiny_vae
from reference.common.loop import lr_factor, optimizer_step, step_generator, train_resumable
from reference.common.parts import save_trained
from reference.common.worlddata import WorldBatch, world_batch
from reference.synfer.config import SynFERTinyConfig, build_tiny
from reference.synfer.pipeline_synfer import LABEL_PROMPT, SynFERPipeline

GENERIC = LABEL_PROMPT  # caption of the base stage; also the pseudo-labeller's (label-free) prompt
ADJECTIVE = {"neutral": "neutral", "happy": "happy", "sad": "sad", "surprise": "surprised", "fear": "fearful",
             "disgust": "disgusted", "anger": "angry", "contempt": "contemptuous"}
STAGES = ("base", "text", "adapter", "fer", "labeller")


def expression_caption(code: int) -> str:
    """The FEText-style caption of an expression code (the expression in words, no AU detail)."""
    if not 0 <= code < len(EXPRESSIONS):  # -1 = a row without an expression (worlddata's contract): never a class
        raise UsageError(f"expression code {code} names no expression; a stage captioning expressions must require "
                         "them of its data (LabelledFaces(need_expression=True))")
    return f"a photo of a {ADJECTIVE[EXPRESSIONS[code]]} face"


def caption(stage: str, expression: int) -> str:
    """The training caption of a face in `stage`: GENERIC in `base`; its expression caption in `text` (which
    requires expressions); in `adapter` its expression caption, or GENERIC for a row without an expression (-1:
    the adapter learns AUs, and the generator prompts a condition without an expression with GENERIC too)."""
    if stage == "base" or (stage == "adapter" and expression < 0):
        return GENERIC
    return expression_caption(expression)


def _opt(params, cfg):
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)


def _set_lr(opt, cfg, step, total):
    for g in opt.param_groups:
        g["lr"] = cfg.lr * lr_factor(step, total, warm=min(100, total // 10 + 1))


def diffusion_step(pipe: SynFERPipeline, cfg: SynFERTinyConfig, step: int, stage: str, offset: int = 0,
                   wb: WorldBatch | None = None) -> torch.Tensor:
    """Noise-prediction loss of one batch for the `base`, `text` or `adapter` stage.

    `wb`: the faces (any source, on the pipeline's device); None = world-train batch `step` (+ `offset`).
    `cfg`: any config with `seed`, `p_drop_text` and `p_drop_au` (SynFERTinyConfig's are both its p_drop)."""
    if wb is None:
        wb = world_batch(WorldConfig(seed=cfg.world_seed), step, cfg.batch, offset=offset)
    g = step_generator(cfg.seed, step, stream=STAGES.index(stage))
    n, dev = len(wb.images), wb.images.device
    drop_text = torch.rand(n, generator=g) < cfg.p_drop_text
    drop_au = (torch.rand(n, generator=g) < cfg.p_drop_au).to(dev)
    caps = [caption(stage, int(e)) for e in wb.expression]
    caps = ["" if d else c for c, d in zip(caps, drop_text.tolist())]
    with torch.no_grad():
        z0 = pipe.vae.encode(wb.images).latent_dist.mean * pipe.vae.config.scaling_factor
    noise = torch.randn(z0.shape, generator=g).to(dev)
    t = torch.randint(0, pipe.scheduler.config.num_train_timesteps, (n,), generator=g).to(dev)
    x = pipe.scheduler.add_noise(z0, noise, t)
    au = torch.where(drop_au[:, None], torch.zeros_like(wb.aus), wb.aus) if stage == "adapter" else None
    with torch.set_grad_enabled(stage != "adapter"):
        emb = pipe.encode_text(caps)
    return F.mse_loss(pipe.predict_noise(x, t, emb, au), noise)


def _save(pipe: SynFERPipeline, out: Path, report: dict) -> None:
    save_trained(pipe, out, report)


def train_tiny_synfer(cfg: SynFERTinyConfig = SynFERTinyConfig(), out: Path | None = None, progress: bool = True,
                      vae_cfg: TinyVAEConfig = TinyVAEConfig()) -> Path:
    """Run every stage (each resumes from its checkpoint) and save base/text/full pipelines under `out`."""
    out = out or cache_dir() / cfg.key
    if vae_cfg.key != cfg.vae:
        raise UsageError(f"config {cfg.key} learns the latents of VAE {cfg.vae}, not {vae_cfg.key}")
    vae = load_tiny_vae(vae_cfg, train_if_missing=True, progress=progress).requires_grad_(False)
    torch.manual_seed(cfg.seed)
    pipe = build_tiny(cfg, vae=vae)
    ck = cache_dir() / cfg.key
    logs: dict[str, list] = {}
    ckpt = lambda s: ck.with_name(f"{cfg.key}-{s}.ckpt")  # noqa: E731

    # stages base and text: UNet + text encoder (the adapter is installed but silent: no AU tokens)
    base = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    for stage, steps, offset in (("base", cfg.base_steps, 0), ("text", cfg.text_steps, 10_000_000)):
        params = [p for m in base.values() for p in m.parameters()]
        opt = _opt(params, cfg)

        def step_fn(step, stage=stage, steps=steps, offset=offset, opt=opt, params=params):
            _set_lr(opt, cfg, step, steps)
            loss = diffusion_step(pipe, cfg, step, stage, offset)
            optimizer_step(opt, loss, params)
            return {"diffusion": loss.item()}

        logs[stage] = train_resumable(ckpt(stage), steps, step_fn, base, {"opt": opt}, desc=f"SynFER {stage}",
                                      progress=progress)
        _save(_without_heads(pipe), out / stage, {"stage": stage, "key": cfg.key, "log": logs[stage]})

    # stage adapter: base frozen
    for m in base.values():
        m.requires_grad_(False)
    ad = pipe.au_adapter
    opt = _opt(ad.parameters(), cfg)

    def adapter_fn(step):
        _set_lr(opt, cfg, step, cfg.adapter_steps)
        loss = diffusion_step(pipe, cfg, step, "adapter", offset=20_000_000)
        optimizer_step(opt, loss)
        return {"diffusion": loss.item()}

    logs["adapter"] = train_resumable(ckpt("adapter"), cfg.adapter_steps, adapter_fn, {"au_adapter": ad},
                                      {"opt": opt}, desc="SynFER adapter", progress=progress)

    # FER classifier (guidance) and the external ensemble: world-train images, true expressions
    fers = {"fer_classifier": pipe.fer_classifier,
            **{f"member{i}": m for i, m in enumerate(pipe.fer_ensemble.members)}}
    params = [p for m in fers.values() for p in m.parameters()]
    opt = _opt(params, cfg)

    def fer_fn(step):
        _set_lr(opt, cfg, step, cfg.fer_steps)
        wb = world_batch(WorldConfig(seed=cfg.world_seed), step, cfg.batch, offset=30_000_000)
        loss = fer_loss(pipe, wb.images, wb.expression)
        optimizer_step(opt, loss)
        return {"ce_sum": loss.item()}

    logs["fer"] = train_resumable(ckpt("fer"), cfg.fer_steps, fer_fn, fers, {"opt": opt}, desc="SynFER FER models",
                                  progress=progress)

    # pseudo-labeller on the frozen generator's features at t_small
    pl = pipe.pseudo_labeller
    opt = _opt(pl.parameters(), cfg)

    def labeller_fn(step):
        _set_lr(opt, cfg, step, cfg.labeller_steps)
        wb = world_batch(WorldConfig(seed=cfg.world_seed), step, cfg.batch, offset=40_000_000)
        loss = labeller_loss(pipe, wb.images, wb.expression, cfg.t_small, cfg.seed, step)
        optimizer_step(opt, loss)
        return {"ce": loss.item()}

    logs["labeller"] = train_resumable(ckpt("labeller"), cfg.labeller_steps, labeller_fn, {"pseudo_labeller": pl},
                                       {"opt": opt}, desc="SynFER pseudo-labeller", progress=progress)
    _save(pipe, out / "full", {"stage": "full", "key": cfg.key, "config": dataclasses.asdict(cfg), "log": logs,
                               "command": "augen train synfer --config tiny"})
    return out


def fer_loss(pipe: SynFERPipeline, images: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of the guidance classifier and every external ensemble member on images (B, 3, H, W)
    in [-1, 1] against expression codes (B,) (every one labelled: the caller refuses rows without one)."""
    models = [pipe.fer_classifier, *pipe.fer_ensemble.members]
    return sum(F.cross_entropy(m(images), expression) for m in models)


def labeller_loss(pipe: SynFERPipeline, images: torch.Tensor, expression: torch.Tensor, t_small: int, seed: int,
                  step: int) -> torch.Tensor:
    """Cross-entropy of the pseudo-labeller on the frozen generator's features of `images` (B, 3, H, W) at t_small,
    re-noised with step `step`'s generator; it sees the image only: the generic prompt and the null AU vector, as
    at labelling time (no label leaks in)."""
    with torch.no_grad():
        z0 = pipe.vae.encode(images).latent_dist.mean * pipe.vae.config.scaling_factor
        au0 = torch.zeros(len(z0), pipe.au_adapter.config.num_aus, device=z0.device)
        feats, maps = labeller_inputs(pipe, z0, [GENERIC] * len(z0), au0, t_small,
                                      step_generator(seed, step, stream=9))
    pl = pipe.pseudo_labeller
    return F.cross_entropy(pl([f.to(pl.dtype) for f in feats], maps.to(pl.dtype)), expression)


def labeller_inputs(pipe: SynFERPipeline, z0: torch.Tensor, captions: list[str], aus: torch.Tensor, t_small: int,
                    g: torch.Generator) -> tuple[list[torch.Tensor], torch.Tensor]:
    """What the pseudo-labeller reads: up-block features and the last cross-attention map at t_small, reached by
    random re-noising with `g` (the committed labeller's training; labelling may invert instead, see
    SynFERPipeline.feranno_inputs)."""
    return pipe.feranno_inputs(z0, pipe.encode_text(captions), aus, t_small, g, feranno="renoise")


def _without_heads(pipe: SynFERPipeline) -> SynFERPipeline:
    """The same UNet and text encoder as a pipeline without adapter or labellers (stages base and text).

    The adapter's attention processors are not modules, so the UNet's saved weights are the base's own.
    """
    return SynFERPipeline(vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=pipe.unet,
                          scheduler=pipe.scheduler)


def load_tiny_synfer(cfg: SynFERTinyConfig = SynFERTinyConfig(), stage: str = "full", train_if_missing: bool = False,
                     progress: bool = True) -> SynFERPipeline:
    """A trained tiny SynFER stage (base | text | full): committed weights, else the user cache, else train."""
    folder = find_trained(f"{cfg.key}/{stage}")
    if folder is None:
        if not train_if_missing:
            raise MissingWeights(f"no tiny SynFER {cfg.key}/{stage} in {WEIGHTS} or {cache_dir()}; "
                                    "run `augen train synfer --config tiny`")
        folder = train_tiny_synfer(cfg, progress=progress) / stage
    pipe = SynFERPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe
