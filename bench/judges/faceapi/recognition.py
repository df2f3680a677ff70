"""face-api's 128-d face recognition net (`faceRecognitionNet/`, dlib's ResNet-34-style metric net) as a torch module.

    input     `preprocess.face_input(crops, size=RECOGNITION_SIZE)`: the same protocol as the 112 px nets at 150 px
              (pad to a square, legacy bilinear resize, minus MEAN_RGB, / 255; `FaceRecognitionNet.ts:25-28`)
    conv32_down   7x7 s2 'valid' 3 -> 32 + relu (150 -> 72), maxPool 3x3 s2 'valid' (72 -> 35)
    conv32_1..3   residual, 32 @ 35
    conv64_down   residualDown 32 -> 64 (35 -> 17), conv64_1..3 residual
    conv128_down  residualDown 64 -> 128 (17 -> 8), conv128_1..2 residual
    conv256_down  residualDown 128 -> 256 (8 -> 3 conv / 4 pooled), conv256_1..2 residual (4)
    conv256_down_out  residualDown 256 -> 256 (4 -> 1 conv / 2 pooled)
    head      mean over H, W (2x2 -> 256), `x @ fc` (256 -> 128, no bias); no L2 normalisation

Every conv layer (`convLayer.ts`) is conv + bias, then the per-channel scale layer `x * scale/weights + scale/biases`
(`scaleLayer.ts`), then relu unless it is `convNoRelu`; stride-1 convs are 3x3 'same', `convDown` is 3x3 (7x7 in
conv32_down) stride 2 'valid'. `residual(x) = relu(convNoRelu(conv(x)) + x)`; `residualDown` (`residualLayer.ts`)
adds the conv branch `convNoRelu(convDown(x))` to `avgPool(x, 2, 2, 'valid')`: where the conv branch is one smaller
(odd 'valid' sizes) it gets a zero row at the bottom and a zero column at the right, and where the channels double,
zero channels are appended after the pooled ones.

Descriptors are compared by Euclidean distance (`euclideanDistance.ts`); face-api's `FaceMatcher` calls two faces the
same person below `SAME_PERSON_DISTANCE` (`globalApi/FaceMatcher.ts:10`). face-api's pipeline feeds the crop of the
dlib-aligned rect (`FaceLandmarks.alignDlib`, `ComputeFaceDescriptorsTasks.ts:31`); the crop is cut by `pipeline.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.judges.faceapi.nets import FaceApiNet, conv2d_same

RECOGNITION_SIZE = 150  # the net's input size (toBatchTensor(150, true))
DESCRIPTOR_SIZE = 128
SAME_PERSON_DISTANCE = 0.6  # FaceMatcher's default distanceThreshold


class ConvParams(nn.Module):
    """`conv/filters` (torch layout (out, in, k, k)) and `conv/bias`."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.filters = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))


class ScaleParams(nn.Module):
    """`scale/weights`, `scale/biases`: a per-channel affine (a folded batch norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(channels))
        self.biases = nn.Parameter(torch.zeros(channels))


class ConvLayer(nn.Module):
    """`convLayer` (convLayer.ts): conv + bias, then x * scale/weights + scale/biases, then relu if `relu`; stride 1
    pads 'same', stride 2 ('convDown') is 'valid'."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, relu: bool = True):
        super().__init__()
        self.stride, self.relu = stride, relu
        self.conv = ConvParams(cin, cout, kernel)
        self.scale = ScaleParams(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            out = conv2d_same(x, self.conv.filters, self.conv.bias, 1)
        else:
            out = F.conv2d(x, self.conv.filters, self.conv.bias, self.stride)  # 'valid'
        out = out * self.scale.weights[:, None, None] + self.scale.biases[:, None, None]
        return F.relu(out) if self.relu else out


class Residual(nn.Module):
    """`residual` (residualLayer.ts:6-12), or with `down` `residualDown` (residualLayer.ts:14-44)."""

    def __init__(self, cin: int, cout: int, down: bool = False):
        super().__init__()
        self.down = down
        self.conv1 = ConvLayer(cin, cout, stride=2 if down else 1)
        self.conv2 = ConvLayer(cout, cout, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if not self.down:
            return F.relu(out + x)
        pooled = F.avg_pool2d(x, 2, 2)  # 'valid': floor(H / 2)
        rows, cols = pooled.shape[2] - out.shape[2], pooled.shape[3] - out.shape[3]
        if rows or cols:  # face-api appends exactly one zero row (bottom) and column (right)
            out = F.pad(out, (0, cols, 0, rows))
        if pooled.shape[1] != out.shape[1]:  # zero channels after the pooled ones
            pooled = torch.cat([pooled, torch.zeros_like(pooled)], dim=1)
        return F.relu(pooled + out)


# (name, in channels, out channels, residualDown?) in FaceRecognitionNet.forwardInput's order
BLOCKS = (
    ("conv32_1", 32, 32, False), ("conv32_2", 32, 32, False), ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True), ("conv64_1", 64, 64, False), ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True), ("conv128_1", 128, 128, False), ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True), ("conv256_1", 256, 256, False), ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


class FaceRecognitionNet(FaceApiNet):
    """face-api's face descriptor net: (B, 3, 150, 150) from `face_input(crops, size=RECOGNITION_SIZE)` -> (B, 128)
    descriptors (not normalised; compare with `euclidean_distance`)."""

    MODEL = "face_recognition_model"

    def __init__(self):
        super().__init__()
        self.conv32_down = ConvLayer(3, 32, kernel=7, stride=2)
        for name, cin, cout, down in BLOCKS:
            setattr(self, name, Residual(cin, cout, down))
        self.fc = nn.Parameter(torch.zeros(DESCRIPTOR_SIZE, 256))  # (out, in): the TF [256, 128] transposed

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 150, 150) -> the last residualDown's output, (B, 256, 2, 2)."""
        out = F.max_pool2d(self.conv32_down(x), 3, 2)  # (B, 32, 35, 35)
        for name, *_ in BLOCKS:
            out = getattr(self, name)(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.feature_maps(x).mean(dim=(2, 3)), self.fc)  # (B, 128)


def euclidean_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance of descriptors (..., 128) in float64, as face-api's `euclideanDistance` sums in JS doubles."""
    return (a.double() - b.double()).pow(2).sum(dim=-1).sqrt()
