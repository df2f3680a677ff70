"""LibreFace (Chang et al., WACV 2024) in process: AU occurrence, AU intensity and expression from its released files.

What lives here: `LibreFaceJudge`, which loads LibreFace's three released ResNet18 checkpoints from a local folder
(nothing downloads), the network (`LibreFaceNet`, our own ResNet18 from `bench.judges.resnet` plus LibreFace's MLP
head), the checkpoint reader that checks every key and shape, and LibreFace's input pipeline.

The folder is LibreFace's `weights_download_dir` (`./weights_libreface` by default) of the **0.1.x** release (the
WACV 2024 models; `pip install libreface==0.1.1` fetches them there on first use), holding (`CHECKPOINTS`):

    AU_Detection/weights/resnet.pt                  AU occurrence, BP4D 12 AUs (Drive 17v_vxQ09upLG3Yh0Zlx12rpblP7uoA8x)
    AU_Recognition/weights/resnet.pt                AU intensity, DISFA 12 AUs (Drive 14qEnWRew2snhdMdOVyqKFJ5rq5VZrfAX)
    Facial_Expression_Recognition/weights/resnet.pt 8 AffectNet expressions    (Drive 1PeoPj8rga4vU2nuh_PciyX3HqaXp6LP7)

Each file is `torch.save({'model': state_dict})` of LibreFace's `ResNet18`: `encoder` = torchvision resnet18's
children without `fc` (`encoder.0` conv1, `encoder.1` bn1, `encoder.4`-`encoder.7` layer1-4; 2, 3, 8 are relu,
maxpool, avgpool) and `classifier` = Linear(512, 128), ReLU, BatchNorm1d(128), Dropout, Linear(128, n), Sigmoid
(keys `classifier.0`, `.2`, `.4`); 129 keys, no `module.` prefix. We rename `encoder.<i>` to our trunk's names on
load and refuse a file with a missing, extra or wrongly shaped key (a `DataError` naming the file and the key).
LibreFace 0.2.0's RepVGG files (timm `repvgg_a0`) are a different layout and are not read here.

Input: uint8 RGB images (B, H, W, 3) that are already LibreFace-aligned face crops (its MediaPipe FFHQ-style
alignment writes 512 x 512). The AU nets see PIL bilinear resize of the shorter side to 256 then a 224 centre crop
(torchvision `Resize(256)`, `CenterCrop(224)` on a PIL image); the expression net sees a PIL bicubic resize to
224 x 224 (PIL's default resample, no crop). Both: /255, ImageNet mean/std.

Readings (float32):

    au_prob          (B, 17)  the occurrence net's sigmoid per BP4D-12 AU (LibreFace thresholds it at 0.5), in
                              bench.data.aus.AUS order; NaN for AU 5, 9, 20, 25, 26 (not in BP4D 12)
    au_intensity     (B, 17)  clamp(5 * sigmoid, 0, 5) of the intensity net per DISFA-12 AU, AUS order; NaN for
                              AU 7, 10, 14, 23, 24 (not in DISFA 12)
    expression_prob  (B, 8)   the expression net's 8 sigmoid scores divided by their sum, in EXPRESSIONS order.
                              LibreFace only reports the argmax (its classes: Neutral, Happiness, Sadness, Surprise,
                              Fear, Disgust, Anger, Contempt; mapped to ours by name, `LIBREFACE_TO_EXPRESSION`); the
                              sum-normalised scores keep that argmax and are not calibrated probabilities.

`sha256` hashes the three files' sha256 (one line "<relative path> <sha256>" each); `id` is "libreface-" + its
first 12 hex digits. Parity with LibreFace's own modules is not tested: they build torchvision's resnet18 (which
this project must never install) and its `transforms`; the tests check the net against an independent functional
ResNet18 written from the key names, and the preprocessing against PIL with torchvision's resize/crop arithmetic.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from bench.core.errors import DataError, MissingWeights
from bench.data.aus import AU_INDEX, EXPRESSIONS, N_AUS
from bench.judges.hf import IMAGENET_MEAN, IMAGENET_STD
from bench.judges.resnet import ResNetTrunk

#: LibreFace's AU orders (AU_Detection / AU_Recognition `solver_inference_image.py`: `self.aus`).
BP4D_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
#: LibreFace's expression classes by output index (Facial_Expression_Recognition `inference.py`).
LIBREFACE_EXPRESSIONS: tuple[str, ...] = ("Neutral", "Happiness", "Sadness", "Surprise", "Fear", "Disgust", "Anger",
                                          "Contempt")
#: LibreFace's class names -> bench.data.aus.EXPRESSIONS names.
LIBREFACE_TO_EXPRESSION = {"Neutral": "neutral", "Happiness": "happy", "Sadness": "sad", "Surprise": "surprise",
                           "Fear": "fear", "Disgust": "disgust", "Anger": "anger", "Contempt": "contempt"}
#: torchvision resnet18 child index inside LibreFace's `encoder` Sequential -> our trunk's module name.
ENCODER_CHILDREN = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
BATCH = 64  # images per forward pass


@dataclass(frozen=True)
class Checkpoint:
    """One released LibreFace file: where it lies in the folder, what it is, its output labels."""

    key: str  # our name for it
    path: str  # relative to the folder (LibreFace's weights_download_dir layout)
    what: str  # said in errors
    drive_id: str  # the Google Drive id LibreFace 0.1.1 downloads it from
    labels: tuple  # AU numbers or class names, in output order

    @property
    def num_labels(self) -> int:
        return len(self.labels)


CHECKPOINTS = (
    Checkpoint("au_detection", "AU_Detection/weights/resnet.pt", "AU occurrence (BP4D 12 AUs)",
               "17v_vxQ09upLG3Yh0Zlx12rpblP7uoA8x", BP4D_AUS),
    Checkpoint("au_intensity", "AU_Recognition/weights/resnet.pt", "AU intensity (DISFA 12 AUs)",
               "14qEnWRew2snhdMdOVyqKFJ5rq5VZrfAX", DISFA_AUS),
    Checkpoint("expression", "Facial_Expression_Recognition/weights/resnet.pt", "expression (8 AffectNet classes)",
               "1PeoPj8rga4vU2nuh_PciyX3HqaXp6LP7", LIBREFACE_EXPRESSIONS),
)


@dataclass(frozen=True)
class LibreFaceConfig:
    """LibreFace 0.1.x's fixed inference settings (recorded as the judge's `config`)."""

    release: str = "libreface-0.1.1"
    au_resize: int = 256  # AU nets: shorter side -> this, PIL bilinear
    au_crop: int = 224  # then a centre crop of this size
    expression_size: int = 224  # expression net: PIL bicubic resize to size x size, no crop
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    intensity_scale: float = 5.0  # intensity = clamp(scale * sigmoid, 0, scale)


class LibreFaceNet(nn.Module):
    """LibreFace's ResNet18 + MLP head: (B, 3, 224, 224) normalised images -> (B, num_labels) sigmoid scores."""

    def __init__(self, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.trunk = ResNetTrunk((2, 2, 2, 2))
        self.classifier = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.BatchNorm1d(128), nn.Dropout(dropout),
                                        nn.Linear(128, num_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.classifier(self.trunk.features(x)))  # (B, 512) -> (B, num_labels)


def libreface_key(name: str) -> str:
    """Our parameter name -> the name in LibreFace's state dict (`trunk.layer1.0.conv1.weight` ->
    `encoder.4.0.conv1.weight`; `classifier.*` unchanged)."""
    if name.startswith("trunk."):
        head, _, rest = name.removeprefix("trunk.").partition(".")
        index = {v: k for k, v in ENCODER_CHILDREN.items()}[head]
        return f"encoder.{index}.{rest}"
    return name


def load_checkpoint(path: Path, spec: Checkpoint) -> LibreFaceNet:
    """A `LibreFaceNet` with the weights of one released file; a `DataError` naming the file and the offending key
    when the file is not `{'model': state_dict}` of that network."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or non-torch file
        raise DataError(path, f"cannot be read as a torch file ({type(e).__name__}: {e}); expected LibreFace's "
                              f"{spec.what} checkpoint") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("model"), dict):
        found = f"a dict with keys {sorted(map(str, saved))[:5]}" if isinstance(saved, dict) else type(saved).__name__
        raise DataError(path, f"is not a LibreFace checkpoint: expected {{'model': state_dict}} (how LibreFace saves "
                              f"{spec.what}), found {found}")
    state = saved["model"]
    net = LibreFaceNet(spec.num_labels)
    ours = net.state_dict()
    want = {libreface_key(k): k for k in ours}
    if missing := [k for k in want if k not in state]:
        raise DataError(path, f"lacks key {missing[0]!r} ({len(missing)} missing) of LibreFace's {spec.what} "
                              "ResNet18; is this the right file?")
    if extra := [k for k in state if k not in want]:
        raise DataError(path, f"has unexpected key {extra[0]!r} ({len(extra)} extra); expected LibreFace's "
                              f"{spec.what} ResNet18 (a combined_resnet.pt or a 0.2.0 RepVGG file is another layout)")
    for theirs, mine in want.items():
        t = state[theirs]
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(ours[mine].shape):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise DataError(path, f"key {theirs!r} has shape {got}, expected {tuple(ours[mine].shape)} "
                                  f"(LibreFace's {spec.what} ResNet18, {spec.num_labels} outputs)")
    net.load_state_dict({mine: state[theirs] for theirs, mine in want.items()}, strict=True)
    return net.eval()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def au_input(image: np.ndarray, cfg: LibreFaceConfig) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (crop, crop, 3): torchvision Resize(au_resize) on a PIL image (shorter side to
    au_resize, longer side int(au_resize * long / short), bilinear), then CenterCrop(au_crop)."""
    img = Image.fromarray(image)
    w, h = img.size
    s = cfg.au_resize
    size = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)  # (W, H)
    img = img.resize(size, Image.Resampling.BILINEAR)
    left, top = int(round((size[0] - cfg.au_crop) / 2.0)), int(round((size[1] - cfg.au_crop) / 2.0))
    return np.asarray(img.crop((left, top, left + cfg.au_crop, top + cfg.au_crop)))


def expression_input(image: np.ndarray, cfg: LibreFaceConfig) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (size, size, 3): PIL `resize((size, size))` (bicubic, PIL's default for RGB)."""
    size = (cfg.expression_size, cfg.expression_size)
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def normalise(batch: np.ndarray, cfg: LibreFaceConfig) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> float (B, 3, S, S): ToTensor (/255) then ImageNet mean/std."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(cfg.mean).view(1, 3, 1, 1)) / torch.tensor(cfg.std).view(1, 3, 1, 1)


class LibreFaceJudge:
    """Aligned face crops -> LibreFace's AU occurrence probabilities, AU intensities and expression scores."""

    readings = ("au_prob", "au_intensity", "expression_prob")

    def __init__(self, folder: str | Path, device: str = "cpu"):
        root = Path(folder) if folder else None
        if root is None or not root.is_dir():
            raise MissingWeights(
                f"LibreFace weights folder not found{f' at {root}' if root else ''}: it must hold "
                + ", ".join(c.path for c in CHECKPOINTS)
                + " (LibreFace 0.1.x's weights_download_dir, `weights_libreface` by default); copy it here from a "
                "machine where `libreface` fetched them and pass it as `folder`")
        missing = [c for c in CHECKPOINTS if not (root / c.path).is_file()]
        if missing:
            raise MissingWeights(
                f"LibreFace weights missing in {root}: "
                + "; ".join(f"put {c.path} (LibreFace 0.1.x's {c.what} ResNet18, Google Drive id {c.drive_id}) "
                            f"at {root / c.path}" for c in missing)
                + " (nothing downloads: fetch them on a machine with internet)")
        self.cfg = LibreFaceConfig()
        self.nets = {c.key: load_checkpoint(root / c.path, c).to(device) for c in CHECKPOINTS}
        self.files_sha256 = {c.path: file_sha256(root / c.path) for c in CHECKPOINTS}
        lines = "\n".join(f"{path} {digest}" for path, digest in self.files_sha256.items())
        self.sha256 = hashlib.sha256(lines.encode()).hexdigest()
        self.id = f"libreface-{self.sha256[:12]}"
        self.config = dataclasses.asdict(self.cfg)
        self.device = device
        # column maps: output index -> canonical column (AUs) / EXPRESSIONS position (by name)
        self._det_cols = [AU_INDEX[a] for a in BP4D_AUS]
        self._int_cols = [AU_INDEX[a] for a in DISFA_AUS]
        self._expr_cols = [EXPRESSIONS.index(LIBREFACE_TO_EXPRESSION[n]) for n in LIBREFACE_EXPRESSIONS]

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"libreface judge: expected uint8 images (B, H, W, 3), got {images.dtype} {images.shape}")
        n = len(images)
        out = {"au_prob": np.full((n, N_AUS), np.nan, np.float32),
               "au_intensity": np.full((n, N_AUS), np.nan, np.float32),
               "expression_prob": np.zeros((n, len(EXPRESSIONS)), np.float32)}
        for lo in range(0, n, BATCH):
            chunk = images[lo:lo + BATCH]
            x_au = normalise(np.stack([au_input(im, self.cfg) for im in chunk]), self.cfg).to(self.device)
            x_ex = normalise(np.stack([expression_input(im, self.cfg) for im in chunk]), self.cfg).to(self.device)
            det = self.nets["au_detection"](x_au).float().cpu().numpy()  # (b, 12) BP4D order
            scale = self.cfg.intensity_scale
            inten = (self.nets["au_intensity"](x_au).float() * scale).clamp(0, scale).cpu().numpy()  # (b, 12) DISFA
            expr = self.nets["expression"](x_ex).float().cpu().numpy()  # (b, 8) LibreFace's class order
            rows = slice(lo, lo + len(chunk))
            out["au_prob"][rows, self._det_cols] = det
            out["au_intensity"][rows, self._int_cols] = inten
            total = expr.sum(1, keepdims=True)  # 0 only if every score underflows: then uniform
            out["expression_prob"][rows, self._expr_cols] = np.where(total > 0, expr / np.where(total > 0, total, 1),
                                                                     1.0 / len(EXPRESSIONS))
        return out
