"""Judges: networks that read images (feature extractors, AU detectors, demographic and expression classifiers).
World judges are trained by our own code; real-data judges load local weights only (nothing downloads).

Every judge kind a protocol can name (`judge: {kind: ..., config: {...}}`) is registered here, in
`bench.core.registry.JUDGES`, as "module:factory" (loaded only when used). A judge has `id`, `sha256` (of its
weights), `config`, `readings` (the arrays it returns) and maps uint8 images (B, H, W, 3) to {reading: array}:

    world      the world judge (features, AU intensity/probability, expression and demographic probabilities)
    inception  FID InceptionV3 pool3 features from pytorch-fid's weight file (config: path, mode)
    dinov2     DINOv2 CLS features from a local `save_pretrained` folder (config: folder)
    clip       CLIP image embeddings from a local folder (config: folder)
    fairface   FairFace race7 / gender / age9 probabilities from its released ResNet34 file (config: path)
    faceapi    face-api on each image's best face: expressions, age, gender, descriptor (config: min_confidence)
    libreface  LibreFace 0.1.x AU occurrence (BP4D 12), AU intensity (DISFA 12), 8 expressions (config: folder)
    face-align face-api's detector + landmarks: box, 5 points, crop aligned to ArcFace's template (config: size,
               min_confidence)
    skin-tone  ITA degrees and band of the cheek skin located by face-api's landmarks (config: min_confidence)
    faces      face-api + ITA under the world judge's reading names, for the photograph protocols (config: detect)
    blendshapes MediaPipe's Face Landmarker on each face crop: found, 52 blendshapes, 478 landmarks (the blendshapes
               AU reader's raw readings, bench.judges.blendshapes)

AU readings made elsewhere by an external tool are read by kind from `bench.core.registry.AU_READINGS` (a protocol's
`au_readings: {kind, path}` or `augen score --au-readings KIND:WHERE`):

    libreface    a LibreFace CSV (one row per image, keyed by file name)
    openface     OpenFace's folder of per-image `<stem>.csv`
    blendshapes  MediaPipe's blendshapes of the set's own images mapped to AUs, an occurrence proxy
                 (bench.judges.blendshapes; reads images, so no WHERE: `--au-readings blendshapes`; faces-v1's
                 `au_reader` when no tool's readings are given)

Adding a judge: a class with those attributes and one `JUDGES.add` line here (docs/architecture.md).
`build_judge` builds each (kind, config, device) once per process.
"""

import json

from bench.core.registry import AU_READINGS, JUDGES, accepted_options, check_options

JUDGES.add("world", "bench.judges.world:WorldJudge", needs=("world",))
JUDGES.add("inception", "bench.judges.inception:InceptionJudge", needs=("weights", "device"))
JUDGES.add("dinov2", "bench.judges.hf:DinoV2Judge", needs=("weights", "device"))
JUDGES.add("clip", "bench.judges.hf:CLIPJudge", needs=("weights", "device"))
JUDGES.add("fairface", "bench.judges.fairface:FairFaceJudge", needs=("weights", "device"))
JUDGES.add("faceapi", "bench.judges.faceapi.judge:FaceApiJudge", needs=("device",))
JUDGES.add("libreface", "bench.judges.libreface:LibreFaceJudge", needs=("weights", "device"))
JUDGES.add("face-align", "bench.judges.faceapi.judge:FaceAlignJudge", needs=("device",))
JUDGES.add("skin-tone", "bench.judges.faceapi.judge:SkinToneJudge", needs=("device",))
JUDGES.add("faces", "bench.judges.faceapi.judge:FacesJudge", needs=("device",))
JUDGES.add("blendshapes", "bench.judges.blendshapes.reader:BlendshapesJudge", needs=("weights",))

AU_READINGS.add("libreface", "bench.judges.external:libreface_readings")
AU_READINGS.add("openface", "bench.judges.external:openface_readings")
AU_READINGS.add("blendshapes", "bench.judges.blendshapes.reader:blendshapes_readings", needs=("weights",),
                reads_images=True,
                proxy="MediaPipe Face Landmarker blendshapes mapped to FACS AUs (bench.judges.blendshapes, "
                      "docs/au-reader.md): an uncalibrated occurrence proxy without intensities, not a validated AU "
                      "detector")


def au_reader_meta(kind: str) -> dict:
    """What an AU_READINGS kind declares (reads_images: no WHERE; proxy: what it is), without loading its module."""
    return next((dict(e.meta) for e in AU_READINGS.entries() if e.name == kind), {})


def reads_images(kind: str) -> bool:
    """Whether an AU_READINGS kind reads the set's own images (no WHERE)."""
    return bool(au_reader_meta(kind).get("reads_images"))


def image_au_readers() -> list[str]:
    """The AU_READINGS kinds that read the set's own images."""
    return [e.name for e in AU_READINGS.entries() if e.meta.get("reads_images")]


#: Judges built in this process, by (kind, config, device): one scoring run (generate, judge shards, score, table)
#: builds each once. `train_if_missing` and `progress` only say how a missing judge is obtained: not in the key.
_BUILT: dict[tuple, object] = {}


def build_judge(kind: str, config: dict | None = None, **harness):
    """A judge of a registered kind, built from a protocol's `config` (its keys checked against the factory's
    arguments) and what the harness supplies (device, train_if_missing, progress); once per process and key."""
    options = dict(config or {})
    check_options(JUDGES, kind, options, supplied=harness)
    key = (kind, json.dumps(options, sort_keys=True, default=str), str(harness.get("device", "")))
    if key not in _BUILT:
        ok = accepted_options(JUDGES.get(kind))
        _BUILT[key] = JUDGES.get(kind)(**options, **{k: v for k, v in harness.items() if ok is None or k in ok})
    return _BUILT[key]


def forget_built_judges() -> None:
    """Drop the judges built so far (tests that change weights on disk between builds)."""
    _BUILT.clear()
