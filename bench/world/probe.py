"""How hard is the world? Train a small CNN on real world train images, test it on the test split.

`augen world probe` reports expression accuracy (overall and mean per class), per-AU occurrence F1
and per-AU intensity Pearson r on held-out identities, so later work can see the world is neither
trivial nor impossible, and that every AU can be read from pixels (DESIGN.md section 3).
Images are rendered on the fly (no disk), deterministically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.data.aus import AUS, EXPRESSIONS, N_AUS, N_EXPRESSIONS
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render


@dataclass(frozen=True)
class ProbeConfig:
    """Settings of the difficulty probe."""

    n_train: int = 16000  # world train images
    n_test: int = 4000  # world test images (held-out identities)
    epochs: int = 6  # passes over the train images
    batch_size: int = 128  # images per step
    lr: float = 2e-3  # AdamW learning rate (cosine decay)
    width: int = 32  # channels of the first conv stage (doubles twice)
    seed: int = 0  # torch seed for init and shuffling


class ProbeNet(nn.Module):
    """A small CNN (~80 MFLOPs at 64 px): full-resolution stem, strided/pooled stages, a 4x4 map -> three heads."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width

        def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(3, w * 3 // 4), *block(w * 3 // 4, w, 2), *block(w, w * 3 // 2), nn.MaxPool2d(2),
            *block(w * 3 // 2, w * 3), nn.MaxPool2d(2), *block(w * 3, w * 4), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        # a 4x4 map, not a global pool: where a line sits (chin vs mouth corner) is what tells AUs apart
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(16 * 4 * w, N_EXPRESSIONS + 2 * N_AUS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, 3, H, W) in [0, 1] -> expression logits (B, 8), AU logits (B, 17), intensities (B, 17)."""
        h = self.head(self.features(x))
        return h[:, :N_EXPRESSIONS], h[:, N_EXPRESSIONS:N_EXPRESSIONS + N_AUS], h[:, N_EXPRESSIONS + N_AUS:]


def _world(cfg: WorldConfig, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    imgs, aus, expr = [], [], []
    for lo in range(0, n, 512):
        p = sample_params(cfg, split, np.arange(lo, min(n, lo + 512)))
        imgs.append(torch.from_numpy(render(p, cfg.image_size)).permute(0, 3, 1, 2))
        aus.append(torch.from_numpy(p.aus))
        expr.append(torch.from_numpy(p.expression))
    return torch.cat(imgs), torch.cat(aus), torch.cat(expr)


def f1_scores(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-column F1 of boolean (n, k) arrays (0 where a column has no positives at all)."""
    tp = (true & pred).sum(0)
    denom = true.sum(0) + pred.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column Pearson r of (n, k) arrays."""
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0) + 1e-12)


def run_probe(world: WorldConfig = WorldConfig(), cfg: ProbeConfig = ProbeConfig(), log=print) -> dict:
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    xtr, atr, etr = _world(world, "train", cfg.n_train)
    xte, ate, ete = _world(world, "test", cfg.n_test)
    log(f"rendered {len(xtr) + len(xte)} images in {time.perf_counter() - t0:.1f}s")
    net = ProbeNet(cfg.width)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    steps = cfg.epochs * (len(xtr) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps, pct_start=0.15)
    bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()
    step = 0
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(xtr))
        for k in range(len(xtr) // cfg.batch_size):
            idx = perm[k * cfg.batch_size:(k + 1) * cfg.batch_size]
            x = xtr[idx].float() / 255.0
            if torch.rand(()) < 0.5:  # horizontal flip keeps every label valid (labels are not sided)
                x = x.flip(-1)
            le, lo, li = net(x)
            a = atr[idx]
            loss = ce(le, etr[idx]) + bce(lo, (a >= 1).float()) + ((li - a) ** 2).mean() / 5.0
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        log(f"epoch {epoch + 1}/{cfg.epochs} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f}s)")
    net.eval()
    outs = []
    with torch.no_grad():
        for lo in range(0, len(xte), 512):
            outs.append([t for t in net(xte[lo:lo + 512].float() / 255.0)])
    le, lo_, li = (torch.cat([o[i] for o in outs]).numpy() for i in range(3))
    pred_e, true_e = le.argmax(1), ete.numpy()
    a = ate.numpy()
    f1 = f1_scores(a >= 1, lo_ > 0)
    r = pearson(a, li)
    per_class = [float((pred_e[true_e == c] == c).mean()) for c in range(N_EXPRESSIONS)]
    return {
        "expression_accuracy": float((pred_e == true_e).mean()),
        "expression_mean_class_accuracy": float(np.mean(per_class)),
        "expression_per_class": dict(zip(EXPRESSIONS, per_class)),
        "au_f1": dict(zip((f"AU{a:02d}" for a in AUS), map(float, f1))),
        "au_pearson_r": dict(zip((f"AU{a:02d}" for a in AUS), map(float, r))),
        "au_base_rate": dict(zip((f"AU{a:02d}" for a in AUS), map(float, (a >= 1).mean(0)))),
        "mean_f1": float(f1.mean()),
        "config": {"world": world.__dict__, "probe": cfg.__dict__},
        "seconds": time.perf_counter() - t0,
    }


def difficulty_markdown(res: dict, command: str) -> str:
    """A short report of a probe run (what `augen world probe` writes beside its JSON)."""
    lines = [
        "# How separable is the world? (difficulty probe)", "",
        f"Command: `{command}`  ", f"Wall time: {res['seconds']:.0f} s on this machine.", "",
        "A small CNN (`bench.world.probe.ProbeNet`) trained only on world *train* images, tested on the *test*",
        "split (identities never seen in training). It is a quick probe, not the world's judge.", "",
        f"- expression accuracy: **{res['expression_accuracy']:.3f}** "
        f"(mean per class {res['expression_mean_class_accuracy']:.3f}; chance 0.125)",
        f"- AU occurrence (intensity >= 1) mean F1 over 17 AUs: **{res['mean_f1']:.3f}**", "",
        "| class | accuracy |", "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in res["expression_per_class"].items()], "",
        "| AU | F1 | Pearson r (intensity) | base rate |", "|---|---:|---:|---:|",
        *[f"| {k} | {res['au_f1'][k]:.3f} | {res['au_pearson_r'][k]:.3f} | {res['au_base_rate'][k]:.3f} |"
          for k in res["au_f1"]],
    ]
    return "\n".join(lines) + "\n"
