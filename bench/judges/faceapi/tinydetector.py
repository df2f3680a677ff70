"""face-api's tiny face detector (`tinyFaceDetector/`, a `TinyYolov2Base` with separable convs) as a torch module,
with face-api's YOLO decoding, its NMS and the mapping back to image pixels.

    input    `preprocess.tiny_detector_input`: zero-pad bottom/right to a square, TF legacy bilinear to input_size
             (416 by default, a multiple of 32), minus MEAN_RGB [117.001, 114.697, 97.404], / 255
    net      `TinyYolov2Base.runMobilenet` (isFirstLayerConv2d, 7 filter sizes, so no conv6/conv7): conv0 3x3
             'valid' + bias (416 -> 414) + leaky; maxPool 2x2 s2 'same' (-> 207); conv1-conv5, each an explicit
             pad 1 + separable 3x3 'valid' + bias + leaky (16 -> 32 -> 64 -> 128 -> 256 -> 512), each but the last
             followed by maxPool 2x2 s2 'same' (207 -> 104 -> 52 -> 26 -> 13); after conv5 maxPool 2x2 stride 1
             'same' (pad bottom/right by 1 with -inf, 13 -> 13); conv8 1x1 + bias, 512 -> 25, no activation
    leaky    `tinyYolov2/leaky.ts`: m = x * float32(0.1); relu(x - m) + m
    output   (B, S, S, 25), S = input_size / 32, NHWC as face-api; per cell 5 anchors x [tx, ty, tw, th, score logit]

`extract_boxes` is `TinyYolov2Base.extractBoxes` (`:162-220`) in JS doubles on the float32 grid: score =
1 / (1 + exp(-logit)), kept if > score_threshold; ctX = (col + sigmoid(tx)) / S * cfX, w = exp(tw) * anchor.x / S *
cfX (likewise y), cf = input_size / reshaped side with reshaped = round(side * input_size / max(H, W)) (the rounded
size, as in the SSD port); candidates in (row, col, anchor) order. `non_max_suppression` is `ops/nonMaxSuppression.ts`
(not the SSD one): scores sorted ascending (stable) and popped from the end, so ties take the **later** candidate
first; the others are dropped unless IoU <= 0.4 (a NaN IoU drops); IoU on the boxes scaled by input_size
(`box.rescale(inputSize)`), x/y/width/height form, no zero-area guard; no max results, no clipping. `image_boxes`
maps the kept boxes to pixels as `ObjectDetection` + `FaceDetection` do: x * W, then * (1 / W), then * W (three
roundings), width = ((x + w) - x) (the `BoundingBox`'s), likewise; boxes may extend beyond the image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.judges.faceapi.detector import Detection, js_round
from bench.judges.faceapi.nets import FaceApiNet, SeparableConv, same_padding
from bench.judges.faceapi.preprocess import tiny_detector_input

INPUT_SIZE = 416  # TinyYolov2Options default
SCORE_THRESHOLD = 0.5  # TinyYolov2Options default
IOU_THRESHOLD = 0.4  # tinyFaceDetector/const.ts
MEAN_RGB = (117.001, 114.697, 97.404)  # tinyFaceDetector/const.ts
ANCHORS = ((1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857),
           (9.041765, 10.66308))  # (x, y) in grid cells, tinyFaceDetector/const.ts
CHANNELS = (16, 32, 64, 128, 256, 512)  # outputs of conv0..conv5 (filterSizes [3, 16, ..., 512])
BOX_ENCODING = 5  # tx, ty, tw, th, score logit (one class: no class scores)
LEAKY_SLOPE = 0.10000000149011612  # float32(0.1), leaky.ts


def leaky(x: torch.Tensor) -> torch.Tensor:
    """`tinyYolov2/leaky.ts`: relu(x - 0.1x) + 0.1x, in face-api's float32 op order."""
    m = x * LEAKY_SLOPE
    return F.relu(x - m) + m


def max_pool_same(x: torch.Tensor, stride: int) -> torch.Tensor:
    """tf.maxPool(x, [2, 2], stride, 'same'): the padding (after, when odd) is -inf, so it never wins."""
    (top, bottom), (left, right) = (same_padding(x.shape[d], 2, stride) for d in (2, 3))
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=-math.inf)
    return F.max_pool2d(x, 2, stride)


class ConvLayer(nn.Module):
    """`common/convLayer` with 'valid' padding: conv + bias (`filters`, `bias`), no activation."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.filters = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))  # (out, in, kh, kw)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.filters, self.bias)


class TinyFaceDetector(FaceApiNet):
    """face-api's tiny face detector: (B, 3, S*32, S*32) from `preprocess.tiny_detector_input` -> the raw grid
    (B, S, S, 25) (NHWC, 5 anchors x [tx, ty, tw, th, score logit]); `detect` gives the faces in image pixels."""

    MODEL = "tiny_face_detector_model"

    def __init__(self):
        super().__init__()
        self.conv0 = ConvLayer(3, CHANNELS[0], 3)
        for i in range(1, len(CHANNELS)):
            setattr(self, f"conv{i}", SeparableConv(CHANNELS[i - 1], CHANNELS[i]))  # pad 1 + 3x3 'valid' = 'same'
        self.conv8 = ConvLayer(CHANNELS[-1], len(ANCHORS) * BOX_ENCODING, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = max_pool_same(leaky(self.conv0(x)), 2)  # 'valid': 416 -> 414 -> 207
        for i in range(1, len(CHANNELS)):
            out = leaky(getattr(self, f"conv{i}")(out))
            out = max_pool_same(out, 2 if i < len(CHANNELS) - 1 else 1)  # 104, 52, 26, 13; then 13 (stride 1)
        return self.conv8(out).permute(0, 2, 3, 1)  # (B, S, S, 25)

    def detect(self, images: list[np.ndarray] | np.ndarray, input_size: int = INPUT_SIZE,
               score_threshold: float = SCORE_THRESHOLD) -> list[list[Detection]]:
        """Images, each uint8 RGB (H, W, 3) of any size -> per image its faces (box in image pixels, score), in
        face-api's NMS order (best first), as `faceapi.detectAllFaces(image, new TinyFaceDetectorOptions({inputSize,
        scoreThreshold}))`. One image (a single (H, W, 3) array) gives a list of one list."""
        if input_size <= 0 or input_size % 32:
            raise ValueError(f"detect: input_size must be a positive multiple of 32, got {input_size}")
        if not 0 < score_threshold < 1:
            raise ValueError(f"detect: score_threshold must be in (0, 1), got {score_threshold}")
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        with torch.no_grad():
            grids = self.forward(tiny_detector_input(images, input_size, MEAN_RGB))
        faces = []
        for grid, image in zip(grids, images):
            boxes, scores = extract_boxes(grid.numpy(), image.shape[:2], input_size, score_threshold)
            keep = non_max_suppression(boxes, scores, input_size, IOU_THRESHOLD)
            faces.append(image_boxes(boxes, scores, keep, image.shape[:2]))
        return faces


def _sigmoid(x: float) -> float:
    """ops/index.ts sigmoid, in JS doubles."""
    return 1 / (1 + math.exp(-x))


def extract_boxes(grid: np.ndarray, image_hw: tuple[int, int], input_size: int = INPUT_SIZE,
                  score_threshold: float = SCORE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """One raw grid (S, S, 25) float32 -> candidates' relative boxes (n, 4) [x, y, width, height] (width =
    (x + w) - x, as `BoundingBox` stores it) and scores (n,), float64 as `TinyYolov2Base.extractBoxes` computes them,
    in (row, col, anchor) order."""
    height, width = image_hw
    scale = input_size / max(height, width)
    reshaped_w, reshaped_h = js_round(width * scale), js_round(height * scale)
    side = max(reshaped_w, reshaped_h)
    cf_x, cf_y = side / reshaped_w, side / reshaped_h
    cells = grid.shape[0]
    cells_anchors = grid.reshape(cells, cells, len(ANCHORS), BOX_ENCODING).astype(np.float64).tolist()
    boxes, scores = [], []
    for row in range(cells):
        for col in range(cells):
            for a, (anchor_x, anchor_y) in enumerate(ANCHORS):
                tx, ty, tw, th, logit = cells_anchors[row][col][a]
                score = _sigmoid(logit)
                if not score > score_threshold:
                    continue
                ct_x = ((col + _sigmoid(tx)) / cells) * cf_x
                ct_y = ((row + _sigmoid(ty)) / cells) * cf_y
                w = ((math.exp(tw) * anchor_x) / cells) * cf_x
                h = ((math.exp(th) * anchor_y) / cells) * cf_y
                x, y = ct_x - w / 2, ct_y - h / 2
                boxes.append((x, y, (x + w) - x, (y + h) - y))
                scores.append(score)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """`ops/iou.ts` (isIOU) on two [x, y, width, height] boxes, JS doubles; no guard (0 / 0 is NaN)."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    if union == 0:
        return math.nan if inter == 0 else math.copysign(math.inf, inter)
    return inter / union


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, input_size: int = INPUT_SIZE,
                        iou_threshold: float = IOU_THRESHOLD) -> list[int]:
    """`ops/nonMaxSuppression.ts` on relative [x, y, width, height] boxes (n, 4) and scores (n,) -> the kept
    indices in pick order: highest score first, ties the **later** index first (stable ascending sort, popped from
    the end); after each pick the rest keep only boxes with IoU <= iou_threshold (NaN drops). IoU on the boxes
    times input_size, as `box.rescale(inputSize)`."""
    scaled = [tuple(float(v) * input_size for v in box) for box in boxes]
    order = sorted(range(len(scores)), key=lambda i: scores[i])  # stable ascending
    pick: list[int] = []
    while order:
        curr = order.pop()
        pick.append(curr)
        order = [i for i in order if box_iou(scaled[curr], scaled[i]) <= iou_threshold]
    return pick


def image_boxes(boxes: np.ndarray, scores: np.ndarray, keep: list[int], image_hw: tuple[int, int]) -> list[Detection]:
    """Kept relative boxes [x, y, width, height] -> detections in pixels of an image (H, W), in JS doubles as
    `ObjectDetection` (relative * W), its `relativeBox` (* (1 / W)) and `FaceDetection` (* W) leave them; no
    clipping."""
    height, width = image_hw
    faces = []
    for i in keep:
        x, y, w, h = (float(v) for v in boxes[i])
        px = [x * width, y * height, w * width, h * height]
        rel = [px[0] * (1 / width), px[1] * (1 / height), px[2] * (1 / width), px[3] * (1 / height)]
        faces.append(Detection(rel[0] * width, rel[1] * height, rel[2] * width, rel[3] * height, float(scores[i])))
    return faces
