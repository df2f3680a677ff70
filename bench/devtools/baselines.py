"""Independent implementations we compare against in tests and benchmarks (never used to score).

clean-fid imports torchvision at module load, only for `ToTensor` and Inception block classes, and
torchvision cannot be installed here. `import_cleanfid()` provides minimal stand-ins during that import
and removes them afterwards (left in `sys.modules` they would break transformers), so clean-fid's
`frechet_distance`, `kernel_distance` and `get_folder_features(custom_feat_extractor=...)` can run.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import torch


class _ToTensor:
    """HWC array -> CHW float tensor (uint8 scaled to [0, 1], float kept as is), like torchvision's."""

    def __call__(self, x):
        arr = np.asarray(x)
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
        return t.float().div(255.0) if arr.dtype == np.uint8 else t.float()


def _stand_ins() -> dict[str, types.ModuleType]:
    tv = types.ModuleType("torchvision")
    tv.__version__ = "0.0.0"
    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToTensor = _ToTensor
    models = types.ModuleType("torchvision.models")
    inception = types.ModuleType("torchvision.models.inception")
    for name in ("InceptionA", "InceptionC", "InceptionE"):
        setattr(inception, name, type(name, (torch.nn.Module,), {}))
    models.inception = inception
    tv.transforms, tv.models = transforms, models
    return {"torchvision": tv, "torchvision.transforms": transforms, "torchvision.models": models,
            "torchvision.models.inception": inception}


def import_cleanfid():
    """Import and return `cleanfid.fid` with torchvision stand-ins present only during the import."""
    if "cleanfid.fid" in sys.modules:
        return sys.modules["cleanfid.fid"]
    shims = _stand_ins()
    clash = [k for k in shims if k in sys.modules]
    if clash:
        raise RuntimeError(f"a real torchvision is loaded ({clash}); it must not be installed here")
    sys.modules.update(shims)
    try:
        import cleanfid.fid as fid
    finally:
        for k in shims:
            sys.modules.pop(k, None)
    return fid
