"""FairFace demographics (ResNet34, 18 outputs: race 7, gender 2, age 9) from a local weight file.

The network is our own ResNet34 (trunk from `bench.judges.resnet`) with torchvision's module names, so FairFace's
released state dict (`res34_fair_align_multi_7_20190809.pt`) loads strictly. Input: 224 px, ImageNet normalisation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.core.errors import MissingWeights
from bench.judges.hf import IMAGENET_MEAN, IMAGENET_STD, preprocess
from bench.judges.resnet import ResNetTrunk

RACES = ("White", "Black", "Latino_Hispanic", "East Asian", "Southeast Asian", "Indian", "Middle Eastern")
GENDERS = ("Male", "Female")
AGES = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
WEIGHTS_NAME = "res34_fair_align_multi_7_20190809.pt"


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
