"""The FID InceptionV3 (pool3, 2048-d) without torchvision, loading pytorch-fid's weight file.

Module names follow torchvision's Inception3 so the state-dict keys of
`pt_inception-2015-12-05-6726825d.pth` (the TF 2015-12-05 graph ported by pytorch-fid: 1008-way fc,
average pools that ignore padding, a max pool in the last block) load strictly. Weights are read
only from a local path the user names; the file's sha256 must start with the 8 hex digits in its name.

Preprocessing is named by a mode (as clean-fid does): `clean` resizes each channel with PIL bicubic on
float32 (clean-fid's protocol), `legacy` uses torch bilinear interpolation (pytorch-fid's).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from bench.core.errors import DataError, MissingWeights, UsageError
from bench.data.safeio import sha256_file

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_SHA256_PREFIX = "6726825d"
MODES = ("clean", "legacy")
SIZE = 299


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """TF-style 3x3 average pool: padding zeros are not counted."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1 -> 224 + pool_features channels."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class BlockB(nn.Module):
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions -> 768 channels."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for k in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{k}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class BlockD(nn.Module):
    """17 -> 8 reduction -> 1280 channels."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8x8 block with split 1x3/3x1 branches -> 2048 channels; `max_pool` in the last FID block."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Images (B, 3, H, W) in [0, 1] at 299 px -> pool3 features (B, 2048); `logits` gives the 1008-way fc."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b, self.Mixed_7c = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - 1.0  # [0, 1] -> [-1, 1], the range the TF graph was trained on
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def preprocess(images: np.ndarray, mode: str = "clean") -> torch.Tensor:
    """uint8 images (B, H, W, 3) -> float (B, 3, 299, 299) in [0, 1] by the named resize protocol."""
    if mode not in MODES:
        raise ValueError(f"unknown FID preprocessing mode {mode!r}; known: {', '.join(MODES)}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images (B, H, W, 3), got {images.dtype} {images.shape}")
    if mode == "legacy":
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        return F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    out = np.empty((len(images), 3, SIZE, SIZE), dtype=np.float32)
    for i, img in enumerate(images):  # clean-fid: per-channel PIL bicubic on float32, clipped to 0-255
        for c in range(3):
            ch = Image.fromarray(img[:, :, c].astype(np.float32), mode="F").resize((SIZE, SIZE), Image.BICUBIC)
            out[i, c] = np.clip(np.asarray(ch), 0.0, 255.0)
    return torch.from_numpy(out).div_(255.0)


def load_fid_inception(path: str | os.PathLike | None, check_hash: bool = True) -> FIDInceptionV3:
    """Build the network and load `path` strictly; a clear error says what to put where when it is missing."""
    where = "pass its path (--inception-weights) or set AUGEN_INCEPTION_WEIGHTS"
    path = path or os.environ.get("AUGEN_INCEPTION_WEIGHTS")
    if not path or not Path(path).is_file():
        raise MissingWeights(
            f"FID Inception weights not found{f' at {path}' if path else ''}: download {WEIGHTS_NAME} "
            f"(pytorch-fid's release file) on a machine with internet, copy it here and {where}")
    if check_hash:
        digest = sha256_file(path)
        if not digest.startswith(WEIGHTS_SHA256_PREFIX):
            raise DataError(path, f"sha256 {digest[:16]}... does not start with {WEIGHTS_SHA256_PREFIX} "
                             f"(not {WEIGHTS_NAME}, or a corrupt copy)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = FIDInceptionV3()
    net.load_state_dict(state, strict=True)
    return net.eval()


class InceptionJudge:
    """FID Inception pool3 features (B, 2048) under one preprocessing `mode` (clean-fid's names)."""

    readings = ("features",)

    def __init__(self, path: str | os.PathLike | None = None, mode: str = "clean", device: str = "cpu"):
        if mode not in MODES:
            raise UsageError(f"Inception mode {mode!r} is not one of {', '.join(MODES)}")
        self.net = load_fid_inception(path).to(device)
        self.sha256 = sha256_file(path or os.environ["AUGEN_INCEPTION_WEIGHTS"])
        self.id, self.mode, self.device = f"inception-{mode}-{self.sha256[:12]}", mode, device
        self.config = {"mode": mode}

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return {"features": self.net(preprocess(images, self.mode).to(self.device)).double().cpu().numpy()}
