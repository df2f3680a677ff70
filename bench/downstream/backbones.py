"""Pretrained backbones for the downstream recognizers, from local files: torchvision's ImageNet ResNets and
face.evoLVe's IR-50 (MS-Celeb-1M), the face-recognition trunk FER methods fine-tune.

A protocol's `downstream.pretrained: NAME` starts each training from these weights and fine-tunes the whole
network (the heads are new; images are normalised as the weights were trained); without it the recognizer trains
from scratch. Nothing is downloaded: the user copies the file into the cache once,

    augen weights add ~/Downloads/resnet18-f37072fd.pth

which identifies it the way torchvision does (the file name's hex part is the first hex digits of the file's
sha256), or by its published name where no hash is published (IR-50), and stores it under
`<cache>/weights/backbones/`. A training refuses a missing or different file with what to run; the file's full
sha256 is recorded in the results and enters their protocol hash. Keys are the publishers' (torchvision's
`conv1.weight`, `layer1.0.bn1.running_mean`, ..., `fc.*`; face.evoLVe's `input_layer.*`, `body.N.res_layer.*`,
`output_layer.*`); the classifier / embedding layer is dropped and everything else must load strictly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bench.core.errors import DataError, MissingWeights, UsageError
from bench.core.pinned import sha256_file

if TYPE_CHECKING:  # torch is imported where weights load: BACKBONES is read when a protocol loads
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """One pretrained checkpoint a protocol can name."""

    recognizer: str  # the RECOGNIZERS name it initialises (its width must be 64)
    file: str  # the file's published name
    source: str  # where a user gets it
    sha256_prefix: str | None  # torchvision's: the name's hex part starts the file's sha256; None: no published
    #                           hash (identified by file name; its sha256 enters the results' protocol hash)
    drop: tuple[str, ...]  # key prefixes of the file that are not the trunk (classifier, embedding layer)
    mean: tuple[float, float, float]  # input normalisation the weights were trained with (RGB, images in [0, 1])
    std: tuple[float, float, float]


_TV = "torchvision's model zoo (download.pytorch.org/models/{file}), e.g. from a machine with internet"
_EVOLVE = "face.evoLVe's model zoo (github.com/ZhaoJ9014/face.evoLVe, IR-50 trained on MS-Celeb-1M)"
BACKBONES = {
    "torchvision-resnet18-imagenet1k-v1": Backbone("resnet18", "resnet18-f37072fd.pth", _TV, "f37072fd", ("fc.",),
                                                   IMAGENET_MEAN, IMAGENET_STD),
    "torchvision-resnet50-imagenet1k-v1": Backbone("resnet50", "resnet50-0676ba61.pth", _TV, "0676ba61", ("fc.",),
                                                   IMAGENET_MEAN, IMAGENET_STD),
    "torchvision-resnet50-imagenet1k-v2": Backbone("resnet50", "resnet50-11ad3fa6.pth", _TV, "11ad3fa6", ("fc.",),
                                                   IMAGENET_MEAN, IMAGENET_STD),
    # the IR-50 FER methods start from (face.evoLVe's `backbone_ir50_ms1m_epoch120.pth`, inputs (x - 0.5) / 0.5)
    "face-evolve-ir50-ms1m": Backbone("ir50", "backbone_ir50_ms1m_epoch120.pth", _EVOLVE, None, ("output_layer.",),
                                      (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


def backbone_dir() -> Path:
    from bench.core.paths import cache_root

    return cache_root() / "weights" / "backbones"


def get(name: str) -> Backbone:
    if name not in BACKBONES:
        raise UsageError(f"pretrained backbone {name!r} unknown ({', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]


def add_backbone(path: str | Path) -> tuple[str, Path]:
    """Copy a user's checkpoint into the cache after identifying it (by sha256 prefix, or by its published name
    for a backbone without a published hash); (its name, new path)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    sha = sha256_file(path)
    for name, b in BACKBONES.items():
        if (sha.startswith(b.sha256_prefix) if b.sha256_prefix else path.name == b.file):
            dst = backbone_dir() / b.file
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".partial")
            shutil.copyfile(path, tmp)
            tmp.replace(dst)
            return name, dst
    known = ", ".join(f"{b.file} ({n})" for n, b in BACKBONES.items())
    raise DataError(path, f"sha256 {sha[:12]}... and name are none of the known backbones: {known}")


@lru_cache(maxsize=4)
def _checked(path: str, mtime_ns: int, prefix: str | None) -> str:
    """Full sha256 of a backbone file, checked against its prefix when it has one (once per file version and
    process)."""
    sha = sha256_file(path)
    if prefix and not sha.startswith(prefix):
        raise DataError(path, f"sha256 {sha[:12]}... does not start with {prefix} (a different or damaged file); "
                              "add the right one with `augen weights add FILE`")
    return sha


def backbone_file(name: str) -> tuple[Path, str]:
    """The cached file of a backbone and its full sha256 (MissingWeights, saying what to run, when absent)."""
    b = get(name)
    path = backbone_dir() / b.file
    if not path.is_file():
        raise MissingWeights(f"pretrained backbone {name} is not in {backbone_dir()}: get {b.file} from "
                             f"{b.source.format(file=b.file)} and run `augen weights add PATH/{b.file}`")
    return path, _checked(str(path), path.stat().st_mtime_ns, b.sha256_prefix)


def load_backbone(net: torch.nn.Module, name: str) -> str:
    """Load a backbone's weights into a recognizer (strict, the file's non-trunk layers dropped, heads left as
    built) and switch on its input normalisation; the file's sha256."""
    import torch

    b = get(name)
    path, sha = backbone_file(name)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, or one holding more than tensors
        raise DataError(path, f"is not a state dict torch can load safely ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "holds no state dict (name -> tensor)")
    state = {k: v for k, v in state.items() if not k.startswith(b.drop)}
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes of another architecture
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise DataError(path, f"does not fit {type(net).__name__}: {lines[min(1, len(lines) - 1)]}") from None
    # the heads are new; torchvision's 2017 files predate batch norm's num_batches_tracked
    missing = [k for k in missing if not k.startswith("heads.") and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise DataError(path, f"does not fit {type(net).__name__}: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}")
    net.set_normalization(b.mean, b.std)
    return sha
