"""MAUGen's published multimodal representation (MRL): fixed AU cue tokens, MSID-style identity features and
the authors' Img2Text pseudo-word mapper, plus our contrastive alignment (the authors' code has none).

- `PublishedMRL`: the (A, D) cue tokens appended to the text context, identical for every row and both
  classifier-free-guidance halves (the request reaches the model as prompt text only; authors `pl:551-552`,
  `bm:508-509`); `identity_features` applies BatchNorm1d + LayerNorm to each tapped ViT CLS token (authors
  `msid.py:100-103,138-160`); `identity_tokens` maps the identity vector to the first / last pseudo-words
  (authors `msid.py:46-85`, `IMG2TEXTwithEXP` with its learned null-expression slot).
- `Img2TextMLP`: one of the two pseudo-word MLPs.

Its saved config carries `variant: "published"`; the pipeline reads it to pick the published request path,
pseudo-word placement (after position embeddings) and inpainting fill. A v1 MRL config has no `variant`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from reference.maugen.modules import add_alignment_heads, alignment_loss


class Img2TextMLP(nn.Module):
    """(B, in_dim) -> (B, out_dim): n_layer x [Linear, Dropout, LeakyReLU 0.2], then a Linear (authors'
    `IMG2TEXT_MLP`)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, n_layer: int = 2, dropout: float = 0.1):
        super().__init__()
        dims = [in_dim] + [hidden] * n_layer
        self.layers = nn.Sequential(*[nn.Sequential(nn.Linear(a, b), nn.Dropout(dropout), nn.LeakyReLU(0.2))
                                      for a, b in zip(dims[:-1], dims[1:])])
        self.fc_out = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.layers(x))


class PublishedMRL(ModelMixin, ConfigMixin):
    """Fixed AU cue tokens, identity norms + two pseudo-word MLPs, and contrastive projections.

    `identity_layers`: ViT blocks whose CLS tokens are normed and concatenated (identity_dim =
    len(identity_layers) x vit_width).
    """

    @register_to_config
    def __init__(self, num_aus: int = 12, token_dim: int = 768, vit_width: int = 384,
                 identity_layers: tuple[int, ...] = (2, 5, 8, 11), img2text_hidden: int = 1536,
                 img2text_layers: int = 2, exp_dim: int = 64, dropout: float = 0.1, text_dim: int = 768,
                 image_channels: int = 4, embed_dim: int = 256, variant: str = "published"):
        super().__init__()
        if variant != "published":
            raise ValueError(f"PublishedMRL is the 'published' variant, not {variant!r}")
        identity_dim = vit_width * len(identity_layers)
        self.cue_tokens = nn.Parameter(torch.randn(num_aus, token_dim) * 0.02)  # (A, D); CLIP-pooled names at SD size
        self.id_norms = nn.ModuleDict({f"layer_{i}": nn.Sequential(nn.BatchNorm1d(vit_width), nn.LayerNorm(vit_width))
                                       for i in identity_layers})
        self.i2t_first = Img2TextMLP(identity_dim + exp_dim, img2text_hidden, token_dim, img2text_layers, dropout)
        self.i2t_last = Img2TextMLP(identity_dim + exp_dim, img2text_hidden, token_dim, img2text_layers, dropout)
        self.null_exp = nn.Parameter(torch.zeros(exp_dim))  # (E,) the learned "no expression given" slot
        add_alignment_heads(self, text_dim, token_dim, identity_dim, image_channels, embed_dim)

    @property
    def identity_dim(self) -> int:
        return self.config.vit_width * len(self.config.identity_layers)

    def identity_features(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """ViT hidden states (embeddings, then one (B, 1+P, W) per block) -> (B, identity_dim) normed CLS tokens."""
        return torch.cat([self.id_norms[f"layer_{i}"](hidden_states[i + 1][:, 0])
                          for i in self.config.identity_layers], -1)

    def au_tokens(self, intensity: torch.Tensor) -> torch.Tensor:
        """(B, A) request (only its batch size is used) -> (B, A, D) the fixed cue tokens, the same in every row."""
        return self.cue_tokens[None].expand(len(intensity), -1, -1)

    def identity_tokens(self, identity: torch.Tensor) -> torch.Tensor:
        """(B, identity_dim) -> (B, 2, D) first and last pseudo-words (no expression input: the null slot)."""
        x = torch.cat([identity, self.null_exp[None].expand(len(identity), -1).to(identity)], -1)
        return torch.stack([self.i2t_first(x), self.i2t_last(x)], 1)

    def alignment_loss(self, text_pooled: torch.Tensor, intensity: torch.Tensor, latents: torch.Tensor,
                       identity: torch.Tensor | None = None, has_identity: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Our contrastive alignment (image<->AU, text<->AU, image<->identity); the AU embedding is the cue
        tokens weighted by intensity / 5. Rows with the same AU levels are positives of each other.

        text_pooled (B, text_dim); intensity (B, A) 0-5; latents (B, C, h, w) clean; identity (B, identity_dim).
        """
        lv = intensity.nan_to_num(0.0).clamp(0, 5).floor()
        w = lv / 5.0  # (B, A)
        au = (self.cue_tokens[None] * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)  # (B, D)
        return alignment_loss(self, lv, au, text_pooled, latents, identity, has_identity)
