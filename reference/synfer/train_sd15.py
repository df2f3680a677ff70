"""Training SynFER at SD-1.5 size from a labelled face SampleSet (`augen train synfer --config sd15`), stage by stage.

SD-1.5 plays the tiny trainer's `base` stage; the other four train here, each on the previous one's output folder
(give it as `--sd15`), each resumable (reference/common/sd15train.py `train_sd15`: bf16 on CUDA, accelerate,
checkpoints), each saved as a SynFER pipeline folder with `training.json`:
  text      the FEText analogue on expression captions (`expression_caption`): `tuning=lora` (default, the public
            reproduction: LoRA r=4 on the UNet's attention projections, text encoder frozen, reference/synfer/lora.py;
            merged into the UNet when saved) or `tuning=full` (UNet + text encoder);
  adapter   the AU adapter on the frozen model; it reads the AUs the set labels (a set without some AUs trains an
            adapter that never sees them, stated in training.json);
  fer       the guidance FER classifier and the external FER ensemble on the set's images (cross-entropy);
  labeller  the FERAnno pseudo-labeller on UNet features and cross-attention maps at t_small (needs the adapter).
After all four the folder samples with the published settings (semantic guidance, pseudo-labels).
The loss of each stage is the tiny trainer's own (reference/synfer/train.py `diffusion_step`, `fer_loss`,
`labeller_loss`). Rows without an expression are refused by name in every stage that learns expressions (text, fer,
labeller); the adapter stage captions such a row with the generic caption (`train.caption`), as the generator
prompts a condition without an expression.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.core.errors import UsageError
from bench.data.aus import AUS
from reference.common.sd15train import SD15TrainConfig
from reference.synfer.pipeline_synfer import SynFERPipeline

SD15_STAGES = ("text", "adapter", "fer", "labeller")
TUNINGS = ("lora", "full")
# the stage's defaults where the config leaves them (lr 0, p_drop_text -1): the public reproduction's where it
# trains the stage (magnusdtd/SynFER scripts/train_lora.sh, train_au_adapter.sh: AdamW 1e-4 constant; captions
# dropped to "" at 0.05 in the adapter stage only, src/au_dataset.py; AUs never dropped); full fine-tuning of the
# UNet and text encoder at 1e-5 (the LoRA rate would wreck SD's weights); the FER models and the labeller, which it
# does not train, at 1e-4
STAGE_LR = {"lora": 1e-4, "full": 1e-5, "adapter": 1e-4, "fer": 1e-4, "labeller": 1e-4}
STAGE_P_DROP_TEXT = {"text": 0.0, "adapter": 0.05, "fer": 0.0, "labeller": 0.0}


@dataclass(frozen=True)
class SynFERSD15Config(SD15TrainConfig):
    """sd15 SynFER: the loop settings plus the stage and its settings."""

    stage: str = "adapter"  # text | adapter | fer | labeller (SD15_STAGES; each on the previous stage's folder)
    tuning: str = "lora"  # text stage: "lora" (UNet LoRA, text encoder frozen: the reproduction) | "full"
    lora_rank: int = 4  # LoRA rank r (lora_alpha = r), text stage with tuning=lora
    lr: float = 0.0  # AdamW learning rate; 0 = the stage's default (STAGE_LR), resolved on construction
    lr_schedule: str = "constant"  # "constant" (the reproduction) | "cosine" (warm-up, cosine to 5%: the tiny's)
    p_drop_text: float = -1.0  # probability of training on the "" caption; -1 = the stage's (STAGE_P_DROP_TEXT)
    p_drop_au: float = 0.0  # adapter stage: probability of the zero AU vector (the reproduction: never)
    adapter_tokens: int = 4  # AU tokens of the adapter (adapter stage)
    t_small: int = 50  # labeller stage: the timestep at which it reads the UNet (recorded in the labeller)
    weights_variant: str = ""  # file variant of the --sd15 folder's weights ("fp16" for *.fp16.safetensors)

    def __post_init__(self):
        super().__post_init__()
        if self.stage not in SD15_STAGES:
            raise UsageError(f"sd15 SynFER trains stage {', '.join(SD15_STAGES)}, not {self.stage!r} (SD-1.5 "
                             "itself is the base stage)")
        if self.tuning not in TUNINGS:
            raise UsageError(f"tuning must be one of {', '.join(TUNINGS)}, not {self.tuning!r}")
        if self.lora_rank < 1 or not 0 <= self.p_drop_au <= 1 or not (self.p_drop_text == -1 or
                                                                       0 <= self.p_drop_text <= 1):
            raise UsageError("lora_rank must be >= 1, p_drop_au in [0, 1], p_drop_text in [0, 1] (or -1: the "
                             "stage's default)")
        if self.lr == 0:
            object.__setattr__(self, "lr", STAGE_LR[self.tuning if self.stage == "text" else self.stage])
        if self.p_drop_text == -1:
            object.__setattr__(self, "p_drop_text", STAGE_P_DROP_TEXT[self.stage])


def load_stage_input(folder: Path, cfg: SynFERSD15Config) -> SynFERPipeline:
    """The `--sd15` folder as a SynFER pipeline: SD-1.5 weights (no SynFER modules yet), or a previous stage's
    output folder (model_index.json names SynFERPipeline) with the modules it trained; DDIM with SD's settings."""
    from reference.common.parts import check_sd15_folder, check_weights_variant
    from reference.synfer.config import from_sd15_folder

    folder = check_sd15_folder(folder, "Stable Diffusion 1.5")
    index = folder / "model_index.json"
    if index.is_file() and json.loads(index.read_text()).get("_class_name") == SynFERPipeline.__name__:
        check_weights_variant(folder, cfg.weights_variant)
        pipe = SynFERPipeline.from_pretrained(folder, variant=cfg.weights_variant or None)
    else:
        pipe = from_sd15_folder(folder, weights_variant=cfg.weights_variant or None, heads=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _need(pipe: SynFERPipeline, folder: Path, stage: str, absent: tuple[str, ...] = (),
          present: tuple[str, ...] = ()) -> None:
    """Refuse a stage whose input folder is not where the chain text -> adapter -> fer -> labeller puts it."""
    if has := [n for n in absent if getattr(pipe, n, None) is not None]:
        raise UsageError(f"{folder}: already has {', '.join(has)}; the {stage} stage trains on SD-1.5 or an earlier "
                         "stage's folder (text -> adapter -> fer -> labeller)")
    if lacks := [n for n in present if getattr(pipe, n, None) is None]:
        raise UsageError(f"{folder}: has no {', '.join(lacks)}; the {stage} stage needs it (train the adapter stage "
                         "first and give its output as --sd15)")


def train_sd15_synfer(folder: Path, data: Path, cfg: SynFERSD15Config = SynFERSD15Config(),
                      progress: bool = True, pipe: SynFERPipeline | None = None) -> Path:
    """Train SynFER's `cfg.stage` on the weights in `folder` (SD-1.5, or the previous stage's output) from the
    SampleSet `data`; returns the pipeline folder (loadable by the `synfer` generator with weights=DIR).
    `pipe`: the stage's input already built (reference/gpucheck.py on random weights); None: loaded from `folder`."""
    from reference.common.sd15train import LabelledFaces, output_folder, to_device, train_sd15
    from reference.synfer.config import sd15_heads
    from reference.synfer.lora import add_lora, lora_state, merge_lora
    from reference.synfer.train import GENERIC, diffusion_step, fer_loss, labeller_loss

    pipe = load_stage_input(folder, cfg) if pipe is None else pipe
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    what = f"SynFER's {cfg.stage} stage"
    stage, extra, before_save = cfg.stage, {}, None  # captions=None below: SynFER captions from expressions
    torch.manual_seed(cfg.seed)  # a new module's initialisation
    if stage == "text":
        _need(pipe, folder, stage, absent=("au_adapter", "fer_classifier", "pseudo_labeller", "fer_ensemble"))
        faces = LabelledFaces(data, size, need_expression=True, what=what, captions=None)
        if cfg.tuning == "lora":
            add_lora(pipe.unet, cfg.lora_rank, cfg.seed)
            trainable = {"unet_lora": lora_state(pipe.unet)}
            before_save = lambda: merge_lora(pipe.unet)  # noqa: E731
            extra = {"tuning": "lora", "lora_rank": cfg.lora_rank, "lora_targets": "to_q to_k to_v to_out.0 (UNet)",
                     "saved": "LoRA merged into the UNet's weights"}
        else:
            trainable = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
            extra = {"tuning": "full"}
        extra["text_captions"] = "expression captions (reference/synfer/train.py expression_caption)"
    elif stage == "adapter":
        _need(pipe, folder, stage, absent=("au_adapter",))
        faces = LabelledFaces(data, size, any_aus=AUS, what=what, captions=None)
        labelled = faces.describe()["labelled_aus"]
        read = None if len(labelled) == len(AUS) else tuple(AUS.index(a) for a in labelled)
        pipe = _with(pipe, **sd15_heads(pipe.unet, pipe.tokenizer.model_max_length, ("au_adapter",), read=read,
                                        num_tokens=cfg.adapter_tokens))
        trainable = {"au_adapter": pipe.au_adapter}
        extra = {"adapter_reads_aus": labelled, "not_conditioned_aus": [a for a in AUS if a not in labelled],
                 "adapter_captions": f"the row's expression caption, or {GENERIC!r} for a row without an expression"}
    elif stage == "fer":
        _need(pipe, folder, stage, absent=("fer_classifier", "fer_ensemble"))
        faces = LabelledFaces(data, size, need_expression=True, what=what, captions=None)
        pipe = _with(pipe, **sd15_heads(pipe.unet, pipe.tokenizer.model_max_length,
                                        ("fer_classifier", "fer_ensemble")))
        trainable = {"fer_classifier": pipe.fer_classifier, "fer_ensemble": pipe.fer_ensemble}
    else:
        _need(pipe, folder, stage, absent=("pseudo_labeller",), present=("au_adapter",))
        faces = LabelledFaces(data, size, need_expression=True, what=what, captions=None)
        pipe = _with(pipe, **sd15_heads(pipe.unet, pipe.tokenizer.model_max_length, ("pseudo_labeller",),
                                        t_small=cfg.t_small))
        trainable = {"pseudo_labeller": pipe.pseudo_labeller}

    def loss_fn(micro: int):
        wb = to_device(faces.batch(micro, cfg.batch, cfg.seed), pipe.device)
        if stage in ("text", "adapter"):
            loss = diffusion_step(pipe, cfg, micro, stage, wb=wb)
            return loss, {"diffusion": loss.item()}
        if stage == "fer":
            loss = fer_loss(pipe, wb.images, wb.expression)
            return loss, {"ce_sum": loss.item()}
        loss = labeller_loss(pipe, wb.images, wb.expression, cfg.t_small, cfg.seed, micro)
        return loss, {"ce": loss.item()}

    out = output_folder(f"synfer-{stage}", cfg, folder, data)
    report = {"method": "synfer", "stage": stage, **extra, "sd15": str(folder), "data": str(data),
              "faces": len(faces), "image_size": size, "data_policy": faces.describe(),
              "command": f"augen train synfer --config sd15 --sd15 {folder} --data {data} --option stage={stage}"}
    return train_sd15(pipe, cfg, trainable, loss_fn, out, report, f"SynFER sd15 {stage}", progress,
                      checkpointing=cfg.gradient_checkpointing and stage == "text", lr_schedule=cfg.lr_schedule,
                      before_save=before_save)


def _with(pipe: SynFERPipeline, **modules) -> SynFERPipeline:
    """`pipe` with `modules` added (a new pipeline object: the AU adapter installs itself on construction)."""
    return SynFERPipeline(**{**pipe.components, **modules})
