"""face-api's networks as torch modules, loading the decoded TF.js weights (bench/judges/faceapi/tfjs.py).

Building blocks shared by the nets: TF 'same' padding (asymmetric: a stride-2 3x3 conv on an even input pads 0
before and 1 after, where torch's padding=1 would shift every feature), the separable conv with bias
(`common/depthwiseSeparableConv.ts`), the dense blocks and the 112 px face feature extractor
(`faceFeatureExtractor/`, full and tiny), the fully connected layer and `FaceApiNet`, the base that loads a net from
its manifest. Networks: the 7-class expression net (`faceExpressionNet/`) here; the 68-point landmark nets in
`landmarks.py`, the age/gender net in `agegender.py`.

Parameters carry the TF.js names ('/' -> '.'), in torch layouts, so `load_tfjs` maps a decoded manifest onto a
module strictly: conv [kh, kw, in, out] -> [out, in, kh, kw], depthwise [kh, kw, in, 1] -> [in, 1, kh, kw],
dense [in, out] -> [out, in]. Activations are NCHW here (NHWC in tfjs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.errors import DataError
from bench.judges.faceapi.tfjs import load_weights, manifest_path

NetT = TypeVar("NetT", bound="FaceApiNet")
EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")  # FaceExpressions.ts:1


#: Batch sizes the nets run at on the CPU: measured on 2 cores, a batch of 6 images at 512 px takes the SSD 2.9x as
#: long as 6 single images (its depthwise convolutions leave the caches), while the 112-150 px nets are fastest in
#: chunks of 8 (a batch of 32: 1.1-2.8x slower). Results do not depend on it beyond float rounding.
DETECTOR_CHUNK, FACE_CHUNK = 1, 8


def chunked(fn, x: torch.Tensor, size: int):
    """fn on x[0:size], x[size:2 size], ... concatenated along the batch (a tensor or a tuple of tensors)."""
    parts = [fn(x[i:i + size]) for i in range(0, len(x), size)] if len(x) else [fn(x)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat([p[k] for p in parts]) for k in range(len(parts[0])))
    return torch.cat(parts)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'same' padding along one axis: (before, after); the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_same(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int,
                groups: int = 1) -> torch.Tensor:
    """tf.conv2d / tf.depthwiseConv2d with padding 'same' on NCHW input (torch weight layout)."""
    (top, bottom), (left, right) = (same_padding(x.shape[d], weight.shape[d], stride) for d in (2, 3))
    if top == bottom and left == right:
        return F.conv2d(x, weight, bias, stride, (top, left), groups=groups)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, groups=groups)


class Conv(nn.Module):
    """A full conv + bias, TF 'same' padding (`filters`, `bias`)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.filters = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))  # (out, in, kh, kw)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv2d_same(x, self.filters, self.bias, self.stride)


class SeparableConv(nn.Module):
    """tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias, no activation (depthwiseSeparableConv.ts)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise_filter = nn.Parameter(torch.zeros(cin, 1, 3, 3))  # (in, 1, kh, kw), groups = in
        self.pointwise_filter = nn.Parameter(torch.zeros(cout, cin, 1, 1))  # (out, in, 1, 1)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = conv2d_same(x, self.depthwise_filter, None, self.stride, groups=x.shape[1])
        return F.conv2d(x, self.pointwise_filter, self.bias)


class DenseBlock(nn.Module):
    """denseBlock4 / denseBlock3 (`faceFeatureExtractor/denseBlock.ts`): conv0 halves the size (a full conv in the
    first block, separable after), conv1.. are separable; each conv sees the relu of the sum of all before it."""

    def __init__(self, cin: int, cout: int, first: bool, convs: int = 4):
        super().__init__()
        self.conv0 = Conv(cin, cout, 3, 2) if first else SeparableConv(cin, cout, 2)
        for i in range(1, convs):
            setattr(self, f"conv{i}", SeparableConv(cout, cout))
        self.n_convs = convs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [F.relu(self.conv0(x))]  # out1: (B, cout, H/2, W/2)
        for i in range(1, self.n_convs):
            outs.append(getattr(self, f"conv{i}")(outs[0] if i == 1 else F.relu(_sum_from_right(outs))))
        return F.relu(_sum_from_right(outs))


def _sum_from_right(tensors: list[torch.Tensor]) -> torch.Tensor:
    """out1 + (out2 + (out3 + ...)): face-api's order of the float32 additions."""
    total = tensors[-1]
    for t in reversed(tensors[:-1]):
        total = t + total
    return total


@dataclass(frozen=True)
class FeatureExtractorConfig:
    """face-api's face feature extractor (`FaceFeatureExtractor.ts`, tiny: `TinyFaceFeatureExtractor.ts`)."""

    channels: tuple[int, ...] = (32, 64, 128, 256)  # output channels of dense0, dense1, ...; each halves H and W
    convs_per_block: int = 4  # 4: denseBlock4 (full nets), 3: denseBlock3 (the tiny landmark net)
    pool: int = 7  # the final avgPool kernel ('valid', stride 2): 112 px / 2**len(channels)


class FaceFeatureExtractor(nn.Module):
    """(B, 3, 112, 112) normalized face crop -> (B, channels[-1]) features (dense blocks, then the average pool)."""

    def __init__(self, cfg: FeatureExtractorConfig = FeatureExtractorConfig()):
        super().__init__()
        self.cfg = cfg
        cin = 3
        for i, cout in enumerate(cfg.channels):
            setattr(self, f"dense{i}", DenseBlock(cin, cout, first=i == 0, convs=cfg.convs_per_block))
            cin = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(len(self.cfg.channels)):
            x = getattr(self, f"dense{i}")(x)  # (B, channels[i], 112 / 2**(i+1), ...)
        return F.avg_pool2d(x, self.cfg.pool, 2).flatten(1)  # (B, channels[-1]) for a 7x7 map


class FullyConnected(nn.Module):
    """x @ weights + bias (`common/fullyConnectedLayer.ts`)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(cout, cin))  # (out, in): the TF [in, out] transposed
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weights, self.bias)


class FaceApiNet(nn.Module):
    """A face-api network whose parameters carry its TF.js weight names: `from_folder` builds it with the weights of
    `<model_dir>/<MODEL>-weights_manifest.json`. A feature extractor sits under `features` (its TF.js names are at
    the top level, as face-api's `seperateWeightMaps` splits them)."""

    MODEL: str = ""

    def tfjs_name(self, key: str) -> str:
        """torch state-dict key -> TF.js weight name."""
        return key.removeprefix("features.").replace(".", "/")

    @classmethod
    def from_folder(cls: type[NetT], model_dir: str | Path) -> NetT:
        """The net with the weights of `<model_dir>/<cls.MODEL>-weights_manifest.json` (eval mode)."""
        net = cls()
        load_tfjs(net, load_weights(model_dir, cls.MODEL), manifest_path(model_dir, cls.MODEL))
        return net.eval()


class FaceExpressionNet(FaceApiNet):
    """face-api's 7-class expression net: (B, 3, 112, 112) from `preprocess.face_input` -> (B, 7) logits;
    `probabilities` applies the softmax face-api reports (classes in `EXPRESSIONS` order)."""

    MODEL = "face_expression_model"

    def __init__(self):
        super().__init__()
        self.features = FaceFeatureExtractor()
        self.fc = FullyConnected(256, len(EXPRESSIONS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))  # (B, 7) logits

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward(x), dim=1)  # (B, 7)


def tf_to_torch_layout(name: str, array: np.ndarray) -> np.ndarray:
    """A TF.js tensor in the layout of the torch parameter of the same name."""
    if array.ndim == 4:  # depthwise [kh, kw, in, 1] -> [in, 1, kh, kw]; conv [kh, kw, in, out] -> [out, in, kh, kw]
        return array.transpose(2, 3, 0, 1) if "depthwise" in name else array.transpose(3, 2, 0, 1)
    if array.ndim == 2:  # dense [in, out] -> [out, in]
        return array.T
    return array


def load_tfjs(net: nn.Module, weights: dict[str, np.ndarray], where: str | Path) -> None:
    """Copy decoded TF.js `weights` into `net`'s parameters by name (`net.tfjs_name(key)`); every parameter needs
    its tensor and shape, and every tensor its parameter (DataError naming `where` and the weight otherwise)."""
    state = net.state_dict()
    names = {net.tfjs_name(key): key for key in state}
    unused = sorted(set(weights) - set(names))
    missing = sorted(set(names) - set(weights))
    if unused or missing:
        raise DataError(where, f"weights do not fit {type(net).__name__}: missing {missing[:3]}, unused {unused[:3]}")
    loaded = {}
    for name, key in names.items():
        array = tf_to_torch_layout(name, weights[name])
        if tuple(array.shape) != tuple(state[key].shape):
            raise DataError(where, f"weight {name!r}: shape {list(weights[name].shape)} does not fit "
                                   f"{list(state[key].shape)} (torch layout)")
        loaded[key] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    net.load_state_dict(loaded, strict=True)
