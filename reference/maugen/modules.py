"""MAUGen's v1 modules (our first reading), the step weights and the focal losses shared by both variants.

The published variant (the authors' code, the default) lives in `identity.py` (MRL) and `dig.py` (label head);
these v1 classes keep their names because the committed tiny checkpoint's `model_index.json` names them.

- `MultimodalRepresentation` (MRL, v1): one learnable AU cue token per AU plus an intensity-level embedding, the
  identity MLP (reference-face CLS features -> two pseudo-word tokens), and projections of text, AU, identity
  and image embeddings into one space where a contrastive objective aligns them.
- `DIGLabelHead` (v1): reads the UNet's cross-attention up-block features at a denoising step (time embedding +
  depthwise-separable convs + patchify -> tokens with sinusoidal positions), removes a gated projection of
  the identity vector (identity decoupling), lets one query per AU attend to the patches (and text), and
  predicts per AU an occurrence logit and an intensity 5*sigmoid. `combine_steps_v1` averages the steps'
  probabilities with weights 1/(t+1) (`step_weights`, shared); `labels_from_v1` gates levels by occurrence.
- `focal_bce` / `focal_mse`: the label losses (the authors' forms, `utils.py:369-412`); `focal_mse_tanh`: the
  v1 reading of focal-MSE, kept for v1 training.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

N_LEVELS = 6  # FACS intensity levels 0 (absent) .. 5 (E)


def sinusoidal(n: int, dim: int, base: float = 10_000.0) -> torch.Tensor:
    """(n, dim) sinusoidal position codes."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(base) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    out = torch.zeros(n, dim)
    out[:, 0::2], out[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq[: dim // 2])
    return out


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) timesteps -> (B, dim) sinusoidal features."""
    half = dim // 2
    freq = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    arg = t.float()[:, None] * freq[None]
    return torch.cat([arg.sin(), arg.cos()], 1)


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, same: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between (B, D) unit vectors; rows marked equal in `same` (B, B) are all positives."""
    logits = scale * a @ b.t()  # (B, B)
    target = torch.eye(len(a), device=a.device) if same is None else same.float()
    target = target / target.sum(1, keepdim=True)
    return 0.5 * (torch.sum(-target * logits.log_softmax(1), 1).mean()
                  + torch.sum(-target.t() * logits.t().log_softmax(1), 1).mean())


def add_alignment_heads(module: nn.Module, text_dim: int, token_dim: int, identity_dim: int, image_channels: int,
                        embed_dim: int) -> None:
    """The contrastive heads both MRL variants carry (attribute names = their checkpoint keys, created in this
    order so a seeded build draws the same weights): text, AU and identity projections into one embedding space,
    a small encoder of clean latents, and the InfoNCE temperature."""
    module.proj_text = nn.Linear(text_dim, embed_dim)
    module.proj_au = nn.Linear(token_dim, embed_dim)
    module.proj_identity = nn.Linear(identity_dim, embed_dim)
    module.image_encoder = nn.Sequential(  # clean latent (B, C, h, w) -> (B, embed_dim)
        nn.Conv2d(image_channels, 64, 3, padding=1), nn.GELU(), nn.Conv2d(64, 128, 3, stride=2, padding=1),
        nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, embed_dim))
    module.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))


def alignment_loss(heads: nn.Module, levels: torch.Tensor, au: torch.Tensor, text_pooled: torch.Tensor,
                   latents: torch.Tensor, identity: torch.Tensor | None = None,
                   has_identity: torch.Tensor | None = None) -> torch.Tensor:
    """Contrastive alignment (image<->AU, text<->AU, image<->identity) through `add_alignment_heads`' heads.

    levels (B, A) FACS levels (rows with the same levels are positives of each other: many faces share e.g. no AU
    at all); au (B, token_dim) the AU embedding; text_pooled (B, text_dim); latents (B, C, h, w) clean; identity
    (B, identity_dim), used in rows where has_identity (B,) is true.
    """
    same = (levels[:, None] == levels[None]).all(-1)  # (B, B)
    e_au = F.normalize(heads.proj_au(au), dim=-1)
    e_tx = F.normalize(heads.proj_text(text_pooled), dim=-1)
    e_im = F.normalize(heads.image_encoder(latents), dim=-1)
    scale = heads.logit_scale.exp().clamp(max=100.0)
    loss = info_nce(e_im, e_au, scale, same) + info_nce(e_tx, e_au, scale, same)
    if identity is not None and has_identity is not None and int(has_identity.sum()) > 1:
        e_id = F.normalize(heads.proj_identity(identity[has_identity]), dim=-1)
        loss = loss + info_nce(e_im[has_identity], e_id, scale)
    return loss


class MultimodalRepresentation(ModelMixin, ConfigMixin):
    """v1 MRL: AU cue tokens carrying their levels, identity pseudo-words (one MLP) and the contrastive
    alignment of text / AU / identity / image.

    `identity_layers`: blocks of the reference-face ViT whose CLS features are concatenated (identity_dim =
    len(identity_layers) x ViT width).
    """

    @register_to_config
    def __init__(self, num_aus: int = 12, token_dim: int = 768, identity_dim: int = 1536, num_id_tokens: int = 2,
                 text_dim: int = 768, image_channels: int = 4, embed_dim: int = 256,
                 identity_layers: tuple[int, ...] = (2, 5, 8, 11)):
        super().__init__()
        self.cue_tokens = nn.Parameter(torch.randn(num_aus, token_dim) * 0.02)  # (A, D) one per AU
        self.level_embedding = nn.Embedding(N_LEVELS, token_dim)  # FACS level 0-5 of each AU
        nn.init.normal_(self.level_embedding.weight, std=0.02)
        self.identity_mlp = nn.Sequential(nn.Linear(identity_dim, token_dim), nn.GELU(),
                                          nn.Linear(token_dim, num_id_tokens * token_dim))
        add_alignment_heads(self, text_dim, token_dim, identity_dim, image_channels, embed_dim)

    @staticmethod
    def levels(intensity: torch.Tensor) -> torch.Tensor:
        """(B, A) float intensities 0-5 -> (B, A) long FACS levels (0 below 1, as FACS codes nothing there)."""
        return intensity.nan_to_num(0.0).clamp(0, 5).floor().long()

    def identity_features(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """ViT hidden states (embeddings, then one per block) -> (B, identity_dim) raw CLS tokens, concatenated."""
        return torch.cat([hidden_states[i + 1][:, 0] for i in self.config.identity_layers], -1)

    def au_tokens(self, intensity: torch.Tensor) -> torch.Tensor:
        """(B, A) intensities -> (B, A, D) AU cue tokens carrying their levels."""
        return self.cue_tokens[None] + self.level_embedding(self.levels(intensity))

    def identity_tokens(self, identity: torch.Tensor) -> torch.Tensor:
        """(B, identity_dim) -> (B, num_id_tokens, D) pseudo-word embeddings."""
        c = self.config
        return self.identity_mlp(identity).view(len(identity), c.num_id_tokens, c.token_dim)

    def alignment_loss(self, text_pooled: torch.Tensor, intensity: torch.Tensor, latents: torch.Tensor,
                       identity: torch.Tensor | None = None, has_identity: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Contrastive alignment (image<->AU, text<->AU, image<->identity) in one embedding space.

        text_pooled (B, text_dim); intensity (B, A); latents (B, C, h, w) clean; identity (B, identity_dim).
        Rows with the same AU levels count as positives of each other (many faces share e.g. no AU at all).
        """
        lv = self.levels(intensity)
        w = lv.float() / 5.0
        au = (self.au_tokens(intensity) * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)  # (B, D)
        return alignment_loss(self, lv, au, text_pooled, latents, identity, has_identity)


class _LevelReader(nn.Module):
    """One up-block's features (B, C, H, W) at time t -> (B, N, D) patch tokens."""

    def __init__(self, channels: int, dim: int, patch: int, time_dim: int):
        super().__init__()
        self.time = nn.Linear(time_dim, channels)
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.pointwise = nn.Conv2d(channels, dim, 1)
        self.patchify = nn.Conv2d(dim, dim, patch, stride=patch)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = h + self.time(temb)[:, :, None, None]
        h = self.patchify(F.gelu(self.pointwise(F.gelu(self.depthwise(h)))))  # (B, D, H/p, W/p)
        tokens = h.flatten(2).transpose(1, 2)  # (B, N, D)
        return tokens + sinusoidal(tokens.shape[1], tokens.shape[2]).to(tokens)


class DIGLabelHead(ModelMixin, ConfigMixin):
    """v1 DIG label decoder: per-step AU labels from UNet up-block features (random queries, one decoder)."""

    @register_to_config
    def __init__(self, feature_channels: tuple[int, ...] = (1280, 640, 320), num_aus: int = 12, dim: int = 768,
                 patch: int = 4, layers: int = 2, heads: int = 8, text_dim: int = 768, identity_dim: int = 1536,
                 attend_text: bool = True, time_dim: int = 128):
        super().__init__()
        self.readers = nn.ModuleList([_LevelReader(c, dim, patch, time_dim) for c in feature_channels])
        self.id_gate = nn.Linear(identity_dim, dim)  # identity decoupling: f - sigmoid(g(id)) * P(id)
        self.id_proj = nn.Linear(identity_dim, dim)
        self.text_proj = nn.Linear(text_dim, dim) if attend_text else None
        self.queries = nn.Parameter(torch.randn(num_aus, dim) * 0.02)  # one query token per AU
        layer = nn.TransformerDecoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.head_w1 = nn.Parameter(torch.randn(num_aus, dim, dim // 2) * dim ** -0.5)  # per-AU MLP
        self.head_b1 = nn.Parameter(torch.zeros(num_aus, dim // 2))
        self.head_w2 = nn.Parameter(torch.randn(num_aus, dim // 2, 2) * (dim // 2) ** -0.5)
        self.head_b2 = nn.Parameter(torch.zeros(num_aus, 2))

    def forward(self, features: list[torch.Tensor], timesteps: torch.Tensor, text: torch.Tensor | None = None,
                identity: torch.Tensor | None = None, identity_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """features: per up-block (B, C_i, H_i, W_i); timesteps (B,); text (B, L, text_dim); identity (B, id_dim)
        applied in rows where identity_mask (B,) is true (default all).

        Returns (logits (B, A), intensity (B, A) in [0, 5]).
        """
        temb = timestep_features(timesteps, self.config.time_dim)
        tokens = torch.cat([r(f, temb) for r, f in zip(self.readers, features)], 1)  # (B, N, D)
        if identity is not None:
            shift = torch.sigmoid(self.id_gate(identity)) * self.id_proj(identity)  # (B, D)
            if identity_mask is not None:
                shift = shift * identity_mask[:, None].to(shift)
            tokens = tokens - shift[:, None]
        if self.text_proj is not None and text is not None:
            tokens = torch.cat([tokens, self.text_proj(text)], 1)
        q = self.decoder(self.queries[None].expand(len(tokens), -1, -1), tokens)  # (B, A, D)
        h = F.gelu(torch.einsum("bad,adk->bak", self.norm(q), self.head_w1) + self.head_b1)
        out = torch.einsum("bak,akc->bac", h, self.head_w2) + self.head_b2  # (B, A, 2)
        return out[..., 0], 5.0 * torch.sigmoid(out[..., 1])


def step_weights(timesteps: list[int] | torch.Tensor) -> torch.Tensor:
    """DIG's weights 1/(t+1) over sampling steps, normalised to sum to 1 (low-noise steps dominate)."""
    t = torch.as_tensor(timesteps, dtype=torch.float64)
    w = 1.0 / (t + 1.0)
    return (w / w.sum()).float()


def combine_steps_v1(probs: list[torch.Tensor], intensities: list[torch.Tensor], timesteps: list[int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """v1: weighted average over steps of (B, A) occurrence probabilities and intensities (0-5)."""
    w = step_weights(timesteps)
    p = sum(wi * pi for wi, pi in zip(w, probs))
    i = sum(wi * ii for wi, ii in zip(w, intensities))
    return p, i


def labels_from_v1(prob: torch.Tensor, intensity: torch.Tensor, threshold: float = 0.5
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """v1 final labels: occurrence = prob >= threshold; intensity rounded to 1-5 where present, 0 where absent."""
    occ = prob >= threshold
    return occ, torch.where(occ, intensity.round().clamp(1, 5), torch.zeros_like(intensity)).long()


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of x (B, A) over the cells where mask (B, A) is true (None: every cell, x.mean() exactly)."""
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def focal_bce(logits: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, gamma: float = 2.0,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-label focal loss: mean of -alpha (1 - p_t)^gamma log p_t over (B, A) (over `mask`'s labelled cells)."""
    logp = F.logsigmoid(logits)
    lognp = F.logsigmoid(-logits)
    logpt = torch.where(target > 0.5, logp, lognp)
    return masked_mean(-alpha * (1 - logpt.exp()) ** gamma * logpt, mask)


def focal_mse(pred: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """The authors' focal MSE (`utils.py:369-388`): mean of (1 - exp(-e^2))^gamma * e^2, e = pred - target (over
    `mask`'s labelled cells).

    Published training applies it to the sigmoid intensity (0-1) against intensity / 5 (our choice: the
    authors' inference multiplies the sigmoid by 5; their repository has no training code)."""
    e2 = (pred - target).pow(2)
    return masked_mean((1 - torch.exp(-e2)).pow(gamma) * e2, mask)


def focal_mse_tanh(pred: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """v1 focal MSE on 0-5 intensities: e^2 weighted by tanh(|e|)^gamma (our first reading of "focal-MSE")."""
    e = pred - target
    return masked_mean(torch.tanh(e.abs()).pow(gamma) * e.pow(2), mask)
