"""MAUGen's published DIG label head (the authors' `models/base_model.py`), and its step combination.

- `IdentityDecoupling` (IDM, `bm:98-167`): attention over the feature map whose logits are gated by the
  identity, scaled by sqrt(L) (L = H*W, as the authors), minus a gated identity projection, LayerNorm over
  (L, C). The authors reshape the (B, L, C) result with `.view(B, C, H, W)` and no permute (which scrambles
  the layout); we transpose back correctly, so their weights would not load bit-compatibly here.
- `AuxReader` (`AuxiliaryModel`, `bm:170-217`): UNet time embedding (SiLU, Linear) added to one up-block's
  features, IDM, depthwise 3x3, 1x1 -> mid, InstanceNorm, GELU, grouped 3x3, 1x1 -> out, InstanceNorm, GELU,
  patch x patch unfold + Linear -> (B, N, dim) tokens.
- `AUBlock` (`AUTransformer`, `bm:260-330`): post-norm; patch self-attention with the position code on keys
  and values only, FFN; query self-attention, query-to-patch cross-attention, FFN; LGFE: a residual + norm,
  then attention over the text + cue context with no residual.
- `DualPredictionHead` (`bm:220-258`): per AU a separate occurrence and intensity MLP.
- `PublishedDIGHead`: the cue tokens are the queries; one `AUBlock` per cross-attention up-block, chained.
- `combine_steps` / `labels_from` (`pl:581,636-644`, `inf:145-149`): 1/(t+1) weights on occurrence logits and
  sigmoid intensities; labels = round(5 * averaged sigmoid), no occurrence gating.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from reference.maugen.modules import sinusoidal, step_weights


class IdentityDecoupling(nn.Module):
    """(B, C, H, W) features, (B, id_dim) identity -> (B, C, H, W) identity-decoupled features."""

    def __init__(self, channels: int, id_dim: int, hidden: int = 128):
        super().__init__()
        self.mlp = nn.Linear(id_dim, hidden)  # identity -> key space (the gate)
        self.linear_projection = nn.Linear(id_dim, channels)  # identity -> feature space (what is removed)
        self.W_Q, self.W_K, self.W_V = (nn.Linear(channels, hidden) for _ in range(3))
        self.W_O = nn.Linear(hidden, channels)

    def forward(self, z: torch.Tensor, cid: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        zf = F.layer_norm(z.flatten(2).transpose(1, 2), (c,))  # (B, L, C)
        q, k, v = self.W_Q(zf), self.W_K(zf), self.W_V(zf)  # (B, L, hidden)
        gate = torch.sigmoid(self.mlp(cid)[:, None] @ k.transpose(1, 2))  # (B, 1, L)
        attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(h * w) * gate, -1)  # (B, L, L)
        att = self.W_O(attn @ v)  # (B, L, C)
        cp = self.linear_projection(cid)[:, None]  # (B, 1, C)
        weight = torch.sigmoid((att * cp).sum(-1, keepdim=True))  # (B, L, 1)
        out = F.layer_norm(att - weight * cp, (h * w, c))  # (B, L, C)
        return out.transpose(1, 2).reshape(b, c, h, w)


class AuxReader(nn.Module):
    """One up-block's features (B, C, H, W) + UNet time embedding (B, T) -> (B, N, dim) patch tokens."""

    def __init__(self, channels: int, dim: int, temb_dim: int, patch: int, mid: int, groups: int, out: int,
                 id_dim: int, idm_hidden: int):
        super().__init__()
        self.patch = patch
        self.time_emb_proj = nn.Linear(temb_dim, channels)
        self.idm = IdentityDecoupling(channels, id_dim, idm_hidden)
        self.convs = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, mid, 1),
            nn.InstanceNorm2d(mid), nn.GELU(),
            nn.Conv2d(mid, mid, 3, padding=1, groups=groups), nn.Conv2d(mid, out, 1), nn.InstanceNorm2d(out), nn.GELU())
        self.patch_embedding = nn.Linear(out * patch * patch, dim)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, cid: torch.Tensor) -> torch.Tensor:
        x = x + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        x = self.convs(self.idm(x, cid))  # (B, out, H, W)
        p = self.patch
        x = x.unfold(2, p, p).unfold(3, p, p)  # (B, out, H/p, W/p, p, p)
        x = x.permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)  # (B, N, out*p*p), rows then columns
        return self.patch_embedding(x)


class AUBlock(nn.Module):
    """One post-norm transformer block: patches attend to themselves, AU queries to themselves and the patches,
    then (LGFE) to the text + cue context."""

    def __init__(self, dim: int, heads: int, ffn: int, lgfe: bool = True):
        super().__init__()
        mha = lambda: nn.MultiheadAttention(dim, heads, batch_first=True)  # noqa: E731
        ff = lambda: nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(), nn.Linear(ffn, dim))  # noqa: E731
        self.attn_enc, self.ffn_enc = mha(), ff()
        self.norm_enc1, self.norm_enc2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn_self, self.attn_cross, self.ffn_dec = mha(), mha(), ff()
        self.norm_dec1, self.norm_dec2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.lgfe = lgfe
        self.norm_dec3 = nn.LayerNorm(dim) if lgfe else None
        self.attn_text = mha() if lgfe else None

    def forward(self, x: torch.Tensor, x_pos: torch.Tensor, q: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x, x_pos (B, N, D) patches without / with position code; q (B, A, D); context (B, L, D) -> (B, A, D)."""
        x = self.norm_enc1(x + self.attn_enc(x, x_pos, x_pos, need_weights=False)[0])
        x = self.norm_enc2(x + self.ffn_enc(x))
        q = self.norm_dec1(q + self.attn_self(q, q, q, need_weights=False)[0])
        q = self.norm_dec2(q + self.attn_cross(q, x, x, need_weights=False)[0])
        r, q = q, self.ffn_dec(q)  # the authors add this residual only under LGFE
        if self.lgfe:
            q = self.attn_text(self.norm_dec3(q + r), context, context, need_weights=False)[0]  # no residual
        return q


class DualPredictionHead(nn.Module):
    """(B, A, D) AU tokens -> (occurrence logits (B, A), sigmoid intensity (B, A) in [0, 1])."""

    def __init__(self, dim: int, num_aus: int):
        super().__init__()
        mlp = lambda: nn.Sequential(nn.Linear(dim, dim // 2), nn.LeakyReLU(), nn.Linear(dim // 2, 1))  # noqa: E731
        self.det = nn.ModuleList([mlp() for _ in range(num_aus)])
        self.reg = nn.ModuleList([mlp() for _ in range(num_aus)])

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        det = torch.cat([m(q[:, i]) for i, m in enumerate(self.det)], 1)
        reg = torch.cat([m(q[:, i]) for i, m in enumerate(self.reg)], 1)
        return det, torch.sigmoid(reg)


class PublishedDIGHead(ModelMixin, ConfigMixin):
    """Per-step AU labels from the cross-attention up-blocks, queried by the AU cue tokens (authors' DIG).

    `feature_channels`: widths of the tapped up-blocks, in UNet order; `temb_dim`: the UNet time embedding
    width; `aux_mid` / `aux_groups` / `aux_out`: the reader's conv widths (authors 512 / 256 / 256);
    `ffn`: transformer FFN width (authors 512); `idm_hidden`: IDM attention width (authors 128);
    `id_dim`: width of the flattened pseudo-words fed to IDM (2 x token width).
    """

    @register_to_config
    def __init__(self, feature_channels: tuple[int, ...] = (1280, 640, 320), num_aus: int = 12, dim: int = 768,
                 heads: int = 8, ffn: int = 512, patch: int = 4, temb_dim: int = 1280, aux_mid: int = 512,
                 aux_groups: int = 256, aux_out: int = 256, id_dim: int = 1536, idm_hidden: int = 128,
                 lgfe: bool = True, variant: str = "published"):
        super().__init__()
        if variant != "published":
            raise ValueError(f"PublishedDIGHead is the 'published' variant, not {variant!r}")
        self.readers = nn.ModuleList([AuxReader(c, dim, temb_dim, patch, aux_mid, aux_groups, aux_out, id_dim,
                                                idm_hidden) for c in feature_channels])
        self.blocks = nn.ModuleList([AUBlock(dim, heads, ffn, lgfe) for _ in feature_channels])
        self.dual_head = DualPredictionHead(dim, num_aus)
        self._pe: dict[tuple, torch.Tensor] = {}

    def position_code(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """(n, dim) sinusoidal code, built once per (n, device, dtype)."""
        key = (n, like.device, like.dtype)
        if key not in self._pe:
            self._pe[key] = sinusoidal(n, self.config.dim).to(like)
        return self._pe[key]

    def forward(self, features: list[torch.Tensor], temb: torch.Tensor, context: torch.Tensor, queries: torch.Tensor,
                identity_words: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features: per up-block (B, C_i, H_i, W_i); temb (B, temb_dim) the UNet time embedding; context
        (B, L + A, D) text + cue tokens; queries (B, A, D) the cue tokens; identity_words (B, 2, D) pseudo-words
        (None or zero rows: no reference face).

        Returns (occurrence logits (B, A), intensity sigmoid (B, A) in [0, 1]).
        """
        b = len(queries)
        cid = (torch.zeros(b, self.config.id_dim, device=queries.device, dtype=queries.dtype)
               if identity_words is None else identity_words.reshape(b, -1))
        q = queries
        for reader, block, f in zip(self.readers, self.blocks, features):
            x = reader(f, temb, cid)  # (B, N, D)
            q = block(x, x + self.position_code(x.shape[1], x), q, context)
        return self.dual_head(q)


def combine_steps(logits: list[torch.Tensor], intensities: list[torch.Tensor], timesteps: list[int]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted (1/(t+1)) averages over steps of (B, A) occurrence LOGITS and sigmoid intensities (0-1)."""
    w = step_weights(timesteps)
    return sum(wi * li for wi, li in zip(w, logits)), sum(wi * ii for wi, ii in zip(w, intensities))


def labels_from(logit: torch.Tensor, intensity: torch.Tensor, threshold: float = 0.5
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Averaged logit and sigmoid intensity (B, A) -> (occurrence sigmoid(logit) >= threshold (bool),
    intensity round(5 * intensity) in 0-5 (long, not gated by occurrence), probability sigmoid(logit))."""
    prob = torch.sigmoid(logit)
    return prob >= threshold, (5.0 * intensity).round().long(), prob
