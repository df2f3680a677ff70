"""The judges built on face-api's nets (`pipeline.FaceApiPipeline`, one copy shared per process):

    faceapi      the whole chain: expression, age, gender, identity descriptor (this docstring)
    face-align   detection + landmarks + the crop aligned to a canonical template (`FaceAlignJudge`, `align.py`)
    skin-tone    ITA of the cheek skin located by the landmarks (`SkinToneJudge`, `skintone.py`)

The `faceapi` judge reads face-api's whole chain as per-image arrays. `faceapi` and `skin-tone` take `detect` (default
true): false reads each image as one face crop (`FaceApiPipeline.whole_crops`: the detection is the whole image, the
chain runs from the landmarks on), for sets `augen import` aligned, whose tight crops the SSD does not always find
again; `face_found` is then 1 for every image.

Each image gets the readings of its **most confident** face (a generated face set holds one face per image); an
image with no face above `min_confidence` gets `face_found` 0, `face_count` 0 and NaN in every other reading:

    face_found       (B,)       1 if face-api found a face, else 0 (int64)
    face_count       (B,)       how many faces it found (int64)
    face_score       (B,)       the chosen face's detection score
    expression_prob  (B, 8)     face-api's 7 expression probabilities in bench.data.aus.EXPRESSIONS order (AffectNet
                                codes), mapped by name (`FACEAPI_TO_AFFECTNET`); `contempt`, which face-api has no
                                class for, is always 0 (so a row still sums to 1 and argmax never says contempt)
    age              (B,)       age in years
    gender_prob      (B, 2)     [female, male], the order of the world judge's `gender_prob`
                                (bench.world.params.GENDERS: feminine, masculine)
    identity         (B, 128)   the face descriptor (not L2-normalised, as face-api returns it)
    landmarks        (B, 68, 2) the 68 landmarks (x, y) in image pixels

All floats are float32. `sha256` (`pins_sha256`) hashes the pinned package, version and every model file's pinned
sha256, so it changes with any pin; `id` is the kind + "-" + its first 12 hex digits, with the options that change
readings in it (a non-default `min_confidence`, the crop size), since readings are cached by judge id. The nets run on
the CPU whatever `device` says (the ports' parity with face-api is measured there).
"""

from __future__ import annotations

import hashlib

import numpy as np

from bench.core.errors import UsageError
from bench.data.aus import EXPRESSIONS, N_EXPRESSIONS
from bench.judges.faceapi import align, fetch, skintone
from bench.judges.faceapi.pipeline import Face, shared_pipeline

#: face-api's expression names (`FaceExpressions.ts`) -> bench.data.aus.EXPRESSIONS names. No contempt in face-api.
FACEAPI_TO_AFFECTNET = {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "anger",
                        "fearful": "fear", "disgusted": "disgust", "surprised": "surprise"}
#: gender_prob's columns (face-api's labels), in the world judge's order (feminine, masculine).
GENDER_COLUMNS = ("female", "male")
DEFAULT_MIN_CONFIDENCE = 0.5
N_LANDMARKS, DESCRIPTOR_DIM = 68, 128


def pins_sha256(pins: dict | None = None) -> str:
    """sha256 of "<package>@<version>" and one "<path> <sha256>" line per pinned model file (sorted by path): the
    judge's weights identity, which changes when the version or any model file's pin changes (demo images are not
    part of it)."""
    pins = fetch.PINS if pins is None else pins
    lines = [f"{pins['package']}@{pins['version']}"]
    lines += [f"{path} {digest}" for path, digest in sorted(pins["files"].items()) if path.startswith("model/")]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def expression_row(expressions: dict[str, float]) -> np.ndarray:
    """face-api's {name: probability} (its 7 classes) -> (8,) float32 in EXPRESSIONS order, contempt 0."""
    if set(expressions) != set(FACEAPI_TO_AFFECTNET):
        raise ValueError(f"face-api expressions {sorted(expressions)} are not {sorted(FACEAPI_TO_AFFECTNET)}")
    row = np.zeros(N_EXPRESSIONS, np.float32)
    for name, p in expressions.items():
        row[EXPRESSIONS.index(FACEAPI_TO_AFFECTNET[name])] = p
    return row


def gender_row(face: Face) -> np.ndarray:
    """(2,) float32 [p_female, p_male] from face-api's label and the probability of that label."""
    p = {face.gender: face.gender_probability, ("male" if face.gender == "female" else "female"):
         1.0 - face.gender_probability}
    return np.array([p[g] for g in GENDER_COLUMNS], np.float32)


def readings_of(faces_per_image: list[list[Face]]) -> dict[str, np.ndarray]:
    """Per image, the most confident face's readings (NaN rows and face_found 0 where there is none)."""
    b = len(faces_per_image)
    out = {"face_found": np.zeros(b, np.int64), "face_count": np.zeros(b, np.int64),
           "face_score": np.full(b, np.nan, np.float32),
           "expression_prob": np.full((b, N_EXPRESSIONS), np.nan, np.float32),
           "age": np.full(b, np.nan, np.float32), "gender_prob": np.full((b, 2), np.nan, np.float32),
           "identity": np.full((b, DESCRIPTOR_DIM), np.nan, np.float32),
           "landmarks": np.full((b, N_LANDMARKS, 2), np.nan, np.float32)}
    for i, faces in enumerate(faces_per_image):
        out["face_count"][i] = len(faces)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.score)  # the first of the best: face-api lists best first
        out["face_found"][i] = 1
        out["face_score"][i] = face.score
        out["expression_prob"][i] = expression_row(face.expressions)
        out["age"][i] = face.age
        out["gender_prob"][i] = gender_row(face)
        out["identity"][i] = face.descriptor
        out["landmarks"][i] = face.landmarks
    return out


def _check_images(images: np.ndarray, kind: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{kind} judge: expected uint8 images (B, H, W, 3), got {images.dtype} {images.shape}")
    return images


class _OnFaceApi:
    """What every judge on face-api's nets shares: `min_confidence`, the weights identity, the id, the input check."""

    kind = ""

    def __init__(self, min_confidence: float, device: str, id_tags: tuple[str, ...] = (), detect: bool = True):
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)) \
                or not 0 < min_confidence <= 1:
            raise UsageError(f"judge '{self.kind}': min_confidence must be a number in (0, 1], not {min_confidence!r}")
        self.pipeline = shared_pipeline()
        self.min_confidence = float(min_confidence)
        self.device = "cpu"
        self.sha256 = pins_sha256()
        if not isinstance(detect, bool):
            raise UsageError(f"judge '{self.kind}': detect must be true or false, not {detect!r}")
        self.detect = detect
        tags = list(id_tags) + ([] if self.min_confidence == DEFAULT_MIN_CONFIDENCE else
                                [f"c{self.min_confidence:g}"]) + ([] if detect else ["crops"])
        self.id = "-".join([self.kind, *tags, self.sha256[:12]])
        self.config = {"min_confidence": self.min_confidence, **({} if detect else {"detect": False})}

    def _locate(self, images: np.ndarray) -> list:
        """Each image's faces (with landmarks): detected, or with `detect` false the whole image as one face crop."""
        if not len(images):
            return []
        return self.pipeline.locate(list(images), self.min_confidence) if self.detect else \
            self.pipeline.whole_crops(list(images))


class FaceApiJudge(_OnFaceApi):
    """face-api (`@vladmandic/face-api`, pinned in fetch.PINS) as a judge: uint8 images (B, H, W, 3) -> readings
    of each image's most confident face (module docstring). Weights from `faceapi_dir()` (MissingWeights if not
    fetched: `augen weights fetch face-api`)."""

    kind = "faceapi"
    readings = ("face_found", "face_count", "face_score", "expression_prob", "age", "gender_prob", "identity",
                "landmarks")

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, device: str = "cpu", detect: bool = True):
        super().__init__(min_confidence, device, detect=detect)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = _check_images(images, self.kind)
        if not len(images):
            return readings_of([])
        return readings_of(self.pipeline.analyse(list(images), self.min_confidence, detect=self.detect))


class FaceAlignJudge(_OnFaceApi):
    """Detection + alignment: each image's most confident face (face-api's detector and 68 landmarks), its five
    points and its crop aligned to the canonical template (`align.py`) at `size` px. Readings:

        face_found (B,) int64, face_count (B,) int64, face_score (B,), box (B, 4) (x, y, w, h) image pixels,
        landmarks (B, 68, 2), points5 (B, 5, 2) image pixels, aligned (B, size, size, 3) uint8 (black without a face)
    """

    kind = "face-align"
    readings = ("face_found", "face_count", "face_score", "box", "landmarks", "points5", "aligned")

    def __init__(self, size: int = 112, min_confidence: float = DEFAULT_MIN_CONFIDENCE, device: str = "cpu"):
        if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 1024:
            raise UsageError(f"judge 'face-align': size must be an integer in [16, 1024], not {size!r}")
        super().__init__(min_confidence, device, id_tags=(f"s{size}",))
        self.size = size
        self.config["size"] = size

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = _check_images(images, self.kind)
        b, s = len(images), self.size
        out = {"face_found": np.zeros(b, np.int64), "face_count": np.zeros(b, np.int64),
               "face_score": np.full(b, np.nan, np.float32), "box": np.full((b, 4), np.nan, np.float32),
               "landmarks": np.full((b, N_LANDMARKS, 2), np.nan, np.float32),
               "points5": np.full((b, 5, 2), np.nan, np.float32), "aligned": np.zeros((b, s, s, 3), np.uint8)}
        for i, faces in enumerate(self.pipeline.locate(list(images), self.min_confidence) if b else []):
            out["face_count"][i] = len(faces)
            if faces:
                face = max(faces, key=lambda f: f.score)
                out["face_found"][i], out["face_score"][i], out["box"][i] = 1, face.score, face.box
                out["landmarks"][i], out["points5"][i] = face.landmarks, align.five_points(face.landmarks)
                out["aligned"][i] = align.align(images[i], face.landmarks, s)[0]
        return out


class SkinToneJudge(_OnFaceApi):
    """Skin tone by colorimetry on each image's most confident face (`skintone.py`): ITA in degrees of the cheek
    skin located by face-api's landmarks and its band. Readings:

        face_found (B,) int64, ita (B,) float32 degrees (NaN without a face or enough skin), ita_band (B,) int64
        index into skintone.ITA_BANDS (-1 for none), skin_pixels (B,) int64
    """

    kind = "skin-tone"
    readings = ("face_found", "ita", "ita_band", "skin_pixels")

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, device: str = "cpu", detect: bool = True):
        super().__init__(min_confidence, device, id_tags=(f"ita{skintone.METHOD_VERSION}",), detect=detect)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = _check_images(images, self.kind)
        b = len(images)
        out = {"face_found": np.zeros(b, np.int64), "ita": np.full(b, np.nan, np.float32),
               "ita_band": np.full(b, -1, np.int64), "skin_pixels": np.zeros(b, np.int64)}
        for i, faces in enumerate(self._locate(images)):
            if faces:
                face = max(faces, key=lambda f: f.score)
                ita, pixels = skintone.face_ita(images[i], face.landmarks)
                out["face_found"][i], out["ita"][i], out["skin_pixels"][i] = 1, ita, pixels
                out["ita_band"][i] = skintone.ita_band(ita)
        return out


#: Age in years -> the world's age groups (bench.world.params.AGE_GROUPS: young, adult, old): [0, 20), [20, 50), 50+.
AGE_EDGES = (20.0, 50.0)


def one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    """(B,) int codes (-1 = none) -> (B, k) float32 one-hot rows, NaN rows for -1."""
    out = np.zeros((len(codes), k), np.float32)
    ok = codes >= 0
    out[np.flatnonzero(ok), codes[ok]] = 1
    out[~ok] = np.nan
    return out


class FacesJudge(_OnFaceApi):
    """The judge of the photograph protocols (faces-v1): face-api's chain and the ITA skin tone on each image's face
    (detected, or with `detect` false the image read as one aligned crop), under the world judge's reading names so
    the scoring families read photographs as they read world faces:

        features         (B, 128)  the identity descriptor (realism, identity diversity, memorization)
        expression_prob  (B, 8)    face-api's 7 expressions on the AffectNet codes, contempt 0
        gender_prob      (B, 2)    [female, male]
        age_group_prob   (B, 3)    one-hot of the age in years binned at AGE_EDGES (young, adult, old)
        skin_tone_prob   (B, 6)    one-hot of the ITA band (skintone.ITA_BANDS, very light ... dark); NaN outside
        face_found (B,) int64, age (B,) years, ita (B,) degrees
    Rows without a face are NaN (face_found 0); the scorer leaves them out of every reading.
    """

    kind = "faces"
    readings = ("features", "expression_prob", "gender_prob", "age_group_prob", "skin_tone_prob", "face_found",
                "age", "ita")

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, device: str = "cpu", detect: bool = True):
        super().__init__(min_confidence, device, id_tags=(f"ita{skintone.METHOD_VERSION}",), detect=detect)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = _check_images(images, self.kind)
        if not len(images):
            faces_per_image = []
        else:
            faces_per_image = self.pipeline.analyse(list(images), self.min_confidence, detect=self.detect)
        base = readings_of(faces_per_image)
        b = len(images)
        ita, band = np.full(b, np.nan, np.float32), np.full(b, -1, np.int64)
        for i, faces in enumerate(faces_per_image):
            if faces:
                face = max(faces, key=lambda f: f.score)
                ita[i] = skintone.face_ita(images[i], face.landmarks)[0]
                band[i] = skintone.ita_band(float(ita[i]))
        ages = base["age"]
        age_code = np.where(np.isfinite(ages), np.searchsorted(AGE_EDGES, np.nan_to_num(ages), side="right"), -1)
        return {"features": base["identity"], "expression_prob": base["expression_prob"],
                "gender_prob": base["gender_prob"], "age_group_prob": one_hot(age_code.astype(np.int64), 3),
                "skin_tone_prob": one_hot(band, len(skintone.ITA_BANDS)), "face_found": base["face_found"],
                "age": ages, "ita": ita}
