"""face-api's SSD MobileNetV1 face detector (`ssdMobilenetv1/`) as a torch module, with face-api's decoding, NMS and
mapping back to image pixels.

    input      `preprocess.detector_input`: zero-pad bottom/right to a square, TF legacy bilinear to 512, x/127.5 - 1
    backbone   MobileNetV1 (`mobileNetV1.ts`): Conv2d_0 a full 3x3 s2 conv (3 -> 32, 512 -> 256); 13 pairs of a
               depthwise 3x3 (stride 2 in pairs 2, 4, 6, 12) + batch norm (not folded, eps float32 1e-3) + ReLU6 and
               a pointwise 1x1 (+ offset, ReLU6): 32 -> 64 -> 128 -> 128 -> 256 -> 256 -> 512 (x6) -> 1024 -> 1024;
               pair 11 gives `conv11` (B, 512, 32, 32), pair 13 the output (B, 1024, 16, 16)
    prediction `predictionLayer.ts`: 8 pointwise layers (1x1 or 3x3 s2, + offset, ReLU6) down to 1x1; 6 box
               predictors (1x1 conv + bias) on conv11, the output, and prediction convs 1, 3, 5, 7; their NHWC
               outputs concatenated: 3072 + 1536 + 384 + 96 + 24 + 6 = 5118 anchors
    output     per anchor 4 box encodings [ty, tx, th, tw] and 3 class logits; score = sigmoid(logit 1)

`decode_boxes` applies the encodings to the anchors stored in the weights (`Output/extra_dim`, [ymin, xmin, ymax,
xmax] relative to the padded square) with divisors 10, 10, 5, 5, op by op in float32 as `outputLayer.ts` does.
`non_max_suppression` is face-api's (`ssdMobilenetv1/nonMaxSuppression.ts`, not TF's): candidates with score >
min_confidence, sorted by score descending with ties kept in anchor order (V8's sort is stable), each kept unless its
IoU (of the unclipped boxes, in JS doubles) with a box kept before is > 0.5, at most `max_results`. `image_boxes`
maps kept boxes to image pixels as `locateFaces` does (`SsdMobilenetv1.ts:50-70`): clip to [0, 1], scale by
512 / round(side * 512 / max(H, W)) (the rounded size: a <= 0.15 % bias of face-api, copied), then by the image's
width and height, all in JS doubles. `detect` runs the whole chain, like `faceapi.detectAllFaces(image, new
SsdMobilenetv1Options({minConfidence}))`, on a batch of images.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.judges.faceapi.nets import DETECTOR_CHUNK, FaceApiNet, chunked, conv2d_same, load_tfjs
from bench.judges.faceapi.preprocess import detector_input
from bench.judges.faceapi.tfjs import load_weights, manifest_path

INPUT_SIZE = 512
N_ANCHORS = 5118
IOU_THRESHOLD = 0.5  # hard-coded in SsdMobilenetv1.locateFaces
BN_EPSILON = 0.0010000000474974513  # mobileNetV1.ts: float32(1e-3)
STRIDE2_PAIRS = (2, 4, 6, 12)  # the depthwise convs with stride 2 (mobileNetV1.ts:23-25)
PAIR_CHANNELS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)  # pointwise outputs of pairs 1-13
# prediction layer Conv2d_i_pointwise: (in, out, kernel, stride) (predictionLayer.ts:13-20)
PREDICTION_CONVS = ((1024, 256, 1, 1), (256, 512, 3, 2), (512, 128, 1, 1), (128, 256, 3, 2),
                    (256, 128, 1, 1), (128, 256, 3, 2), (256, 64, 1, 1), (64, 128, 3, 2))
# box predictor i: (input channels, anchors per cell); inputs conv11, the backbone output, prediction convs 1, 3, 5, 7
BOX_PREDICTORS = ((512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6))
# frozen-graph constants in the weights file that face-api never reads (disposeUnusedWeightTensors drops them)
GRAPH_CONSTANTS = re.compile(r"^(Preprocessor|Postprocessor|concat_1)/|/(stack|stack_1|strided_slice)(/|$)")


class Detection(NamedTuple):
    """One face: its box in image pixels (float64, as face-api's `FaceDetection.box`) and its score."""

    x: float
    y: float
    width: float
    height: float
    score: float


class PointwiseConv(nn.Module):
    """`pointwiseConvLayer`: conv2d 'same' (batch norm folded into the filters) + convolution_bn_offset, ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.weights = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))  # (out, in, kh, kw)
        self.convolution_bn_offset = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = conv2d_same(x, self.weights, None, self.stride) + self.convolution_bn_offset[:, None, None]
        return out.clamp(0, 6)


class BatchNorm(nn.Module):
    """tf.batchNorm in inference: beta + (x - moving_mean) * gamma / sqrt(moving_variance + eps)."""

    def __init__(self, channels: int):
        super().__init__()
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            setattr(self, name, nn.Parameter(torch.zeros(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gamma / torch.sqrt(self.moving_variance + BN_EPSILON)
        return self.beta[:, None, None] + (x - self.moving_mean[:, None, None]) * scale[:, None, None]


class DepthwiseConv(nn.Module):
    """`depthwiseConvLayer`: depthwise 3x3 'same' -> batch norm -> ReLU6."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.depthwise_weights = nn.Parameter(torch.zeros(channels, 1, 3, 3))  # (in, 1, kh, kw), groups = in
        self.BatchNorm = BatchNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = conv2d_same(x, self.depthwise_weights, None, self.stride, groups=x.shape[1])
        return self.BatchNorm(out).clamp(0, 6)


class MobileNetV1(nn.Module):
    """(B, 3, 512, 512) -> (conv11 (B, 512, 32, 32), out (B, 1024, 16, 16)); submodules named as the TF.js weights."""

    def __init__(self):
        super().__init__()
        self.Conv2d_0_pointwise = PointwiseConv(3, 32, kernel=3, stride=2)
        cin = 32
        for i, cout in enumerate(PAIR_CHANNELS, start=1):
            setattr(self, f"Conv2d_{i}_depthwise", DepthwiseConv(cin, 2 if i in STRIDE2_PAIRS else 1))
            setattr(self, f"Conv2d_{i}_pointwise", PointwiseConv(cin, cout))
            cin = cout

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.Conv2d_0_pointwise(x)  # (B, 32, 256, 256)
        conv11 = out
        for i in range(1, len(PAIR_CHANNELS) + 1):
            out = getattr(self, f"Conv2d_{i}_pointwise")(getattr(self, f"Conv2d_{i}_depthwise")(out))
            if i == 11:
                conv11 = out
        return conv11, out


class ConvLayer(nn.Module):
    """`common/convLayer`: a 1x1 conv + bias, no activation (`weights`, `biases`)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(cout, cin, 1, 1))
        self.biases = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weights) + self.biases[:, None, None]


class BoxPredictor(nn.Module):
    """(B, C, H, W) -> box encodings (B, H*W*A, 4), class logits (B, H*W*A, 3): reshaped from NHWC, so the anchor
    index is (row * W + col) * A + a."""

    def __init__(self, cin: int, anchors: int):
        super().__init__()
        self.BoxEncodingPredictor = ConvLayer(cin, 4 * anchors)
        self.ClassPredictor = ConvLayer(cin, 3 * anchors)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        boxes = self.BoxEncodingPredictor(x).permute(0, 2, 3, 1).reshape(batch, -1, 4)
        classes = self.ClassPredictor(x).permute(0, 2, 3, 1).reshape(batch, -1, 3)
        return boxes, classes


class PredictionLayer(nn.Module):
    """(conv11, out) -> box encodings (B, 5118, 4), class logits (B, 5118, 3) over the 6 predictors in order."""

    def __init__(self):
        super().__init__()
        for i, (cin, cout, kernel, stride) in enumerate(PREDICTION_CONVS):
            setattr(self, f"Conv2d_{i}_pointwise", PointwiseConv(cin, cout, kernel, stride))
        for i, (cin, anchors) in enumerate(BOX_PREDICTORS):
            setattr(self, f"BoxPredictor_{i}", BoxPredictor(cin, anchors))

    def forward(self, conv11: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        convs, x = [], out
        for i in range(len(PREDICTION_CONVS)):
            x = getattr(self, f"Conv2d_{i}_pointwise")(x)  # 16, 8, 8, 4, 4, 2, 2, 1 px
            convs.append(x)
        inputs = (conv11, out, convs[1], convs[3], convs[5], convs[7])
        preds = [getattr(self, f"BoxPredictor_{i}")(x) for i, x in enumerate(inputs)]
        return torch.cat([p[0] for p in preds], 1), torch.cat([p[1] for p in preds], 1)


class SsdMobilenetv1(FaceApiNet):
    """face-api's SSD MobileNetV1 face detector: (B, 3, 512, 512) from `preprocess.detector_input` -> (raw box
    encodings (B, 5118, 4) [ty, tx, th, tw], scores (B, 5118) = sigmoid of class logit 1); `detect` gives the faces
    in image pixels."""

    MODEL = "ssd_mobilenetv1_model"

    def __init__(self):
        super().__init__()
        self.MobilenetV1 = MobileNetV1()
        self.Prediction = PredictionLayer()
        self.Output = nn.Module()
        self.Output.register_buffer("extra_dim", torch.zeros(1, N_ANCHORS, 4))  # anchors [ymin, xmin, ymax, xmax]

    @classmethod
    def from_folder(cls, model_dir: str | Path) -> SsdMobilenetv1:
        """The net with the weights of `<model_dir>/ssd_mobilenetv1_model-weights_manifest.json`, leaving out the
        frozen graph's constants face-api never reads (eval mode)."""
        weights = {k: v for k, v in load_weights(model_dir, cls.MODEL).items() if not GRAPH_CONSTANTS.search(k)}
        net = cls()
        load_tfjs(net, weights, manifest_path(model_dir, cls.MODEL))
        return net.eval()

    @property
    def anchors(self) -> torch.Tensor:
        return self.Output.extra_dim[0]  # (5118, 4)

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, 512, 512) -> raw box encodings (B, 5118, 4), class logits (B, 5118, 3)."""
        return self.Prediction(*self.MobilenetV1(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encodings, logits = self.logits(x)
        return encodings, torch.sigmoid(logits[..., 1])  # (B, 5118, 4), (B, 5118)

    def detect(self, images: list[np.ndarray] | np.ndarray, min_confidence: float = 0.5,
               max_results: int = 100) -> list[list[Detection]]:
        """Images, each uint8 RGB (H, W, 3) of any size -> per image its faces (box in image pixels, score), best
        first, as `faceapi.detectAllFaces(image, new SsdMobilenetv1Options({minConfidence, maxResults}))`.
        One image (a single (H, W, 3) array) gives a list of one list."""
        if not 0 < min_confidence < 1:
            raise ValueError(f"detect: min_confidence must be in (0, 1), got {min_confidence}")
        if max_results < 1:  # face-api would read 0 as its default 100
            raise ValueError(f"detect: max_results must be >= 1, got {max_results}")
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        with torch.no_grad():
            encodings, scores = chunked(self.forward, detector_input(images, INPUT_SIZE), DETECTOR_CHUNK)
        faces = []
        for i, image in enumerate(images):
            boxes = decode_boxes(encodings[i], self.anchors).double().numpy()  # float32 values as JS doubles
            score = scores[i].double().numpy()
            keep = non_max_suppression(boxes, score, max_results, IOU_THRESHOLD, min_confidence)
            faces.append(image_boxes(boxes, score, keep, image.shape[:2], INPUT_SIZE))
        return faces


def decode_boxes(encodings: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Raw encodings (N, 4) [ty, tx, th, tw] on anchors (N, 4) [ymin, xmin, ymax, xmax] -> boxes (N, 4) [ymin,
    xmin, ymax, xmax] relative to the padded square, float32 op by op as `outputLayer.ts:decodeBoxesLayer`."""
    sizes = (anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1])
    centers = (anchors[:, 0] + sizes[0] / 2, anchors[:, 1] + sizes[1] / 2)
    half_h = torch.exp(encodings[:, 2] / 5) * sizes[0] / 2
    center_y = encodings[:, 0] / 10 * sizes[0] + centers[0]
    half_w = torch.exp(encodings[:, 3] / 5) * sizes[1] / 2
    center_x = encodings[:, 1] / 10 * sizes[1] + centers[1]
    return torch.stack([center_y - half_h, center_x - half_w, center_y + half_h, center_x + half_w], 1)


def box_iou(boxes: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
    """face-api's IOU (nonMaxSuppression.ts:3-22) of box i with each box in `others` (indices), float64: corners
    min/max-normalized, 0 when either area is <= 0."""
    def corners(b: np.ndarray) -> tuple[np.ndarray, ...]:
        return (np.minimum(b[..., 0], b[..., 2]), np.minimum(b[..., 1], b[..., 3]),
                np.maximum(b[..., 0], b[..., 2]), np.maximum(b[..., 1], b[..., 3]))

    ymin_i, xmin_i, ymax_i, xmax_i = corners(boxes[i])
    ymin_j, xmin_j, ymax_j, xmax_j = corners(boxes[others])
    area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i)
    area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j)
    inter = (np.maximum(np.minimum(ymax_i, ymax_j) - np.maximum(ymin_i, ymin_j), 0.0)
             * np.maximum(np.minimum(xmax_i, xmax_j) - np.maximum(xmin_i, xmin_j), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_i + area_j - inter)
    return np.where((area_i <= 0) | (area_j <= 0), 0.0, iou)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_results: int, iou_threshold: float,
                        min_score: float) -> list[int]:
    """face-api's SSD NMS on boxes (N, 4) and scores (N,), float64 -> the kept indices, best first: candidates with
    score > min_score in descending score order (ties: lower index first), each kept unless its IoU with an
    already kept box is > iou_threshold; at most min(max_results, N)."""
    limit = min(max_results, len(boxes))
    candidates = [int(i) for i in np.flatnonzero(scores > min_score)]
    candidates.sort(key=lambda i: -scores[i])  # stable: equal scores keep index order, as V8's sort
    kept: list[int] = []
    for i in candidates:
        if len(kept) >= limit:
            break
        iou = box_iou(boxes, i, np.array(kept, dtype=np.int64))
        if not ((iou != 0) & ~(iou <= iou_threshold)).any():  # a NaN IoU suppresses too, as in face-api
            kept.append(i)
    return kept


def js_round(x: float) -> int:
    """JS Math.round: halves up."""
    return math.floor(x + 0.5)


def image_boxes(boxes: np.ndarray, scores: np.ndarray, keep: list[int], image_hw: tuple[int, int],
                input_size: int = INPUT_SIZE) -> list[Detection]:
    """Kept relative boxes (N, 4) [ymin, xmin, ymax, xmax] -> detections in pixels of an image (H, W), in JS
    doubles as `locateFaces` + `FaceDetection` compute them: clip to [0, 1], times input_size / reshaped side
    (reshaped = round(side * input_size / max(H, W))), then times the image's width / height."""
    height, width = image_hw
    scale = input_size / max(height, width)
    pad_x = input_size / js_round(width * scale)
    pad_y = input_size / js_round(height * scale)
    faces = []
    for i in keep:
        top, bottom = max(0.0, boxes[i, 0]) * pad_y, min(1.0, boxes[i, 2]) * pad_y
        left, right = max(0.0, boxes[i, 1]) * pad_x, min(1.0, boxes[i, 3]) * pad_x
        faces.append(Detection(float(left * width), float(top * height), float((right - left) * width),
                               float((bottom - top) * height), float(scores[i])))
    return faces
