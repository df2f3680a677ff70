"""SynFER's own modules: the AU adapter (decoupled cross-attention), the FER classifier used by semantic
guidance (and, with other seeds, as the external FER ensemble), and the FERAnno pseudo-labeller.

- `AUAdapter`: an MLP turns the AU vector into `num_tokens` tokens; every cross-attention layer of the UNet
  gets a second key/value projection for them (IP-Adapter style) and adds `scale` x their attention to the
  text attention. `install(unet)` sets `DecoupledAUAttnProcessor`s; the tokens of the current call are set
  with `with adapter.conditioned(tokens, scale): unet(...)`. The base UNet stays frozen while it trains.
- `FERClassifier`: a small CNN on images in [-1, 1] -> expression logits (differentiable, for guidance).
- `PseudoLabeller` (FERAnno): UNet multi-scale features and cross-attention maps at a small t -> two token
  branches -> bidirectional cross-attention -> pooled -> expression logits.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin


def cross_attention_layers(unet) -> list[tuple[str, nn.Module]]:
    """(name, Attention) of every cross-attention layer of a UNet, in a fixed order."""
    return sorted((n, m) for n, m in unet.named_modules() if n.endswith("attn2"))


class DecoupledAUAttnProcessor:
    """softmax(Q K_text^T) V_text + scale * softmax(Q K_au^T) V_au, the AU keys/values from the adapter.

    Optionally records the text cross-attention map (B, Q, L) averaged over heads (for the pseudo-labeller).
    The plain SD-1.5 cross-attention path only (no attention mask, cross/spatial/group norm, residual or output
    rescaling): `AUAdapter.install` refuses a UNet whose cross-attention layers use any of them.
    """

    def __init__(self, adapter: AUAdapter, index: int):
        self.adapter, self.index = adapter, index

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        if attention_mask is not None:
            raise ValueError("the AU attention processor does not implement attention masks")
        b, q_len, _ = hidden_states.shape  # cross-attention blocks see (B, HW, C)
        q = attn.to_q(hidden_states)
        ctx = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        k, v = attn.to_k(ctx), attn.to_v(ctx)
        h = attn.heads
        split = lambda t: t.view(b, -1, h, t.shape[-1] // h).transpose(1, 2)  # noqa: E731  (B, heads, N, d)
        qh, kh, vh = split(q), split(k), split(v)
        if self.adapter.record_maps:
            probs = torch.softmax(qh @ kh.transpose(-1, -2) * attn.scale, -1)  # (B, heads, Q, L)
            self.adapter.maps.append(probs.mean(1))
            out = probs @ vh
        else:
            out = F.scaled_dot_product_attention(qh, kh, vh)
        tokens, scale = self.adapter.tokens, self.adapter.scale
        if tokens is not None and scale != 0.0:
            ka = split(self.adapter.to_k[self.index](tokens.to(q.dtype)))
            va = split(self.adapter.to_v[self.index](tokens.to(q.dtype)))
            out = out + scale * F.scaled_dot_product_attention(qh, ka, va)
        out = out.transpose(1, 2).reshape(b, q_len, -1)
        return attn.to_out[1](attn.to_out[0](out))


class AUAdapter(ModelMixin, ConfigMixin):
    """AU vector -> tokens -> a second key/value per cross-attention layer."""

    @register_to_config
    def __init__(self, num_aus: int = 17, num_tokens: int = 4, cross_attention_dim: int = 768,
                 inner_dims: tuple[int, ...] = (320,), hidden: int = 256, read: tuple[int, ...] | None = None):
        # num_aus: width of the AU vector it is given (bench.data.aus.AUS order); read: the positions in it the
        # adapter reads (None: all; a set that labels only some AUs trains an adapter that reads those alone, so an
        # unlabelled AU never enters the condition as a 0)
        super().__init__()
        d = cross_attention_dim
        self.mlp = nn.Sequential(nn.Linear(num_aus if read is None else len(read), hidden), nn.GELU(),
                                 nn.Linear(hidden, num_tokens * d))
        self.norm = nn.LayerNorm(d)
        self.to_k = nn.ModuleList([nn.Linear(d, i, bias=False) for i in inner_dims])
        self.to_v = nn.ModuleList([nn.Linear(d, i, bias=False) for i in inner_dims])
        for lin in self.to_v:
            nn.init.zeros_(lin.weight)  # starts as the base model exactly
        self.tokens: torch.Tensor | None = None
        self.scale = 1.0
        self.record_maps = False
        self.maps: list[torch.Tensor] = []

    def au_tokens(self, intensity: torch.Tensor) -> torch.Tensor:
        """(B, num_aus) intensities 0-5 (the null condition is all zeros) -> (B, num_tokens, D); only the `read`
        positions enter."""
        c = self.config
        x = intensity.nan_to_num(0.0).to(self.dtype) / 5.0
        if c.get("read") is not None:
            x = x[:, list(c.read)]  # (B, len(read))
        return self.norm(self.mlp(x).view(len(x), c.num_tokens, c.cross_attention_dim))

    def install(self, unet) -> None:
        layers = cross_attention_layers(unet)
        if len(layers) != len(self.to_k):
            raise ValueError(f"adapter has {len(self.to_k)} key/value pairs, the UNet {len(layers)} cross-attention "
                             "layers")
        for name, attn in layers:
            unsupported = [k for k, bad in (("norm_cross", attn.norm_cross is not None),
                                            ("spatial_norm", getattr(attn, "spatial_norm", None) is not None),
                                            ("group_norm", getattr(attn, "group_norm", None) is not None),
                                            ("residual_connection", getattr(attn, "residual_connection", False)),
                                            ("rescale_output_factor", getattr(attn, "rescale_output_factor", 1.0)
                                             != 1.0)) if bad]
            if unsupported:  # DecoupledAUAttnProcessor implements the plain SD cross-attention path only
                raise ValueError(f"{name} uses {', '.join(unsupported)}, which the AU attention processor does not "
                                 "implement")
        procs = {}
        for name in unet.attn_processors:
            base = name.rsplit(".processor", 1)[0]
            idx = [n for n, _ in layers].index(base) if base.endswith("attn2") else None
            procs[name] = DecoupledAUAttnProcessor(self, idx) if idx is not None else unet.attn_processors[name]
        unet.set_attn_processor(procs)

    @contextlib.contextmanager
    def conditioned(self, tokens: torch.Tensor | None, scale: float = 1.0, record_maps: bool = False):
        """AU tokens (B, T, D) (None: text only) for the UNet calls inside the block."""
        self.tokens, self.scale, self.record_maps, self.maps = tokens, scale, record_maps, []
        try:
            yield self
        finally:
            self.tokens, self.record_maps = None, False


def inner_dims(unet) -> tuple[int, ...]:
    """Output widths of the cross-attention layers' key projections (what the adapter must produce)."""
    return tuple(m.to_k.out_features for _, m in cross_attention_layers(unet))


class FERClassifier(ModelMixin, ConfigMixin):
    """Images (B, 3, H, W) in [-1, 1] -> (B, num_classes) expression logits."""

    @register_to_config
    def __init__(self, num_classes: int = 8, width: int = 32):
        super().__init__()
        w = width

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(8, o), nn.SiLU(),
                                 nn.Conv2d(o, o, 3, padding=1, stride=2), nn.GroupNorm(8, o), nn.SiLU())

        self.body = nn.Sequential(block(3, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * w * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.body(x)).flatten(1))


class PseudoLabeller(ModelMixin, ConfigMixin):
    """FERAnno: (UNet features per scale, cross-attention maps) -> expression logits."""

    @register_to_config
    def __init__(self, feature_channels: tuple[int, ...] = (320, 640, 1280), map_tokens: int = 77,
                 num_classes: int = 8, dim: int = 128, heads: int = 4, grid: int = 4, t_small: int = 50):
        super().__init__()
        # t_small: the timestep it was trained to read the UNet at (labelling reads it from here; 50 for
        # checkpoints saved before it was recorded)
        # per-scale normalisation first: up-block outputs differ in scale by an order of magnitude
        self.feat_in = nn.ModuleList([nn.Sequential(nn.GroupNorm(1, c), nn.Conv2d(c, dim, 1))
                                      for c in feature_channels])
        self.map_in = nn.Linear(map_tokens, dim)
        self.pos = nn.Parameter(torch.randn(len(feature_channels) * grid * grid, dim) * 0.02)
        self.f2a = nn.MultiheadAttention(dim, heads, batch_first=True)  # feature tokens attend to map tokens
        self.a2f = nn.MultiheadAttention(dim, heads, batch_first=True)  # map tokens attend to feature tokens
        self.norm_f, self.norm_a = nn.LayerNorm(dim), nn.LayerNorm(dim)
        # the feature tokens are kept in their places (flattened, not averaged): expressions are local geometry
        self.fc = nn.Linear((len(feature_channels) * grid * grid + 1) * dim, num_classes)

    def forward(self, features: list[torch.Tensor], maps: torch.Tensor) -> torch.Tensor:
        """features: per scale (B, C_i, H_i, W_i); maps (B, Q, L) text cross-attention (Q spatial positions)."""
        g = self.config.grid
        f = torch.cat([conv(F.adaptive_avg_pool2d(x, g)).flatten(2).transpose(1, 2)
                       for conv, x in zip(self.feat_in, features)], 1) + self.pos  # (B, S*g*g, D)
        a = self.map_in(maps)  # (B, Q, D): each position's distribution over text tokens
        f2 = self.norm_f(f + self.f2a(f, a, a, need_weights=False)[0])
        a2 = self.norm_a(a + self.a2f(a, f, f, need_weights=False)[0])
        return self.fc(torch.cat([f2.flatten(1), a2.mean(1)], -1))


class FEREnsemble(ModelMixin, ConfigMixin):
    """Several FER classifiers (different seeds / widths) whose softmax outputs are averaged: SynFER's
    "external FER models" that overrule the pseudo-labeller where they disagree with it."""

    @register_to_config
    def __init__(self, widths: tuple[int, ...] = (16, 24, 32), num_classes: int = 8):
        super().__init__()
        self.members = nn.ModuleList([FERClassifier(num_classes, w) for w in widths])

    def member_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (M, B, num_classes) each member's probabilities."""
        return torch.stack([torch.softmax(m(x), -1) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, num_classes) mean probabilities."""
        return self.member_probs(x).mean(0)
