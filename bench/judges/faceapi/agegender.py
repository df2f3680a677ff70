"""face-api's age/gender net (`ageGenderNet/`, on `xception/TinyXception.ts` with 2 main blocks) as a torch module.

    features  conv_in 3x3 s2 (3 -> 32, 112 -> 56) + relu
              reduction_block_0 (input not activated, 32 -> 64, 56 -> 28), reduction_block_1 (64 -> 128, 28 -> 14)
              main_block_0, main_block_1 (128, 14)
              exit reduction_block (128 -> 256, 14 -> 7), separable_conv 256 -> 512 + relu
    head      avgPool 7x7 s2 'valid' -> 512; fc/age 512 -> 1 (years, no activation), fc/gender 512 -> 2 (logits;
              the softmax gives [male, female], index 0 = male)

A reduction block is sep0(relu?(x)) -> relu -> sep1 -> maxPool 3x3 s2 'same' (padding ignored: -inf), plus a 1x1
stride-2 conv of the un-activated x (`expansion_conv`); a main block is x + sep2(relu(sep1(relu(sep0(relu(x)))))).
face-api's `predictAgeAndGender` calls a face male when p[0] > 0.5 (`AgeGenderNet.ts:66-70`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.judges.faceapi.nets import Conv, FaceApiNet, FullyConnected, SeparableConv, same_padding

GENDERS = ("male", "female")  # the gender softmax's order (ageGenderNet/types.ts: Gender)


def max_pool_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """tf.maxPool with padding 'same' on NCHW: TF's asymmetric padding, padded cells never win (-inf)."""
    (top, bottom), (left, right) = (same_padding(x.shape[d], kernel, stride) for d in (2, 3))
    return F.max_pool2d(F.pad(x, (left, right, top, bottom), value=float("-inf")), kernel, stride)


class ReductionBlock(nn.Module):
    """`reductionBlock` (TinyXception.ts:16-23): halves H and W, cin -> cout channels."""

    def __init__(self, cin: int, cout: int, activate_input: bool = True):
        super().__init__()
        self.activate_input = activate_input
        self.separable_conv0 = SeparableConv(cin, cout)
        self.separable_conv1 = SeparableConv(cout, cout)
        self.expansion_conv = Conv(cin, cout, kernel=1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.separable_conv0(F.relu(x) if self.activate_input else x)
        out = max_pool_same(self.separable_conv1(F.relu(out)), 3, 2)  # (B, cout, H/2, W/2)
        return out + self.expansion_conv(x)


class MainBlock(nn.Module):
    """`mainBlock` (TinyXception.ts:25-31): three relu -> separable convs, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.separable_conv0 = SeparableConv(channels, channels)
        self.separable_conv1 = SeparableConv(channels, channels)
        self.separable_conv2 = SeparableConv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.separable_conv0(F.relu(x))
        out = self.separable_conv1(F.relu(out))
        return self.separable_conv2(F.relu(out)) + x


class TinyXception(nn.Module):
    """(B, 3, 112, 112) normalized face crop -> (B, 512, 7, 7) features (`TinyXception.forwardInput`)."""

    def __init__(self, main_blocks: int = 2):
        super().__init__()
        self.entry_flow = nn.Module()
        self.entry_flow.conv_in = Conv(3, 32, kernel=3, stride=2)
        self.entry_flow.reduction_block_0 = ReductionBlock(32, 64, activate_input=False)
        self.entry_flow.reduction_block_1 = ReductionBlock(64, 128)
        self.middle_flow = nn.Module()
        for i in range(main_blocks):
            setattr(self.middle_flow, f"main_block_{i}", MainBlock(128))
        self.main_blocks = main_blocks
        self.exit_flow = nn.Module()
        self.exit_flow.reduction_block = ReductionBlock(128, 256)
        self.exit_flow.separable_conv = SeparableConv(256, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.entry_flow.conv_in(x))  # (B, 32, 56, 56)
        out = self.entry_flow.reduction_block_0(out)  # (B, 64, 28, 28)
        out = self.entry_flow.reduction_block_1(out)  # (B, 128, 14, 14)
        for i in range(self.main_blocks):
            out = getattr(self.middle_flow, f"main_block_{i}")(out)
        out = self.exit_flow.reduction_block(out)  # (B, 256, 7, 7)
        return F.relu(self.exit_flow.separable_conv(out))  # (B, 512, 7, 7)


class AgeGenderNet(FaceApiNet):
    """face-api's age/gender net: (B, 3, 112, 112) from `preprocess.face_input` -> (age (B,), gender logits (B, 2));
    `predict` applies the softmax face-api reports (columns in `GENDERS` order)."""

    MODEL = "age_gender_model"

    def __init__(self):
        super().__init__()
        self.features = TinyXception(main_blocks=2)
        self.fc = nn.Module()
        self.fc.age = FullyConnected(512, 1)
        self.fc.gender = FullyConnected(512, len(GENDERS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.avg_pool2d(self.features(x), 7, 2).flatten(1)  # (B, 512)
        return self.fc.age(pooled)[:, 0], self.fc.gender(pooled)  # (B,) years, (B, 2) logits

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(age (B,), gender probabilities (B, 2): [male, female])."""
        age, logits = self.forward(x)
        return age, torch.softmax(logits, dim=1)
