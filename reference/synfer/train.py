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

`--config sd15` (`train_sd15_synfer`) trains one of the stages `text` or `adapter` (the same `diffusion_step`) on
SD-1.5 weights from a labelled SampleSet (reference/common/sd15train.py: bf16, gradient checkpointing,
accelerate): `text` fine-tunes UNet + text encoder on expression captions; `adapter` trains the AU adapter on
the frozen model (give it the `text` output as --sd15 to chain them). SD-1.5 plays the `base` stage; the FER
models and the pseudo-labeller are not trained at this size, so the result samples with
semantic_guidance_scale=0 pseudo_label=false.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.core.errors import MissingWeights, UsageError
from bench.core.registry import check_fields
from bench.data.aus import AUS, EXPRESSIONS, N_AUS
from bench.world.params import WorldConfig
from reference.common.autoencoder import WEIGHTS, TinyVAEConfig, cache_dir, find_trained, load_tiny_vae
from reference.common.loop import lr_factor, optimizer_step, step_generator, train_resumable
from reference.common.parts import save_trained
from reference.common.sd15train import SD15TrainConfig
from reference.common.worlddata import WorldBatch, world_batch
from reference.synfer.config import SynFERTinyConfig, build_tiny
from reference.synfer.pipeline_synfer import LABEL_PROMPT, SynFERPipeline

GENERIC = LABEL_PROMPT  # caption of the base stage; also the pseudo-labeller's (label-free) prompt
ADJECTIVE = {"neutral": "neutral", "happy": "happy", "sad": "sad", "surprise": "surprised", "fear": "fearful",
             "disgust": "disgusted", "anger": "angry", "contempt": "contemptuous"}
STAGES = ("base", "text", "adapter", "fer", "labeller")


def expression_caption(code: int) -> str:
    """The FEText-style caption of an expression code (the expression in words, no AU detail)."""
    return f"a photo of a {ADJECTIVE[EXPRESSIONS[code]]} face"


def _opt(params, cfg):
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)


def _set_lr(opt, cfg, step, total):
    for g in opt.param_groups:
        g["lr"] = cfg.lr * lr_factor(step, total, warm=min(100, total // 10 + 1))


def diffusion_step(pipe: SynFERPipeline, cfg: SynFERTinyConfig, step: int, stage: str, offset: int = 0,
                   wb: WorldBatch | None = None) -> torch.Tensor:
    """Noise-prediction loss of one batch for the `base`, `text` or `adapter` stage.

    `wb`: the faces (any source, on the pipeline's device); None = world-train batch `step` (+ `offset`).
    `cfg`: any config with `seed` and `p_drop` (SynFERSD15Config has them)."""
    if wb is None:
        wb = world_batch(WorldConfig(seed=cfg.world_seed), step, cfg.batch, offset=offset)
    g = step_generator(cfg.seed, step, stream=STAGES.index(stage))
    n, dev = len(wb.images), wb.images.device
    drop_text = torch.rand(n, generator=g) < cfg.p_drop
    drop_au = (torch.rand(n, generator=g) < cfg.p_drop).to(dev)
    caps = [GENERIC if stage == "base" else expression_caption(int(e)) for e in wb.expression]
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
        loss = sum(F.cross_entropy(m(wb.images), wb.expression) for m in fers.values())
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
        with torch.no_grad():
            z0 = pipe.vae.encode(wb.images).latent_dist.mean * pipe.vae.config.scaling_factor
            # image only: the generic prompt and the null AU vector, as at labelling time (no label leaks in)
            feats, maps = labeller_inputs(pipe, z0, [GENERIC] * len(z0), torch.zeros_like(wb.aus),
                                          cfg.t_small, step_generator(cfg.seed, step, stream=9))
        loss = F.cross_entropy(pl(feats, maps), wb.expression)
        optimizer_step(opt, loss)
        return {"ce": loss.item()}

    logs["labeller"] = train_resumable(ckpt("labeller"), cfg.labeller_steps, labeller_fn, {"pseudo_labeller": pl},
                                       {"opt": opt}, desc="SynFER pseudo-labeller", progress=progress)
    _save(pipe, out / "full", {"stage": "full", "key": cfg.key, "config": dataclasses.asdict(cfg), "log": logs,
                               "command": "augen train synfer --config tiny"})
    return out


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


SD15_STAGES = ("text", "adapter")


@dataclass(frozen=True)
class SynFERSD15Config(SD15TrainConfig):
    """sd15 SynFER: the loop settings plus the stage and its condition dropout."""

    stage: str = "adapter"  # "text" (UNet + text encoder on expression captions) | "adapter" (AU adapter, frozen base)
    p_drop: float = 0.1  # probability of dropping the caption, and independently the AUs (classifier-free guidance)
    adapter_tokens: int = 4  # AU tokens of the adapter (adapter stage)

    def __post_init__(self):
        super().__post_init__()
        if self.stage not in SD15_STAGES:
            raise UsageError(f"sd15 SynFER trains stage {' or '.join(SD15_STAGES)}, not {self.stage!r} (SD-1.5 is "
                             "the base stage; the FER models and the pseudo-labeller train only at tiny size)")


def sd15_pipeline(folder: Path, cfg: SynFERSD15Config) -> SynFERPipeline:
    """SD-1.5 (4-channel UNet) in `folder` as a SynFER pipeline: with a new AU adapter (widths read from the UNet)
    for the adapter stage, without one for the text stage; DDIM with SD's sampling settings."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from reference.common.parts import check_sd15_folder, folder_scheduler_config, sd_scheduler
    from reference.synfer.modules import AUAdapter, inner_dims

    folder = check_sd15_folder(folder, "Stable Diffusion 1.5")
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    if unet.config.in_channels != 4:
        raise UsageError(f"{folder / 'unet'}: in_channels {unet.config.in_channels}; SynFER needs the 4-channel "
                         "text-to-image UNet (stable-diffusion-v1-5, not the inpainting one)")
    adapter = None
    if cfg.stage == "adapter":
        adapter = AUAdapter(num_aus=N_AUS, num_tokens=cfg.adapter_tokens,
                            cross_attention_dim=unet.config.cross_attention_dim, inner_dims=inner_dims(unet))
    pipe = SynFERPipeline(vae=AutoencoderKL.from_pretrained(folder / "vae"),
                          text_encoder=CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True),
                          tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True),
                          unet=unet, au_adapter=adapter,
                          scheduler=sd_scheduler(folder_scheduler_config(folder)))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def train_sd15_synfer(folder: Path, data: Path, cfg: SynFERSD15Config = SynFERSD15Config(),
                      progress: bool = True) -> Path:
    """Train SynFER's `cfg.stage` on SD-1.5 weights in `folder` from the SampleSet `data`; returns the pipeline
    folder (loadable by the `synfer` generator with weights=DIR)."""
    from reference.common.sd15train import LabelledFaces, output_folder, to_device, train_sd15

    torch.manual_seed(cfg.seed)  # the new adapter's initialisation
    pipe = sd15_pipeline(folder, cfg)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    adapter = cfg.stage == "adapter"
    faces = LabelledFaces(data, size, need_aus=AUS if adapter else (), need_expression=not adapter,
                          what=f"SynFER's {cfg.stage} stage")
    trainable = {"au_adapter": pipe.au_adapter} if adapter else {"unet": pipe.unet, "text_encoder": pipe.text_encoder}

    def loss_fn(micro: int):
        wb = to_device(faces.batch(micro, cfg.batch, cfg.seed), pipe.device)
        loss = diffusion_step(pipe, cfg, micro, cfg.stage, wb=wb)
        return loss, {"diffusion": loss.item()}

    out = output_folder(f"synfer-{cfg.stage}", cfg, folder, data)
    report = {"method": "synfer", "stage": cfg.stage, "sd15": str(folder), "data": str(data), "faces": len(faces),
              "image_size": size, "command": f"augen train synfer --config sd15 --sd15 {folder} --data {data}"
                                            f" --option stage={cfg.stage}"}
    return train_sd15(pipe, cfg, trainable, loss_fn, out, report, f"SynFER sd15 {cfg.stage}", progress,
                      checkpointing=cfg.gradient_checkpointing and not adapter)


def train_command(config: str, options: dict, progress: bool = True) -> Path:
    """`augen train synfer --config tiny|sd15 [--sd15 FOLDER --data SET] [--option k=v]` (`augen.trainers`)."""
    if config == "sd15":
        from reference.common.sd15train import sd15_options

        folder, data, rest = sd15_options(options, "synfer")
        check_fields(SynFERSD15Config, rest, "trainer synfer (sd15)")
        return train_sd15_synfer(folder, data, SynFERSD15Config(**rest), progress=progress)
    if config != "tiny":
        raise UsageError(f"unknown config {config!r} (tiny | sd15)")
    check_fields(SynFERTinyConfig, options, "trainer synfer")
    return train_tiny_synfer(SynFERTinyConfig(**options), progress=progress)
