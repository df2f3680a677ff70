"""face-api's whole chain, `detectAllFaces(img).withFaceLandmarks().withFaceExpressions().withAgeAndGender()
.withFaceDescriptors()` (default SSD options, the full 68-point net), on our torch ports, with face-api's crop rules:

    detection     `SsdMobilenetv1.detect` (minConfidence 0.5, at most 100 faces): boxes in image pixels, float64
    landmarks     the detection box, `forSize` + `clipAtImageBorders` (`dom/extractFaceTensors.ts:28-29`: clip to the
                  image, then floor x, y, width and height each), cut and fed to the landmark net; the crop points are
                  shifted by the **unfloored** box origin (`factories/WithFaceLandmarks.ts:85-88`,
                  `FaceLandmarks.shiftBy`)
    aligned box   `landmarks.align()` = `alignMinBbox(0.2)` (`classes/FaceLandmarks.ts:122-125`): the landmarks'
                  bounding box padded by 20 % of its width and height (half on each side), turned into a relative
                  box and back (`WithFaceLandmarks.ts:89-94`); cut the same way for the expression and age/gender
                  nets (`globalApi/extractFacesAndComputeResults.ts:15`)
    dlib rect     `landmarks.align(null, {useDlibAlignment: true})` = `alignDlib` (`FaceLandmarks.ts:105-120`, used at
                  `globalApi/ComputeFaceDescriptorsTasks.ts:31`): eye and mouth centers, size = floor(mean eye-mouth
                  distance / 0.45), origin floor(max(0, center - (0.5, 0.43) x size)); clipped and cut for the
                  descriptor net

All arithmetic on boxes and points is in float64 op by op as face-api's JS does, so the crops are the same integers
whenever the boxes agree (they differ from face-api's by ~1e-4 px; a floor lying that close to an integer would flip).
Each network runs once on the batch of all crops of all images (face-api runs one crop at a time). Not copied: a
clipped crop of zero width or height makes face-api drop it from its crop list and misalign the later faces' results;
`analyse` raises instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.judges.faceapi.agegender import GENDERS, AgeGenderNet
from bench.judges.faceapi.detector import Detection, SsdMobilenetv1
from bench.judges.faceapi.landmarks import INPUT_SIZE, FaceLandmark68Net, crop_points, relative_landmarks
from bench.judges.faceapi.nets import EXPRESSIONS, FACE_CHUNK, FaceExpressionNet, chunked
from bench.judges.faceapi.preprocess import face_input
from bench.judges.faceapi.recognition import RECOGNITION_SIZE, FaceRecognitionNet

MIN_BOX_PADDING = 0.2  # FaceLandmarks.align's default minBoxPadding
DLIB_REL_X, DLIB_REL_Y, DLIB_REL_SCALE = 0.5, 0.43, 0.45  # FaceLandmarks.ts:11-13
LEFT_EYE, RIGHT_EYE, MOUTH = slice(36, 42), slice(42, 48), slice(48, 68)  # FaceLandmarks68.ts


@dataclass
class Located:
    """One face found with its landmarks (`locate`). Rects are (x, y, width, height) in image pixels, float64."""

    box: tuple[float, float, float, float]  # detection.box
    score: float  # detection.score
    landmarks: np.ndarray  # (68, 2) float64 (x, y) image pixels: landmarks.positions
    aligned_box: tuple[float, float, float, float]  # alignedRect.box: the 20 % padded landmark box
    dlib_rect: tuple[float, float, float, float]  # the descriptor's aligned square (integers, before clipping)
    crops: tuple[tuple[int, int, int, int], ...]  # the rects cut: landmark net, expression + age/gender, descriptor


@dataclass
class Face(Located):
    """One face as face-api's whole chain reports it: `Located` and the three nets' outputs."""

    descriptor: np.ndarray  # (128,) float32, not normalised
    age: float  # years
    gender: str  # 'male' or 'female'
    gender_probability: float  # the probability of `gender`
    expressions: dict[str, float]  # EXPRESSIONS -> probability


def clip_at_image_borders(rect: tuple[float, float, float, float], width: int, height: int) -> tuple[int, ...]:
    """`Box.clipAtImageBorders` (`classes/Box.ts:134-145`): clip (x, y, w, h) to the image, then floor each."""
    x, y, w, h = rect
    right, bottom = x + w, y + h
    cx, cy = max(x, 0), max(y, 0)
    cw, ch = min(right - cx, width - cx), min(bottom - cy, height - cy)
    return tuple(math.floor(v) for v in (cx, cy, cw, ch))


def through_relative(rect: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """A FaceDetection's box after a round trip through its relative box (`ObjectDetection.relativeBox`, then
    `rescale(imageDims)`): x * (1 / W) * W, in JS doubles."""
    x, y, w, h = rect
    sx, sy = 1 / width, 1 / height
    return (x * sx * width, y * sy * height, w * sx * width, h * sy * height)


def shift_points(crop_pts: np.ndarray, crop_wh: tuple[int, int], origin: tuple[float, float]) -> np.ndarray:
    """`unshiftedLandmarks.shiftBy(x, y)`: (positions / crop size) * crop size + origin, float64 as JS."""
    wh = np.array(crop_wh, dtype=np.float64)
    return crop_pts / wh * wh + np.array(origin, dtype=np.float64)


def min_bbox_padded(points: np.ndarray, padding: float = MIN_BOX_PADDING) -> tuple[float, ...]:
    """`alignMinBbox`: `minBbox(positions)` (max starts at 0, min at Infinity) padded by `padding` x its size."""
    min_x, min_y = min(math.inf, *points[:, 0]), min(math.inf, *points[:, 1])
    max_x, max_y = max(0.0, *points[:, 0]), max(0.0, *points[:, 1])
    w, h = max_x - min_x, max_y - min_y
    pad_x, pad_y = w * padding, h * padding
    return (min_x - pad_x / 2, min_y - pad_y / 2, w + pad_x, h + pad_y)


def _center(points: np.ndarray) -> tuple[float, float]:
    """`getCenterPoint`: the points summed in order from (0, 0), divided by their count (JS doubles)."""
    sx = sy = 0.0
    for x, y in points:
        sx, sy = sx + float(x), sy + float(y)
    return sx / len(points), sy / len(points)


def align_dlib(points: np.ndarray, image_wh: tuple[float, float]) -> tuple[int, int, int, int]:
    """`FaceLandmarks.alignDlib` (`FaceLandmarks.ts:105-120`) on (68, 2) float64 image points -> the rect (x, y, w,
    h). `image_wh` is the landmarks' `imageWidth/imageHeight`: in face-api's chain the **landmark crop's** size (a
    shifted FaceLandmarks keeps its crop's dims), which only bounds the size by crop size + x."""
    centers = [_center(points[part]) for part in (LEFT_EYE, RIGHT_EYE, MOUTH)]
    mouth = centers[2]

    def dist_to_mouth(pt: tuple[float, float]) -> float:
        return math.sqrt((mouth[0] - pt[0]) ** 2 + (mouth[1] - pt[1]) ** 2)

    eye_to_mouth = (dist_to_mouth(centers[0]) + dist_to_mouth(centers[1])) / 2
    size = math.floor(eye_to_mouth / DLIB_REL_SCALE)
    ref = _center(np.array(centers))
    x = math.floor(max(0.0, ref[0] - DLIB_REL_X * size))
    y = math.floor(max(0.0, ref[1] - DLIB_REL_Y * size))
    return x, y, min(size, image_wh[0] + x), min(size, image_wh[1] + y)


def _cut(image: np.ndarray, rect: tuple[int, int, int, int], what: str) -> np.ndarray:
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        raise ValueError(f"analyse: the {what} crop {rect} is empty (face-api would drop it and misalign faces)")
    return image[y:y + h, x:x + w]


class FaceApiPipeline:
    """The five nets, loaded once from face-api's model folder; `analyse` runs the chain."""

    def __init__(self, model_dir: str | Path):
        self.detector = SsdMobilenetv1.from_folder(model_dir)
        self.landmarks = FaceLandmark68Net.from_folder(model_dir)
        self.expression = FaceExpressionNet.from_folder(model_dir)
        self.agegender = AgeGenderNet.from_folder(model_dir)
        self.recognition = FaceRecognitionNet.from_folder(model_dir)

    def locate(self, images: list[np.ndarray] | np.ndarray, min_confidence: float = 0.5,
               max_results: int = 100) -> list[list[Located]]:
        """Images, each uint8 RGB (H, W, 3) -> per image its faces, best first, with landmarks: face-api's
        `detectAllFaces(img).withFaceLandmarks()` and the rects the later nets cut. The cheap half of `analyse`."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        return self._with_landmarks(images, self.detector.detect(images, min_confidence, max_results))

    def whole_crops(self, images: list[np.ndarray] | np.ndarray) -> list[list[Located]]:
        """Images that are already face crops (an imported set's aligned crops) -> one face each, its detection the
        whole image (score 1), then face-api's chain from the landmarks on: no detector, so a tight crop the SSD
        would not find again is still read."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        whole = [[Detection(0.0, 0.0, float(im.shape[1]), float(im.shape[0]), 1.0)] for im in images]
        return self._with_landmarks(images, whole)

    def _with_landmarks(self, images: list[np.ndarray], detections: list[list[Detection]]) -> list[list[Located]]:
        """Per image its detections with the landmark net's 68 points and the rects the later nets cut."""
        owners = [(i, det) for i, dets in enumerate(detections) for det in dets]
        out: list[list[Located]] = [[] for _ in images]
        if not owners:
            return out

        # landmarks on the clipped, floored detection box
        crops = []
        for i, det in owners:
            height, width = images[i].shape[:2]
            rect = clip_at_image_borders(through_relative(det[:4], width, height), width, height)
            crops.append((rect, _cut(images[i], rect, "landmark")))
        sizes = [crop.shape[:2] for _, crop in crops]
        with torch.no_grad():
            raw = chunked(self.landmarks, face_input([crop for _, crop in crops], INPUT_SIZE), FACE_CHUNK)
        crop_pts = crop_points(relative_landmarks(raw, sizes), sizes)  # (N, 68, 2) crop pixels

        for k, (i, det) in enumerate(owners):
            height, width = images[i].shape[:2]
            crop_wh = (sizes[k][1], sizes[k][0])
            pts = shift_points(crop_pts[k], crop_wh, (det.x, det.y))
            # alignedRect = FaceDetection(score, box.rescale(1 / dims), dims); extractFaceTensors takes forSize's box
            aligned_box = through_relative(min_bbox_padded(pts), width, height)
            dlib_rect = align_dlib(pts, crop_wh)
            rects = (crops[k][0], clip_at_image_borders(through_relative(aligned_box, width, height), width, height),
                     clip_at_image_borders(dlib_rect, width, height))
            out[i].append(Located(box=(det.x, det.y, det.width, det.height), score=det.score, landmarks=pts,
                                  aligned_box=aligned_box, dlib_rect=dlib_rect, crops=rects))
        return out

    def analyse(self, images: list[np.ndarray] | np.ndarray, min_confidence: float = 0.5,
                max_results: int = 100, detect: bool = True) -> list[list[Face]]:
        """Images, each uint8 RGB (H, W, 3) -> per image its faces, best first, as face-api's
        `detectAllFaces(img).withFaceLandmarks().withFaceExpressions().withAgeAndGender().withFaceDescriptors()`.
        One image (a single (H, W, 3) array) gives a list of one list. `detect=False` reads each image as one face
        crop (`whole_crops`)."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        located = self.locate(images, min_confidence, max_results) if detect else self.whole_crops(images)
        owners = [(i, loc) for i, faces in enumerate(located) for loc in faces]
        if not owners:
            return [[] for _ in images]
        aligned_crops = [_cut(images[i], loc.crops[1], "aligned") for i, loc in owners]
        dlib_crops = [_cut(images[i], loc.crops[2], "dlib") for i, loc in owners]
        with torch.no_grad():
            x112 = face_input(aligned_crops, INPUT_SIZE)
            expressions = chunked(self.expression.probabilities, x112, FACE_CHUNK).numpy()
            ages, genders = chunked(self.agegender.predict, x112, FACE_CHUNK)
            descriptors = chunked(self.recognition, face_input(dlib_crops, RECOGNITION_SIZE), FACE_CHUNK).numpy()

        out: list[list[Face]] = [[] for _ in images]
        for k, (i, loc) in enumerate(owners):
            p_male = float(genders[k, 0])  # float32 -> JS double
            male = p_male > 0.5
            out[i].append(Face(
                box=loc.box, score=loc.score, landmarks=loc.landmarks, aligned_box=loc.aligned_box,
                dlib_rect=loc.dlib_rect, crops=loc.crops, descriptor=descriptors[k],
                age=float(ages[k]), gender=GENDERS[0] if male else GENDERS[1],
                gender_probability=p_male if male else 1 - p_male,
                expressions={name: float(p) for name, p in zip(EXPRESSIONS, expressions[k])}))
        return out


_PIPELINES: dict[Path, FaceApiPipeline] = {}


def shared_pipeline(model_dir: str | Path | None = None) -> FaceApiPipeline:
    """The nets of one model folder (default: the verified `faceapi_dir()/model`), loaded once per process and
    shared by every judge built on face-api."""
    if model_dir is None:
        from bench.judges.faceapi.fetch import faceapi_dir

        model_dir = faceapi_dir() / "model"
    key = Path(model_dir).resolve()
    if key not in _PIPELINES:
        _PIPELINES[key] = FaceApiPipeline(key)
    return _PIPELINES[key]


def analyse(images: list[np.ndarray] | np.ndarray, model_dir: str | Path | None = None) -> list[list[Face]]:
    """`shared_pipeline(model_dir).analyse(images)`."""
    return shared_pipeline(model_dir).analyse(images)
