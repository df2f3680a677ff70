"""SynFER's label rectification rules and FERAnno's input noise, as pure functions.

Rectification (paper, RESEARCH.md §SynFER: "where it disagrees with external FER models the label becomes the
ensemble average"; the reproduction has no FERAnno and no rectification):
- `soft` (published): where FERAnno's argmax differs from the external ensemble's, the label is the average of
  the class probabilities of FERAnno and every ensemble member (each weighs 1/(M+1)); elsewhere the one-hot
  pseudo-label.
- `hard` (our earlier rule, kept for the committed tiny entries): where they differ, the ensemble's argmax.

FERAnno modes (how the clean latents reach the small timestep t_small):
- `invert` (paper: "invert the image to a small t"): deterministic DDIM inversion (reference/synfer/inversion.py);
- `renoise-image`: random re-noising (what the committed labeller was trained on) with noise seeded from the
  image's uint8 bytes, so the same image always gets the same label;
- `renoise`: random re-noising with the caller's generator (our earlier code: the sampling generator inside the
  pipeline, per-seed generators when relabelling, so the two paths can disagree).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import torch

FERANNO_MODES = ("invert", "renoise-image", "renoise")
RECTIFY_RULES = ("soft", "hard")


class Labels(NamedTuple):
    """Labels of a batch of B images (all on CPU); -1 / NaN where no model gives one."""

    final: torch.Tensor  # (B,) long: the claimed expression (argmax of `prob`)
    pseudo: torch.Tensor  # (B,) long: FERAnno's argmax
    ensemble: torch.Tensor  # (B,) long: the external ensemble's argmax (of its mean probabilities)
    relabelled: torch.Tensor  # (B,) bool: FERAnno and the ensemble disagree (the rule replaced the pseudo-label)
    prob: torch.Tensor  # (B, K) float: the claimed label distribution (soft rule) or its one-hot (hard rule)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def quantise(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> the same on the uint8 grid, i.e. exactly what a saved PNG reads back as."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def image_generators(images: torch.Tensor) -> list[torch.Generator]:
    """One CPU generator per image (B, 3, H, W) in [-1, 1], seeded by the sha256 of its uint8 bytes."""
    u8 = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return [torch.Generator().manual_seed(int(hashlib.sha256(x.numpy().tobytes()).hexdigest()[:15], 16))
            for x in u8]


def rectify(pseudo_logits: torch.Tensor | None, member_probs: torch.Tensor | None, rule: str, n: int,
            num_classes: int = 8) -> Labels:
    """FERAnno logits (B, K) and ensemble members' probabilities (M, B, K) (either None when absent) -> Labels."""
    check_choice("rectify", rule, RECTIFY_RULES)
    none = torch.full((n,), -1, dtype=torch.long)
    pseudo = none if pseudo_logits is None else pseudo_logits.argmax(-1).cpu()
    ens_mean = None if member_probs is None else member_probs.mean(0)  # (B, K)
    ens = none if ens_mean is None else ens_mean.argmax(-1).cpu()
    relabelled = (pseudo >= 0) & (ens >= 0) & (pseudo != ens)
    if rule == "hard":
        final = torch.where(relabelled | (pseudo < 0), ens, pseudo)
        return Labels(final, pseudo, ens, relabelled, _one_hot(final, num_classes))
    if pseudo_logits is None:
        prob = (torch.full((n, num_classes), float("nan")) if ens_mean is None else ens_mean.float().cpu())
    elif member_probs is None:
        prob = _one_hot(pseudo, num_classes)
    else:
        every = torch.cat([torch.softmax(pseudo_logits.float(), -1)[None], member_probs.float()]).mean(0).cpu()
        prob = torch.where(relabelled[:, None], every, _one_hot(pseudo, num_classes))  # (B, K)
    final = torch.where(prob.isnan().any(-1), none, prob.nan_to_num(-1.0).argmax(-1))
    return Labels(final, pseudo, ens, relabelled, prob)


def _one_hot(labels: torch.Tensor, k: int) -> torch.Tensor:
    """(B,) codes (-1 = none) -> (B, K) float one-hot (a NaN row for -1)."""
    out = torch.nn.functional.one_hot(labels.clamp_min(0), k).float()
    out[labels < 0] = float("nan")
    return out
