"""Recognizers the downstream harness trains: a small CNN for the world; ResNet-18, ResNet-50 and IR-50 for real data.

All map images (B, 3, H, W) in [0, 1] to a dict of head outputs: `expression` (B, 8) logits, `au_logit`
(B, 17) occurrence logits and `au_int` (B, 17) intensities (0-5 scale, unclipped), one head per canonical AU.
ResNet-18 is written here (He et al. 2016, BasicBlock [2, 2, 2, 2]) because torchvision cannot be installed
beside transformers/diffusers on our CPU environment; the layer layout follows torchvision's, so its
ImageNet weights load by name, as face.evoLVe's IR-50 weights load into IR50 (bench.downstream.backbones; after
loading them the network normalises its input as they were trained). tests/test_backbones.py compares the ResNets
with transformers' independent ResNet and IR50 with face.evoLVe's IR-50 (as shipped in modelscope) on the same
weights and inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.registry import RECOGNIZERS
from bench.data.aus import N_AUS
from bench.judges.resnet import ResNetTrunk

N_EXPRESSIONS = 8


class Heads(nn.Module):
    """features (B, D) -> {expression (B, 8), au_logit (B, 17), au_int (B, 17)}."""

    def __init__(self, dim: int):
        super().__init__()
        self.expression = nn.Linear(dim, N_EXPRESSIONS)
        self.au_logit = nn.Linear(dim, N_AUS)
        self.au_int = nn.Linear(dim, N_AUS)

    def forward(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"expression": self.expression(f), "au_logit": self.au_logit(f), "au_int": self.au_int(f)}


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU stages (stride 2 from the second), global average pool, the heads."""

    def __init__(self, width: int = 32):
        super().__init__()
        chans = (width // 2, width, width * 2, width * 4)
        layers, cin = [], 3
        for i, c in enumerate(chans):
            layers += [nn.Conv2d(cin, c, 3, stride=1 if i == 0 else 2, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
            cin = c
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = Heads(cin)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.trunk(x))


class _Normalized:
    """Input normalisation a pretrained backbone was trained with: off until `set_normalization` (images arrive
    in [0, 1]); mean and std are buffers kept out of the state dict."""

    def _init_normalization(self):
        self.normalize = False
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.ones(1, 3, 1, 1), persistent=False)

    def set_normalization(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
        self.std.copy_(torch.tensor(std).view(1, 3, 1, 1))
        self.normalize = True

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        return self.heads(self.features(x))


class _ResNet(_Normalized, ResNetTrunk):
    """A torchvision-named ResNet trunk with our heads instead of `fc`."""

    def __init__(self, blocks: tuple[int, ...], width: int, bottleneck: bool):
        super().__init__(blocks, width, bottleneck)
        self.heads = Heads(self.out_dim)
        self._init_normalization()


class ResNet18(_ResNet):
    """ResNet-18 (BasicBlocks 2-2-2-2, torchvision's module names) with our heads instead of `fc`."""

    def __init__(self, width: int = 64):
        super().__init__((2, 2, 2, 2), width, bottleneck=False)


class ResNet50(_ResNet):
    """ResNet-50 (Bottlenecks 3-4-6-3, stride on the 3x3 as torchvision's v1.5) with our heads instead of `fc`."""

    def __init__(self, width: int = 64):
        super().__init__((3, 4, 6, 3), width, bottleneck=True)


class IRUnit(nn.Module):
    """face.evoLVe's `bottleneck_IR` (despite its name, two 3x3 convs): BN, conv 3x3, PReLU, conv 3x3 carrying the
    stride, BN, plus the shortcut (a strided identity, or conv 1x1 + BN when the width changes)."""

    def __init__(self, cin: int, depth: int, stride: int):
        super().__init__()
        self.shortcut_layer = (nn.MaxPool2d(1, stride) if cin == depth else
                               nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth)))
        self.res_layer = nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False),
                                       nn.PReLU(depth), nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
                                       nn.BatchNorm2d(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IR50(_Normalized, nn.Module):
    """IR-50 (face.evoLVe's module names: input_layer, body.0-23 with units 3-4-14-3, each stage halving the
    size): global-average-pooled body features into our heads (the file's `output_layer` embedding is not used)."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                         nn.PReLU(width))
        units, cin = [], width
        for i, n in enumerate((3, 4, 14, 3)):
            depth = width * 2 ** i
            units += [IRUnit(cin, depth, 2)] + [IRUnit(depth, depth, 1) for _ in range(n - 1)]
            cin = depth
        self.body = nn.Sequential(*units)
        self.out_dim = cin
        self.heads = Heads(cin)
        self._init_normalization()

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 8 x width, H / 16, W / 16): the body's output."""
        return self.body(self.input_layer(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.feature_map(x), 1), 1)


def build_recognizer(kind: str, **kw) -> nn.Module:
    return RECOGNIZERS.get(kind)(**kw)
