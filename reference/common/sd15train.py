"""Training the SD-1.5-size references from a labelled face SampleSet (`augen train maugen|synfer --config sd15`).

Shared by both methods: `SD15TrainConfig` (the loop settings; each method subclasses it with its own loss
settings), `LabelledFaces` (a SampleSet as training batches under reference/common/worlddata.py's contract:
labelled-AU mask, -1 for a missing expression, a stated caption rule; images resized to the pipeline's sample
size; a pure function of the micro-batch index, so a resumed run sees the same data), and `train_sd15` (bf16
autocast on CUDA, fp32 on CPU, gradient checkpointing on the UNet, gradient accumulation, gradients averaged over the
processes of `accelerate launch`, checkpoints through reference.common.loop.train_resumable, the result saved as
a pipeline folder with `training.json`). The method's own training step computes each loss.
Under several processes every one holds the same weights (same initialisation, averaged gradients) and writes
the same checkpoint (atomically, last rename wins); only the main process saves the pipeline folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.errors import DataError, UsageError
from bench.core.registry import check_fields
from bench.world.prompts import prompt_from_aus
from reference.common.autoencoder import cache_dir
from reference.common.loop import lr_factor, step_generator, train_resumable
from reference.common.parts import save_trained
from reference.common.worlddata import WorldBatch, to_unit

PRECISIONS = ("bf16", "fp16", "no")
LR_SCHEDULES = ("cosine", "constant")  # train_sd15's learning-rate schedules


@dataclass(frozen=True)
class SD15TrainConfig:
    """Loop settings of an sd15 training run (a method's config adds its loss settings)."""

    steps: int = 10_000  # optimiser steps (each = grad_accum micro-batches on every process)
    batch: int = 8  # faces per micro-batch per process
    grad_accum: int = 4  # micro-batches summed into one optimiser step
    lr: float = 1e-5  # AdamW peak learning rate (warm-up min(100, steps/10) steps, cosine to 5%)
    mixed_precision: str = "bf16"  # autocast dtype on CUDA: bf16 | fp16 | no (CPU always runs fp32)
    gradient_checkpointing: bool = True  # recompute UNet activations in the backward pass (memory for time)
    checkpoint_every: int = 500  # optimiser steps between resumable checkpoints (and one at the end)
    seed: int = 0  # data order and per-step noise seed
    out: str = ""  # output pipeline folder; "" = <AUGEN_CACHE>/<method>-sd15-<hash of config, folder, data>

    def __post_init__(self):
        if self.mixed_precision not in PRECISIONS:
            raise UsageError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, not {self.mixed_precision!r}")
        if min(self.steps, self.batch, self.grad_accum, self.checkpoint_every) < 1:
            raise UsageError("steps, batch, grad_accum and checkpoint_every must be >= 1")


def run_key(method: str, cfg: SD15TrainConfig, folder: Path, data: Path) -> str:
    """`<method>-sd15-<12 hex>`: the hash of every config field except `out`, the weights folder and the data."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "out"}
    text = json.dumps({"config": fields, "sd15": str(Path(folder).resolve()), "data": str(Path(data).resolve())},
                      sort_keys=True)
    return f"{method}-sd15-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


CAPTION_RULES = {
    "dataset": "the set's own captions (its prompt column); a row without one is refused",
    "world": "the world grammar (bench.world.prompts.prompt_from_aus) over each row's labelled AUs; the set's own "
             "captions are not read",
}


class LabelledFaces:
    """A SampleSet as training micro-batches (WorldBatch: images, 17 AU intensities + their labelled mask,
    expressions, captions, references); the data policy every sd15 stage shares.

    Micro-batch i holds rows [i*n, (i+1)*n) of a per-epoch seeded permutation.
    - `need_aus`: AU numbers the set must label (all of them); `any_aus`: AUs of which it must label at least one.
      Unlabelled AUs travel as `au_mask` False with a 0 placeholder in `aus` (worlddata's contract): a stage masks
      them; `describe()` names them for training.json.
    - `need_expression`: every row must carry an expression code (the manifest must say so, and each row is checked
      by name); otherwise `expression` is -1 where a row has none, never a default class.
    - `captions`: a key of CAPTION_RULES ("world" unless asked), or None (the stage reads no captions: prompts are
      ""); "dataset" refuses a row without a caption by file and row on construction.
    - `head_regions`: each batch carries every face's head as `regions` (bench.data.headregions: the outlines
      `augen head-regions SET` writes into the set from face-api's 68 landmarks; missing ones are refused by name).
    References: another row of the same identity when the set names identities, else the face itself.
    """

    def __init__(self, root: str | Path, size: int, *, need_aus: tuple[int, ...] = (), any_aus: tuple[int, ...] = (),
                 need_expression: bool = False, reference_size: int = 0, what: str = "this method",
                 captions: str | None = "world", head_regions: bool = False):
        from bench.data.sampleset import SampleSet

        if captions is not None and captions not in CAPTION_RULES:
            raise UsageError(f"captions must be one of {', '.join(CAPTION_RULES)}, not {captions!r}")
        self.set = SampleSet(root)
        man, where = self.set.manifest, Path(root) / "manifest.yaml"
        if missing := [a for a in need_aus if a not in man.labelled_aus]:
            raise DataError(where, f"{what} trains on AU intensities of AUs {list(need_aus)}; this set does not "
                                   f"label AU(s) {missing}")
        if any_aus and not set(any_aus) & set(man.labelled_aus):
            raise DataError(where, f"{what} trains on AU intensities of AUs {list(any_aus)} (a labelled subset is "
                                   f"masked); this set labels none of them (it labels {list(man.labelled_aus)})")
        if need_expression and not man.expression_labelled:
            raise DataError(where, f"{what} trains on expression labels; this set has none")
        self.rows = list(self.set.rows())
        if not self.rows:
            raise DataError(where, "the set has no rows to train on")
        self.what, self.captions, self.need_expression = what, captions, need_expression
        for s in self.rows:
            if need_expression and s.expression < 0:
                raise DataError(_labels(s, root), f"{s.file}: no expression; {what} trains on expression labels "
                                                  "(rows without one are refused, not read as neutral)",
                                s.meta.get("row"))
            if captions == "dataset" and not s.prompt.strip():
                raise DataError(_labels(s, root), f"{s.file}: no caption (empty prompt); {what} trains on the set's "
                                                  "own captions: write them, or pass captions=world to caption "
                                                  "every row with the world grammar of its labelled AUs",
                                s.meta.get("row"))
        self.size, self.reference_size = size, reference_size
        intensity = np.stack([s.intensity for s in self.rows]).astype(np.float32)  # (N, 17), NaN = not labelled
        self.au_mask = ~np.isnan(intensity)  # (N, 17) bool
        self.aus = np.nan_to_num(intensity, nan=0.0)  # (N, 17): 0 placeholders where au_mask is false
        self.prompts = ([""] * len(self.rows) if captions is None else
                        [s.prompt for s in self.rows] if captions == "dataset" else
                        [prompt_from_aus(v) for v in intensity])  # NaN AUs are left out of the world grammar
        self.polygons = None  # (N, K, 2) head outlines in the set's image pixels
        if head_regions:
            from bench.data.headregions import read_head_regions

            self.polygons = read_head_regions(self.set)
        by_id: dict[str, list[int]] = {}
        for i, s in enumerate(self.rows):
            if s.identity:
                by_id.setdefault(s.identity, []).append(i)
        self.partner = [next((j for j in by_id.get(s.identity, []) if j != i), i) for i, s in enumerate(self.rows)]

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self) -> dict:
        """What the run trained on, for training.json: labelled and masked AUs, the caption rule, expressions."""
        from bench.data.aus import AUS

        labelled = [a for a, on in zip(AUS, self.au_mask.any(0)) if on]
        return {"labelled_aus": labelled, "masked_aus": [a for a in AUS if a not in labelled],
                "captions": "none read" if self.captions is None else f"{self.captions}: "
                                                                      f"{CAPTION_RULES[self.captions]}",
                "expressions": ("required of every row" if self.need_expression else
                                f"not read as labels ({sum(s.expression < 0 for s in self.rows)} rows have none: -1)"),
                **({} if self.polygons is None else {"regions": _regions_said()})}

    def indices(self, index: int, n: int, seed: int) -> np.ndarray:
        """Row numbers of micro-batch `index` (n rows, wrapping into the next epoch's permutation)."""
        pos = np.arange(index * n, (index + 1) * n)
        out = np.empty(n, dtype=np.int64)
        for epoch in np.unique(pos // len(self)):
            perm = np.random.RandomState((seed * 7919 + int(epoch)) % 2**32).permutation(len(self))
            sel = pos // len(self) == epoch
            out[sel] = perm[pos[sel] % len(self)]
        return out

    def _images(self, rows: np.ndarray, size: int) -> torch.Tensor:
        """(n, 3, size, size) in [-1, 1], resized (area down, bilinear up) from the set's image size."""
        x = to_unit(np.stack([self.set.load_image(self.rows[i]) for i in rows]))
        if x.shape[-2:] != (size, size):
            mode = "area" if x.shape[-1] > size else "bilinear"
            x = F.interpolate(x, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
        return x

    def batch(self, index: int, n: int, seed: int) -> WorldBatch:
        rows = self.indices(index, n, seed)
        refs = (self._images(np.array([self.partner[i] for i in rows]), self.reference_size) if self.reference_size
                else torch.zeros(n, 3, 0, 0))
        regions = None
        if self.polygons is not None:
            from bench.data.headregions import rasterise

            regions = torch.from_numpy(rasterise(self.polygons[rows], self.set.image_size, self.size))[:, None]
        return WorldBatch(images=self._images(rows, self.size), aus=torch.from_numpy(self.aus[rows]),
                          expression=torch.tensor([self.rows[i].expression for i in rows], dtype=torch.long),
                          prompts=[self.prompts[i] for i in rows], references=refs,
                          au_mask=torch.from_numpy(self.au_mask[rows]), regions=regions)


def _regions_said() -> str:
    from bench.data.headregions import RULE

    return f"head regions from face-api's 68 landmarks ({RULE}, bench/data/headregions.py)"


def _labels(s, root: str | Path) -> Path:
    """The labels.csv that lists row `s` (its shard's, for a sharded set)."""
    return Path(s.meta.get("dir", root)) / "labels.csv"


def to_device(wb: WorldBatch, device: torch.device) -> WorldBatch:
    return WorldBatch(images=wb.images.to(device), aus=wb.aus.to(device), expression=wb.expression.to(device),
                      prompts=wb.prompts, references=wb.references.to(device), au_mask=wb.au_mask.to(device),
                      regions=None if wb.regions is None else wb.regions.to(device))


def train_sd15(pipe, cfg: SD15TrainConfig, trainable: dict[str, torch.nn.Module],
               loss_fn: Callable[[int], tuple[torch.Tensor, dict[str, float]]], out: Path, report: dict,
               desc: str, progress: bool = True, checkpointing: bool | None = None, lr_schedule: str = "cosine",
               before_save: Callable[[], None] | None = None) -> Path:
    """Train `trainable` (the rest of `pipe` frozen) for cfg.steps, resuming from `<out>.ckpt`; save `pipe` to `out`.

    `trainable`: the modules whose parameters train and whose state the checkpoint holds (pipeline components, or
    parts of one, e.g. the LoRA layers inside the UNet: every other parameter of the pipeline is frozen).
    `loss_fn(micro)` is the method's training step on micro-batch `micro` (a global index: step, accumulation
    slot and process rank folded in, so every process reads different faces and a resumed run the same ones).
    `checkpointing`: gradient checkpointing on the UNet (None = cfg.gradient_checkpointing; a stage whose UNet
    reads state set around its forward, as SynFER's adapter, turns it off: the recomputation would miss it).
    `lr_schedule`: "cosine" (warm-up min(100, steps/10 + 1) steps, cosine to 5%) or "constant" (cfg.lr throughout).
    `before_save`: called on the main process before the pipeline is saved (e.g. merging a LoRA into the UNet).
    """
    if lr_schedule not in LR_SCHEDULES:
        raise UsageError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {lr_schedule!r}")
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    acc = Accelerator(mixed_precision=cfg.mixed_precision if cuda else "no", cpu=not cuda)
    pipe.to(acc.device)
    for name, m in pipe.components.items():
        if isinstance(m, torch.nn.Module):
            m.requires_grad_(name in trainable)
    for m in trainable.values():  # a part of a frozen component (LoRA layers in the UNet) trains too
        m.requires_grad_(True)
    checkpointing = cfg.gradient_checkpointing if checkpointing is None else checkpointing
    if checkpointing:
        pipe.unet.enable_gradient_checkpointing()
    params = [p for m in trainable.values() for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)
    world, rank = acc.num_processes, acc.process_index

    def step_fn(step: int) -> dict[str, float]:
        for grp in opt.param_groups:
            grp["lr"] = cfg.lr * (1.0 if lr_schedule == "constant" else
                                  lr_factor(step, cfg.steps, warm=min(100, cfg.steps // 10 + 1)))
        parts: dict[str, float] = {}
        for k in range(cfg.grad_accum):
            micro = (step * cfg.grad_accum + k) * world + rank
            # the global RNG (dropout, e.g. MAUGen's Img2Text MLPs) as a function of the micro-batch: resumable
            torch.manual_seed(step_generator(cfg.seed, micro, stream=99).initial_seed())
            with acc.autocast():
                loss, got = loss_fn(micro)
            acc.backward(loss / cfg.grad_accum)
            for key, v in got.items():
                parts[key] = parts.get(key, 0.0) + v / cfg.grad_accum
        for p in params:  # average over processes (no DDP wrapper: the method's step calls the modules itself)
            if p.grad is not None and world > 1:
                p.grad = acc.reduce(p.grad, "mean")
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return parts

    ckpt = out.with_name(out.name + ".ckpt")
    log = train_resumable(ckpt, cfg.steps, step_fn, trainable, {"opt": opt}, every=cfg.checkpoint_every,
                          desc=desc, progress=progress and acc.is_main_process, log_every=min(50, cfg.steps))
    if checkpointing:
        pipe.unet.disable_gradient_checkpointing()
    acc.wait_for_everyone()
    if acc.is_main_process:
        if before_save is not None:
            before_save()
        pipe.to("cpu")
        full = {**report, "config": dataclasses.asdict(cfg), "processes": world,
                "unet_gradient_checkpointing": checkpointing,
                "precision": cfg.mixed_precision if cuda else "fp32 (cpu)", "lr_schedule": lr_schedule, "log": log}
        save_trained(pipe, out, full)
    acc.wait_for_everyone()
    return out


def output_folder(method: str, cfg: SD15TrainConfig, folder: Path, data: Path) -> Path:
    return Path(cfg.out) if cfg.out else cache_dir() / run_key(method, cfg, folder, data)


def sd15_options(options: dict, trainer: str) -> tuple[Path, Path, dict]:
    """Split `sd15=` and `data=` (from `--sd15`, `--data`) off the config options, or say they are needed."""
    rest = dict(options)
    sd, data = rest.pop("sd15", None), rest.pop("data", None)
    if sd is None or data is None:
        raise UsageError(f"`augen train {trainer} --config sd15` needs --sd15 FOLDER (local diffusers SD-1.5 "
                         f"weights) and --data SET (a labelled face SampleSet)")
    return Path(str(sd)), Path(str(data)), rest


def train_by_config(trainer: str, config: str, options: dict, tiny: Callable[[], tuple[type, Callable]],
                    sd15: Callable[[], tuple[type, Callable]], progress: bool = True) -> Path:
    """`augen train TRAINER --config tiny|sd15 [--option k=v]`: check the options against the chosen config's fields
    and train. `tiny` / `sd15` return (config class, train function) when called, so each trainer imports only the
    config it runs; the sd15 function takes (folder, data, config), the tiny one (config)."""
    if config == "sd15":
        folder, data, rest = sd15_options(options, trainer)
        cls, train = sd15()
        check_fields(cls, rest, f"trainer {trainer} (sd15)")
        return train(folder, data, cls(**rest), progress=progress)
    if config != "tiny":
        raise UsageError(f"unknown config {config!r} (tiny | sd15)")
    cls, train = tiny()
    check_fields(cls, options, f"trainer {trainer}")
    return train(cls(**options), progress=progress)
