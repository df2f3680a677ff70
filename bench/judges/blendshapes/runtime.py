"""MediaPipe's own runtime (`mediapipe==1.2.3`) running the pinned Face Landmarker on aligned face crops.

`Landmarker(task)` builds one FaceLandmarker in IMAGE mode (one face, blendshapes on, MediaPipe's default detection
and presence confidences 0.5: on the shipped photos' 128 px aligned crops it finds 32 of 34 human faces and not the
cat, and lowering both to 0.1 adds only the profile face of camera.png; docs/au-reader.md). Each crop is read on its
own, as given (face-api found and aligned it): `read(crop)` -> `Reading` (found, the 52 blendshape scores in
MediaPipe's order, the 478 landmarks as (x, y) crop pixels); `landmarker(images)` does a batch as arrays, NaN where
no face was found. Repeated reads are bit-identical (tests/test_blendshapes.py).

`find_face(crop)`: whether MediaPipe finds a face in an aligned crop (a second opinion on face-api's detections; the
importer may skip as "not a face" what it cannot find).

mediapipe is imported on first use only (it imports cv2 and matplotlib); `shared_landmarker` builds one per model
file and process and closes it at exit (`_at_exit`: before Python stops the thread pool MediaPipe calls through).
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import MissingWeights
from bench.judges.blendshapes.mapping import BLENDSHAPE_NAMES, N_BLENDSHAPES

N_LANDMARKS = 478
#: MediaPipe's own defaults, kept (docs/au-reader.md has what lower values change on the shipped crops).
MIN_DETECTION_CONFIDENCE = 0.5
MIN_PRESENCE_CONFIDENCE = 0.5
RUNTIME = "mediapipe"


def runtime_version() -> str:
    """The installed mediapipe's version (without importing it), or MissingWeights saying what to install."""
    try:
        return importlib.metadata.version(RUNTIME)
    except importlib.metadata.PackageNotFoundError:
        raise MissingWeights("the blendshapes reader needs MediaPipe's runtime: pip install -c constraints.txt "
                             "mediapipe==1.2.3 (a dependency of augen-bench)") from None


@dataclass(frozen=True)
class Reading:
    """What MediaPipe reads in one crop."""

    found: bool  # a face was found
    blendshapes: np.ndarray  # (52,) float32 scores in BLENDSHAPE_NAMES' order; NaN when not found
    landmarks: np.ndarray  # (478, 2) float32 (x, y) in crop pixels; NaN when not found


class Landmarker:
    """One MediaPipe FaceLandmarker on the model file `task` (IMAGE mode, blendshapes; one face per image unless
    `num_faces` says more, for whole photographs)."""

    def __init__(self, task: str | Path, min_detection_confidence: float = MIN_DETECTION_CONFIDENCE,
                 min_presence_confidence: float = MIN_PRESENCE_CONFIDENCE, num_faces: int = 1):
        runtime_version()
        import mediapipe as mp  # lazily: it imports cv2 and matplotlib
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task)), running_mode=vision.RunningMode.IMAGE,
            num_faces=num_faces, output_face_blendshapes=True, min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence)
        self._task = vision.FaceLandmarker.create_from_options(options)

    def read_all(self, image: np.ndarray) -> list[Reading]:
        """Every face found in a uint8 RGB image (H, W, 3), MediaPipe's order (at most `num_faces`)."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"Landmarker: expected a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        result = self._task.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                                                  data=np.ascontiguousarray(image)))
        out = []
        for shapes, points in zip(result.face_blendshapes, result.face_landmarks):
            if tuple(c.category_name for c in shapes) != BLENDSHAPE_NAMES:
                raise RuntimeError(f"MediaPipe {runtime_version()} returned blendshapes other than the 52 of "
                                   "bench.judges.blendshapes.mapping.BLENDSHAPE_NAMES")
            out.append(Reading(True, np.array([c.score for c in shapes], np.float32),
                               np.array([(q.x * w, q.y * h) for q in points], np.float32)))
        return out

    def read(self, crop: np.ndarray) -> Reading:
        """One uint8 RGB crop (H, W, 3) -> its Reading (the first face found; found False when none)."""
        faces = self.read_all(crop)
        if not faces:
            return Reading(False, np.full(N_BLENDSHAPES, np.nan, np.float32),
                           np.full((N_LANDMARKS, 2), np.nan, np.float32))
        return faces[0]

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """uint8 crops (B, H, W, 3) -> {'found': (B,) bool, 'blendshapes': (B, 52), 'landmarks': (B, 478, 2)}."""
        reads = [self.read(c) for c in images]
        if not reads:
            return {"found": np.zeros(0, bool), "blendshapes": np.zeros((0, N_BLENDSHAPES), np.float32),
                    "landmarks": np.zeros((0, N_LANDMARKS, 2), np.float32)}
        return {"found": np.array([r.found for r in reads], bool),
                "blendshapes": np.stack([r.blendshapes for r in reads]),
                "landmarks": np.stack([r.landmarks for r in reads])}

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None


_SHARED: dict[Path, Landmarker] = {}


def shared_landmarker(task: str | Path | None = None) -> Landmarker:
    """One Landmarker per model file (default: the verified pinned one, bench.judges.blendshapes.fetch) and
    process, closed at exit."""
    if task is None:
        from bench.judges.blendshapes.fetch import task_file

        task = task_file()
    key = Path(task).resolve()
    if key not in _SHARED:
        _SHARED[key] = Landmarker(key)
        _at_exit(_SHARED[key].close)
    return _SHARED[key]


def _at_exit(close: Callable[[], None]) -> None:
    """Run `close` at interpreter exit while MediaPipe can still serve it: MediaPipe calls its C library through a
    thread pool, which Python shuts down before `atexit` handlers run, so a landmarker left open (or closed from
    atexit) prints a traceback at exit. threading's own exit hooks run first (a private hook, in CPython since 3.9;
    plain atexit where it is absent). Only the process that built the landmarker closes it: a forked child (a
    DataLoader worker) inherits the hook but not MediaPipe's threads, and closing there waited 5 s at every worker's
    exit."""
    owner = os.getpid()

    def close_in_owner() -> None:
        if os.getpid() == owner:
            close()

    hook = getattr(threading, "_register_atexit", None)
    try:
        (hook or atexit.register)(close_in_owner)
    except RuntimeError:  # already shutting down
        atexit.register(close_in_owner)


def find_face(crop: np.ndarray, task: str | Path | None = None) -> bool:
    """Whether MediaPipe's Face Landmarker (its detector, then its landmarks' presence score) finds a face in a uint8
    RGB crop: a second opinion on a face-api detection, for skipping "not a face" (scikit-image's cat: False)."""
    return shared_landmarker(task).read(crop).found
