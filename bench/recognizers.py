"""Recognizers the downstream harness trains: a small CNN for the world and a ResNet-18 for real data.

Both map images (B, 3, H, W) in [0, 1] to a dict of head outputs: `expression` (B, 8) logits, `au_logit`
(B, 17) occurrence logits and `au_int` (B, 17) intensities (0-5 scale, unclipped), one head per canonical AU.
ResNet-18 is written here (He et al. 2016, BasicBlock [2, 2, 2, 2]) because torchvision cannot be installed
beside transformers/diffusers on our CPU environment; the layer layout follows torchvision's, so its
ImageNet weights load by name where a user has them.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.data.aus import N_AUS

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


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


class ResNet18(nn.Module):
    """ResNet-18 trunk (conv1/bn1/layer1-4 as in torchvision) with our heads instead of `fc`."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = (width, width * 2, width * 4, width * 8)
        cin = width
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
            cin = c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = Heads(cin)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.heads(self.pool(x).flatten(1))


RECOGNIZERS = {"small-cnn": SmallCNN, "resnet18": ResNet18}


def build_recognizer(kind: str, **kw) -> nn.Module:
    if kind not in RECOGNIZERS:
        raise ValueError(f"unknown recognizer {kind!r}; known: {', '.join(RECOGNIZERS)}")
    return RECOGNIZERS[kind](**kw)
