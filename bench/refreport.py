"""Reports on the reference generators: how much of the world survives their autoencoder, and a markdown
table of scored runs (controls beside the reference) with the training record.

`vae_ceiling`: world *val* images -> VAE encode/decode -> the world judge, F1 against the true labels. No
latent generator using that VAE can show AUs the VAE cannot carry, so this bounds `au_f1_condition`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from bench.data.aus import AU_INDEX, subset
from bench.metrics import alignment as A
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

COLUMNS = (("fd_world", "FD (world judge)"), ("precision", "precision"), ("recall", "recall"),
           ("au_f1", "AU F1 claimed vs judge"), ("au_f1_condition", "AU F1 request vs judge"),
           ("au_pearson_condition", "AU r request vs judge"), ("expression_accuracy_condition",
                                                               "expression request vs judge"),
           ("vendi", "Vendi"), ("skin_tone_entropy", "skin-tone entropy"))


@torch.no_grad()
def vae_ceiling(vae, n: int = 1024, aus: str = "DISFA12", seed: int = 0) -> dict:
    """Judge F1 (and r) on VAE reconstructions of world val images vs their true labels, and on the originals."""
    from bench.judges.world import load_world_judge, predict

    net, _ = load_world_judge(train_if_missing=False)
    p = sample_params(WorldConfig(seed=seed), "val", np.arange(n))
    x = render(p, 64)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    rec = []
    for lo in range(0, n, 128):
        z = vae.encode(t[lo:lo + 128]).latent_dist.mean
        rec.append(vae.decode(z).sample.clamp(-1, 1))
    r = torch.cat(rec)
    psnr = float((-10 * torch.log10(((r - t) / 2).pow(2).mean((1, 2, 3)))).mean())
    xr = ((r + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    cols = [AU_INDEX[a] for a in subset(aus)]
    truth = (p.aus[:, cols] >= 1.0).astype(float)
    out = {"n": n, "aus": aus, "psnr_db": round(psnr, 2)}
    for name, imgs in (("original", x), ("reconstructed", xr)):
        j = predict(net, imgs)
        out[f"au_f1_{name}"] = round(A.nanmean(A.f1_per_column(truth, (j["au_prob"][:, cols] >= 0.5).astype(float))), 4)
        out[f"au_r_{name}"] = round(A.nanmean(A.pearson_per_column(p.aus[:, cols], j["au_intensity"][:, cols])), 4)
        out[f"expression_{name}"] = round(A.accuracy(p.expression, j["expression_prob"].argmax(1)), 4)
    return out


def results_table(results: dict[str, dict]) -> str:
    """Markdown: one row per run (name -> results JSON), the columns that matter for a reference generator."""
    head = "| run | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(COLUMNS)]
    for name, r in results.items():
        cells = []
        for key, _ in COLUMNS:
            m = r["metrics"].get(key)
            v = None if m is None else m["value"]
            cells.append("n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_au_table(results: dict[str, dict], key: str = "au_f1") -> str:
    names = list(results)
    aus = sorted({a for r in results.values() for a in (r["metrics"].get(key, {}).get("per_au") or {})})
    lines = ["| AU | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for a in aus:
        vals = [results[n]["metrics"].get(key, {}).get("per_au", {}).get(a) for n in names]
        lines.append(f"| {a} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in vals) + " |")
    return "\n".join(lines)


def load(paths: dict[str, str | Path]) -> dict[str, dict]:
    return {k: json.loads(Path(v).read_text()) for k, v in paths.items()}
