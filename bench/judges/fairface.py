"""FairFace demographics (ResNet34, 18 outputs: race 7, gender 2, age 9) from a local weight file.

The network is our own ResNet34 with torchvision's module names, so FairFace's released state dict
(`res34_fair_align_multi_7_20190809.pt`) loads strictly. Input: 224 px, ImageNet normalisation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.errors import MissingWeights
from bench.judges.hf import IMAGENET_MEAN, IMAGENET_STD, preprocess

RACES = ("White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern")
GENDERS = ("Male", "Female")
AGES = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
WEIGHTS_NAME = "res34_fair_align_multi_7_20190809.pt"


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNetTrunk(nn.Module):
    """ResNet with BasicBlocks and torchvision's module names (conv1, bn1, layer1-4): image -> pooled features."""

    def __init__(self, blocks: tuple[int, ...] = (3, 4, 6, 3), width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for i, n in enumerate(blocks, 1):
            cout = width * 2 ** (i - 1)
            layers = [BasicBlock(cin, cout, 1 if i == 1 else 2)] + [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layers))
            cin = cout
        self.out_dim = cin

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class ResNet34(ResNetTrunk):
    """ResNet34 (blocks 3-4-6-3) with torchvision's names; `fc` has `num_outputs` classes."""

    def __init__(self, num_outputs: int = 18):
        super().__init__((3, 4, 6, 3))
        self.fc = nn.Linear(self.out_dim, num_outputs)

    def forward(self, x):
        return self.fc(self.features(x))


class FairFaceJudge:
    """Images -> race7 / gender2 / age9 probabilities."""

    readings = ("race7_prob", "gender_prob", "age9_prob")

    def __init__(self, path: str | Path | None, device: str = "cpu"):
        p = Path(path) if path else None
        if p is None or not p.is_file():
            raise MissingWeights(
                f"FairFace weights not found{f' at {p}' if p else ''}: download {WEIGHTS_NAME} (FairFace's "
                "released ResNet34, 7 races) on a machine with internet, copy it here and pass its path")
        state = torch.load(p, map_location="cpu", weights_only=True)
        self.net = ResNet34(18)
        self.net.load_state_dict(state, strict=True)
        self.net.to(device).eval()
        self.device = device
        with open(p, "rb") as f:
            self.sha256 = hashlib.sha256(f.read()).hexdigest()
        self.id, self.config = f"fairface-{self.sha256[:12]}", {}

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        out = self.net(preprocess(images, 224, IMAGENET_MEAN, IMAGENET_STD).to(self.device)).float().cpu()
        return {"race7_prob": torch.softmax(out[:, 0:7], 1).numpy(),
                "gender_prob": torch.softmax(out[:, 7:9], 1).numpy(),
                "age9_prob": torch.softmax(out[:, 9:18], 1).numpy()}
