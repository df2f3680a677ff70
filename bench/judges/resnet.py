"""ResNet building blocks with torchvision's module names, shared by the judges that load torchvision-trained files.

`ResNetTrunk(blocks)` is conv1/bn1/layer1-4 (BasicBlocks) -> global-average-pooled features; (2, 2, 2, 2) is
ResNet18 (LibreFace), (3, 4, 6, 3) is ResNet34 (FairFace); `bottleneck=True` with (3, 4, 6, 3) is ResNet50
(torchvision's v1.5: the stride on the 3x3 conv), the downstream recognizers' pretrained backbone. Parameter and
buffer names are torchvision's
(`layer2.0.downsample.0.weight` ...), so a torchvision state dict loads strictly. Plain torch: no torchvision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and a residual; a 1x1 `downsample` when the stride or width changes."""

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


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand (x4), each with batch norm, and a residual; a 1x1
    `downsample` when the stride or width changes."""

    expansion = 4

    def __init__(self, cin: int, mid: int, stride: int):
        super().__init__()
        cout = mid * self.expansion
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNetTrunk(nn.Module):
    """ResNet with torchvision's module names (conv1, bn1, layer1-4): image -> pooled features. BasicBlocks, or
    Bottlenecks with `bottleneck=True`."""

    def __init__(self, blocks: tuple[int, ...] = (3, 4, 6, 3), width: int = 64, bottleneck: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for i, n in enumerate(blocks, 1):
            mid, stride = width * 2 ** (i - 1), 1 if i == 1 else 2
            if bottleneck:
                cout = mid * Bottleneck.expansion
                layers = [Bottleneck(cin, mid, stride)] + [Bottleneck(cout, mid, 1) for _ in range(n - 1)]
            else:
                cout = mid
                layers = [BasicBlock(cin, cout, stride)] + [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layers))
            cin = cout
        self.out_dim = cin

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, out_dim) pooled features."""
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
