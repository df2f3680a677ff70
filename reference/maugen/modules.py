"""MAUGen's own modules: the multimodal representation (MRL), the DIG label head, and the focal losses.

- `MultimodalRepresentation` (MRL): one learnable AU cue token per AU plus an intensity-level embedding, the
  identity MLP (reference-face CLS features -> two pseudo-word tokens), and projections of text, AU, identity
  and image embeddings into one space where a contrastive objective aligns them.
- `DIGLabelHead`: reads the UNet's cross-attention up-block features at a denoising step (time embedding +
  depthwise-separable convs + patchify -> tokens with sinusoidal positions), removes a gated projection of
  the identity vector (identity decoupling), lets one query per AU attend to the patches (and text), and
  predicts per AU an occurrence logit and an intensity 5*sigmoid. `combine_steps` averages the steps with
  weights 1/(t+1).
- `focal_bce` / `focal_mse`: the label losses.
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


class MultimodalRepresentation(ModelMixin, ConfigMixin):
    """AU cue tokens, identity pseudo-words and the contrastive alignment of text / AU / identity / image.

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
        self.proj_text = nn.Linear(text_dim, embed_dim)
        self.proj_au = nn.Linear(token_dim, embed_dim)
        self.proj_identity = nn.Linear(identity_dim, embed_dim)
        self.image_encoder = nn.Sequential(  # clean latent (B, C, h, w) -> (B, embed_dim)
            nn.Conv2d(image_channels, 64, 3, padding=1), nn.GELU(), nn.Conv2d(64, 128, 3, stride=2, padding=1),
            nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    @staticmethod
    def levels(intensity: torch.Tensor) -> torch.Tensor:
        """(B, A) float intensities 0-5 -> (B, A) long FACS levels (0 below 1, as FACS codes nothing there)."""
        return intensity.nan_to_num(0.0).clamp(0, 5).floor().long()

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
        same = (lv[:, None] == lv[None]).all(-1)  # (B, B)
        w = lv.float() / 5.0
        au = (self.au_tokens(intensity) * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)
        e_au = F.normalize(self.proj_au(au), dim=-1)
        e_tx = F.normalize(self.proj_text(text_pooled), dim=-1)
        e_im = F.normalize(self.image_encoder(latents), dim=-1)
        scale = self.logit_scale.exp().clamp(max=100.0)
        loss = info_nce(e_im, e_au, scale, same) + info_nce(e_tx, e_au, scale, same)
        if identity is not None and has_identity is not None and int(has_identity.sum()) > 1:
            m = has_identity
            e_id = F.normalize(self.proj_identity(identity[m]), dim=-1)
            loss = loss + info_nce(e_im[m], e_id, scale)
        return loss


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
    """Per-step AU labels from UNet up-block features (MAUGen's DIG label decoder)."""

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


def combine_steps(probs: list[torch.Tensor], intensities: list[torch.Tensor], timesteps: list[int]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted average over steps of (B, A) occurrence probabilities and intensities."""
    w = step_weights(timesteps)
    p = sum(wi * pi for wi, pi in zip(w, probs))
    i = sum(wi * ii for wi, ii in zip(w, intensities))
    return p, i


def labels_from(prob: torch.Tensor, intensity: torch.Tensor, threshold: float = 0.5
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Final labels: occurrence = prob >= threshold; intensity rounded to 1-5 where present, 0 where absent."""
    occ = prob >= threshold
    return occ, torch.where(occ, intensity.round().clamp(1, 5), torch.zeros_like(intensity)).long()


def focal_bce(logits: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, gamma: float = 2.0) -> torch.Tensor:
    """Multi-label focal loss: mean of -alpha (1 - p_t)^gamma log p_t over (B, A)."""
    logp = F.logsigmoid(logits)
    lognp = F.logsigmoid(-logits)
    logpt = torch.where(target > 0.5, logp, lognp)
    return (-alpha * (1 - logpt.exp()) ** gamma * logpt).mean()


def focal_mse(pred: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal MSE on intensities: e^2 weighted by tanh(|e|)^gamma (about 1 for errors of a level or more,
    small for sub-level errors), so training concentrates on wrong levels. Our reading of "focal-MSE"."""
    e = pred - target
    return (torch.tanh(e.abs()).pow(gamma) * e.pow(2)).mean()
