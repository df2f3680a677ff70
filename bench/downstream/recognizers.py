"""Recognizers the downstream harness trains: a small CNN for the world, ResNet-18 and ResNet-50 for real data.

Both map images (B, 3, H, W) in [0, 1] to a dict of head outputs: `expression` (B, 8) logits, `au_logit`
(B, 17) occurrence logits and `au_int` (B, 17) intensities (0-5 scale, unclipped), one head per canonical AU.
ResNet-18 is written here (He et al. 2016, BasicBlock [2, 2, 2, 2]) because torchvision cannot be installed
beside transformers/diffusers on our CPU environment; the layer layout follows torchvision's, so its
ImageNet weights load by name (bench.downstream.backbones; after loading them the network normalises its input
with ImageNet's mean and std, as they were trained). tests/test_backbones.py compares both with transformers'
independent ResNet on the same weights and inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.core.registry import RECOGNIZERS
from bench.data.aus import N_AUS
from bench.downstream.backbones import IMAGENET_MEAN, IMAGENET_STD
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


class _ResNet(ResNetTrunk):
    """A torchvision-named ResNet trunk with our heads instead of `fc`; `normalize` (set when ImageNet weights are
    loaded) maps [0, 1] images to ImageNet's normalisation first."""

    def __init__(self, blocks: tuple[int, ...], width: int, bottleneck: bool):
        super().__init__(blocks, width, bottleneck)
        self.heads = Heads(self.out_dim)
        self.normalize = False
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        return self.heads(self.features(x))


class ResNet18(_ResNet):
    """ResNet-18 (BasicBlocks 2-2-2-2, torchvision's module names) with our heads instead of `fc`."""

    def __init__(self, width: int = 64):
        super().__init__((2, 2, 2, 2), width, bottleneck=False)


class ResNet50(_ResNet):
    """ResNet-50 (Bottlenecks 3-4-6-3, stride on the 3x3 as torchvision's v1.5) with our heads instead of `fc`."""

    def __init__(self, width: int = 64):
        super().__init__((3, 4, 6, 3), width, bottleneck=True)


RECOGNIZERS.add("small-cnn", SmallCNN)
RECOGNIZERS.add("resnet18", ResNet18)
RECOGNIZERS.add("resnet50", ResNet50)


def build_recognizer(kind: str, **kw) -> nn.Module:
    return RECOGNIZERS.get(kind)(**kw)
