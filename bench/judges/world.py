"""World judges: one small CNN trained only on world *real* data, read through four judge views.

The network (`WorldJudgeNet`) has a shared trunk that keeps a 4x4 spatial map (where a line sits is
what tells AUs apart) and heads for AU intensity and occurrence (17), expression (8), skin tone (6),
gender presentation (2), age group (3) and train identity (for identity embeddings). Its 256-d
embedding is the world's "Inception" for FD/precision/recall/Vendi.

Training is deterministic (fixed seeds, fresh procedural images every epoch, no disk) and keyed by
the hash of its config; weights are looked up in `bench/judges/weights/` (committed) and the user
cache before training. Each checkpoint carries its held-out report (the judge's ceiling).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import DataError, MissingWeights
from bench.data.aus import AUS, EXPRESSIONS, N_AUS, N_EXPRESSIONS
from bench.data.safeio import sha256_file
from bench.world.make import WORLD_VERSION
from bench.world.params import WorldConfig, sample_params, split_identity_range
from bench.world.render import render

WEIGHTS_DIR = Path(__file__).parent / "weights"
HEADS = {"au_int": N_AUS, "au_logit": N_AUS, "expression": N_EXPRESSIONS, "skin_tone": 6, "gender": 2,
         "age_group": 3}


@dataclass(frozen=True)
class WorldJudgeConfig:
    """Everything that changes the trained judge (its hash names the weights)."""

    world_seed: int = 0  # world the judge reads
    world_version: str = WORLD_VERSION  # renderer/sampler version: a new world gets a new judge
    image_size: int = 64  # input side in pixels
    width: int = 32  # channels of the trunk's second stage
    embed_dim: int = 256  # feature embedding size
    train_per_epoch: int = 32000  # fresh world train images rendered for each epoch
    epochs: int = 8  # epochs (each on new images)
    batch_size: int = 128  # images per step
    lr: float = 2e-3  # AdamW peak learning rate (one-cycle)
    weight_decay: float = 1e-4  # AdamW weight decay
    n_eval: int = 4000  # held-out world test images for the ceiling report
    seed: int = 0  # torch seed (init, shuffling)
    version: str = "1"  # bump when the training code changes results
    arch: str = "plain"  # network layout: plain (conv stack, the first judge) or residual (the second judge)

    def key(self) -> str:
        d = dataclasses.asdict(self)
        if d["arch"] == "plain":  # the first judge's id predates the field: its key leaves it out
            del d["arch"]
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def judge_id(self) -> str:
        return f"world-judge-{self.key()}"


class ResBlock(nn.Module):
    """Two 3x3 conv-GroupNorm layers with a (strided 1x1) shortcut: the second judge's unit."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(8, cout), nn.SiLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.GroupNorm(8, cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(8, cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(self.body(x) + self.skip(x))


#: The second world judge: another seed and architecture. It selects generator settings (SynFER's guidance scale)
#: and reads the board a second time, so no verdict rests on one network (docs/verdicts.md).
SECOND_JUDGE = WorldJudgeConfig(seed=1, arch="residual", width=24)


def second_judge_config() -> dict:
    """The judge config a protocol or `build_judge("world", ...)` takes for the second judge (fields that differ)."""
    default = dataclasses.asdict(WorldJudgeConfig())
    return {k: v for k, v in dataclasses.asdict(SECOND_JUDGE).items() if default[k] != v}


class WorldJudgeNet(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> dict of head outputs + 'features' (B, embed_dim)."""

    def __init__(self, cfg: WorldJudgeConfig, n_identities: int):
        super().__init__()
        w = cfg.width

        def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        if cfg.arch == "plain":  # (B, 3, 64, 64) -> (B, 4w, 8, 8) -> pooled 4x4
            layers = [*block(3, w * 3 // 4), *block(w * 3 // 4, w, 2), *block(w, w * 3 // 2), nn.MaxPool2d(2),
                      *block(w * 3 // 2, w * 3), nn.MaxPool2d(2), *block(w * 3, w * 4)]
        elif cfg.arch == "residual":  # (B, 3, 64, 64) -> stem (B, w, 64, 64) -> 3 stages -> (B, 4w, 8, 8)
            layers = [nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.GroupNorm(8, w), nn.SiLU(),
                      ResBlock(w, w, 2), ResBlock(w, 2 * w, 2), ResBlock(2 * w, 4 * w, 2)]
        else:
            raise ValueError(f"world judge arch {cfg.arch!r} is not plain or residual")
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                                   nn.Dropout(0.2), nn.Linear(16 * 4 * w, cfg.embed_dim), nn.ReLU())
        self.heads = nn.ModuleDict({k: nn.Linear(cfg.embed_dim, n) for k, n in HEADS.items()})
        self.identity = nn.Linear(cfg.embed_dim, n_identities)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.trunk(x)
        out = {k: h(f) for k, h in self.heads.items()}
        out["identity"] = self.identity(f)
        out["features"] = f
        return out


def _render_split(wcfg: WorldConfig, split: str, start: int, n: int) -> dict[str, torch.Tensor]:
    """World images and truth for indices [start, start + n) of a split, as tensors."""
    p = sample_params(wcfg, split, np.arange(start, start + n))
    x = np.concatenate([render(p.take(slice(lo, lo + 1024)), wcfg.image_size) for lo in range(0, n, 1024)])
    return {"x": torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(),  # chunked: same pixels, bounded memory
            "aus": torch.from_numpy(p.aus), "expression": torch.from_numpy(p.expression),
            "skin_tone": torch.from_numpy(p.skin_tone), "gender": torch.from_numpy(p.gender),
            "age_group": torch.from_numpy(p.age_group), "identity": torch.from_numpy(p.identity)}


def train_world_judge(cfg: WorldJudgeConfig, progress: bool = True, log=print) -> tuple[WorldJudgeNet, dict]:
    """Train the judge from scratch, deterministically; returns (net, held-out report)."""
    torch.manual_seed(cfg.seed)
    wcfg = WorldConfig(seed=cfg.world_seed, image_size=cfg.image_size)
    lo, hi = split_identity_range(wcfg, "train")
    net = WorldJudgeNet(cfg, hi - lo)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = cfg.train_per_epoch // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.15)
    bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="train world judge", unit="step", disable=not progress)
    for epoch in range(cfg.epochs):
        data = _render_split(wcfg, "train", epoch * cfg.train_per_epoch, cfg.train_per_epoch)
        perm = torch.randperm(cfg.train_per_epoch)
        net.train()
        for k in range(steps_per_epoch):
            idx = perm[k * cfg.batch_size:(k + 1) * cfg.batch_size]
            out = net(data["x"][idx].float().div_(255.0))
            a = data["aus"][idx]
            loss = (bce(out["au_logit"], (a >= 1).float()) + ((out["au_int"] - a) ** 2).mean() / 5.0
                    + ce(out["expression"], data["expression"][idx])
                    + 0.5 * sum(ce(out[h], data[h][idx]) for h in ("skin_tone", "gender", "age_group"))
                    + 0.2 * ce(out["identity"], data["identity"][idx] - lo))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    net.eval()
    report = evaluate_world_judge(net, cfg)
    report["train_seconds"] = time.perf_counter() - t0
    log(f"world judge {cfg.judge_id}: AU mean F1 {report['au_mean_f1']:.3f}, "
        f"expression {report['expression_accuracy']:.3f}, trained in {report['train_seconds']:.0f}s")
    return net, report


@torch.no_grad()
def predict(net: WorldJudgeNet, images: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
    """uint8 images (B, H, W, 3) -> numpy outputs: au_intensity (clipped 0-5), au_prob, *_prob, features."""
    outs: dict[str, list] = {}
    for lo in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch_size])).permute(0, 3, 1, 2).float() / 255.0
        o = net(x)
        batch = {"au_intensity": o["au_int"].clamp(0, 5), "au_prob": torch.sigmoid(o["au_logit"]),
                 "features": o["features"], **{f"{h}_prob": torch.softmax(o[h], 1)
                                               for h in ("expression", "skin_tone", "gender", "age_group")}}
        for k, v in batch.items():
            outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def evaluate_world_judge(net: WorldJudgeNet, cfg: WorldJudgeConfig) -> dict:
    """The judge's ceiling on held-out world test images: per-AU F1 and r, class accuracies."""
    from bench.metrics.alignment import f1_per_column, pearson_per_column

    wcfg = WorldConfig(seed=cfg.world_seed, image_size=cfg.image_size)
    data = _render_split(wcfg, "test", 0, cfg.n_eval)
    out = predict(net, data["x"].permute(0, 2, 3, 1).numpy())
    a = data["aus"].numpy()
    f1 = f1_per_column(a >= 1, out["au_prob"] >= 0.5)
    r = pearson_per_column(a, out["au_intensity"])
    acc = {h: float((out[f"{h}_prob"].argmax(1) == data[h].numpy()).mean())
           for h in ("expression", "skin_tone", "gender", "age_group")}
    pred_e, true_e = out["expression_prob"].argmax(1), data["expression"].numpy()
    per_class = {name: float((pred_e[true_e == c] == c).mean()) for c, name in enumerate(EXPRESSIONS)}
    return {"judge_id": cfg.judge_id, "config": dataclasses.asdict(cfg), "n_eval": cfg.n_eval,
            "expression_per_class": per_class,
            "au_base_rate": {f"AU{au:02d}": float(v) for au, v in zip(AUS, (a >= 1).mean(0))},
            "au_f1": {f"AU{au:02d}": float(v) for au, v in zip(AUS, f1)},
            "au_pearson_r": {f"AU{au:02d}": float(v) for au, v in zip(AUS, r)},
            "au_mean_f1": float(np.mean(f1)), "au_min_f1": float(np.min(f1)), "au_min_r": float(np.min(r)),
            **{f"{h}_accuracy": v for h, v in acc.items()}}


def _cache_dir() -> Path:
    from bench.core.paths import cache_root

    return cache_root() / "judges"


def save_world_judge(net: WorldJudgeNet, report: dict, folder: Path) -> Path:
    """Write `<judge_id>.safetensors` + `<judge_id>.json` (report, weights sha256) atomically."""
    from safetensors.torch import save

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report['judge_id']}.safetensors"
    atomic_write_bytes(path, save({k: v.contiguous() for k, v in net.state_dict().items()}))
    report = {**report, "weights_sha256": sha256_file(path)}
    atomic_write_text(path.with_suffix(".json"), json.dumps(report, indent=1, sort_keys=True))
    return path


def load_world_judge(cfg: WorldJudgeConfig = WorldJudgeConfig(), train_if_missing: bool = True,
                     progress: bool = True) -> tuple[WorldJudgeNet, dict]:
    """The judge for `cfg`: committed weights, else the user cache, else train (and cache) it."""
    from safetensors.torch import load_file

    for folder in (WEIGHTS_DIR, _cache_dir()):
        path = folder / f"{cfg.judge_id}.safetensors"
        if path.is_file():
            report = json.loads(path.with_suffix(".json").read_text())
            if sha256_file(path) != report.get("weights_sha256"):
                raise DataError(path, f"sha256 differs from the one recorded in {path.with_suffix('.json').name}")
            lo, hi = split_identity_range(WorldConfig(seed=cfg.world_seed), "train")
            net = WorldJudgeNet(cfg, hi - lo)
            net.load_state_dict(load_file(path), strict=True)
            return net.eval(), report
    if not train_if_missing:
        raise MissingWeights(f"no weights for {cfg.judge_id} in {WEIGHTS_DIR} or {_cache_dir()}; "
                                "run `augen judges train` to make them")
    net, report = train_world_judge(cfg, progress=progress)
    path = save_world_judge(net, report, _cache_dir())
    return net, json.loads(path.with_suffix(".json").read_text())


def judge_markdown(report: dict, title: str = "", command: str = "augen judges train") -> str:
    """A trained judge's held-out report as markdown (reports/world_judge.md, reports/world_difficulty.md)."""
    title = title or f"World judge `{report['judge_id']}`: what it reads on held-out world test images"
    c = report["config"]
    lines = [f"# {title}", "",
             f"Command: `{command}` ({report.get('train_seconds', 0):.0f} s on this machine): the judge network "
             f"trained on {c['epochs']} x {c['train_per_epoch']} fresh world-train images, evaluated on "
             f"{report['n_eval']} test images of identities never seen in training.", "",
             f"- AU occurrence mean F1 **{report['au_mean_f1']:.3f}** (min {report['au_min_f1']:.3f}), "
             f"min intensity r {report['au_min_r']:.3f}",
             f"- expression accuracy **{report['expression_accuracy']:.3f}** (chance 0.125); "
             f"skin tone {report['skin_tone_accuracy']:.3f}, "
             f"gender {report['gender_accuracy']:.3f}, age group {report['age_group_accuracy']:.3f}", ""]
    if "expression_per_class" in report:
        lines += ["| class | accuracy |", "|---|---:|",
                  *[f"| {k} | {v:.3f} |" for k, v in report["expression_per_class"].items()], ""]
    base = report.get("au_base_rate", {})
    lines += ["| AU | F1 | Pearson r | base rate | meets 0.9 |", "|---|---:|---:|---:|---|"]
    for au, f1 in report["au_f1"].items():
        r = report["au_pearson_r"][au]
        b = f"{base[au]:.3f}" if au in base else ""
        lines.append(f"| {au} | {f1:.3f} | {r:.3f} | {b} | {'yes' if f1 >= 0.9 and r >= 0.9 else 'no'} |")
    return "\n".join(lines) + "\n"


CEILING_KEYS = ("au_mean_f1", "au_min_f1", "au_min_r", "expression_accuracy", "skin_tone_accuracy", "gender_accuracy",
                "age_group_accuracy", "au_f1")


class WorldJudge:
    """The world judge as the scorer sees every judge: `id`, weights `sha256`, `config`, `ceiling` (its held-out
    report), the `readings` it produces, and images (B, H, W, 3) uint8 -> {reading: array}."""

    accepts = (*(f.name for f in dataclasses.fields(WorldJudgeConfig)), "train_if_missing", "progress")
    readings = ("features", "au_intensity", "au_prob", "expression_prob", "skin_tone_prob", "gender_prob",
                "age_group_prob")

    def __init__(self, train_if_missing: bool = True, progress: bool = False, **config):
        self.cfg = WorldJudgeConfig(**config)
        self.net, self.report = load_world_judge(self.cfg, train_if_missing=train_if_missing, progress=progress)
        self.id = self.cfg.judge_id
        self.sha256 = self.report.get("weights_sha256", "")
        self.config = dataclasses.asdict(self.cfg)
        self.ceiling = {k: self.report[k] for k in CEILING_KEYS if k in self.report}

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return predict(self.net, images)
