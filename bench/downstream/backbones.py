"""Pretrained backbones for the downstream recognizers, from local files: torchvision's ImageNet ResNets.

A protocol's `downstream.pretrained: NAME` starts each training from these weights and fine-tunes the whole
network (the heads are new; images are normalised with ImageNet's mean and std, as the weights were trained);
without it the recognizer trains from scratch. Nothing is downloaded: the user copies torchvision's file into the
cache once,

    augen weights add ~/Downloads/resnet18-f37072fd.pth

which checks it the way torchvision does (the file name's hex part is the first hex digits of the file's sha256)
and stores it under `<cache>/weights/backbones/`. A training refuses a missing or different file with what to run,
and the results record the file's full sha256. The files' keys are torchvision's (`conv1.weight`,
`layer1.0.bn1.running_mean`, ..., `fc.*`); `fc` is dropped and everything else must load strictly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from bench.core.errors import DataError, MissingWeights, UsageError
from bench.core.pinned import sha256_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """One torchvision checkpoint a protocol can name."""

    recognizer: str  # the RECOGNIZERS name it initialises (its width must be 64)
    file: str  # torchvision's file name: <arch>-<first hex digits of its sha256>.pth
    source: str  # where a user gets it

    @property
    def sha256_prefix(self) -> str:
        return self.file.rsplit("-", 1)[1].split(".")[0]


_TV = "torchvision's model zoo (download.pytorch.org/models/{file}), e.g. from a machine with internet"
BACKBONES = {
    "torchvision-resnet18-imagenet1k-v1": Backbone("resnet18", "resnet18-f37072fd.pth", _TV),
    "torchvision-resnet50-imagenet1k-v1": Backbone("resnet50", "resnet50-0676ba61.pth", _TV),
    "torchvision-resnet50-imagenet1k-v2": Backbone("resnet50", "resnet50-11ad3fa6.pth", _TV),
}


def backbone_dir() -> Path:
    from bench.core.paths import cache_root

    return cache_root() / "weights" / "backbones"


def get(name: str) -> Backbone:
    if name not in BACKBONES:
        raise UsageError(f"pretrained backbone {name!r} unknown ({', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]


def add_backbone(path: str | Path) -> tuple[str, Path]:
    """Copy a user's torchvision checkpoint into the cache after identifying it by sha256; (its name, new path)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    sha = sha256_file(path)
    for name, b in BACKBONES.items():
        if sha.startswith(b.sha256_prefix):
            dst = backbone_dir() / b.file
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".partial")
            shutil.copyfile(path, tmp)
            tmp.replace(dst)
            return name, dst
    known = ", ".join(f"{b.file} ({n})" for n, b in BACKBONES.items())
    raise DataError(path, f"sha256 {sha[:12]}... is none of the known backbones: {known}")


@lru_cache(maxsize=4)
def _checked(path: str, mtime_ns: int, prefix: str) -> str:
    """Full sha256 of a backbone file, checked against its prefix (once per file version and process)."""
    sha = sha256_file(path)
    if not sha.startswith(prefix):
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
    """Load a backbone's weights into a recognizer (strict, `fc` dropped, heads left as built); its sha256."""
    path, sha = backbone_file(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes of another architecture
        raise DataError(path, f"does not fit {type(net).__name__}: {str(e).splitlines()[1].strip()}") from None
    # the heads are new; torchvision's 2017 files predate batch norm's num_batches_tracked
    missing = [k for k in missing if not k.startswith("heads.") and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise DataError(path, f"does not fit {type(net).__name__}: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}")
    net.normalize = True
    return sha
