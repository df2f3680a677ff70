"""Environment check run by every tox env: torch present, torchvision absent, offline settings on.

torchvision's only build on the package index here is CUDA's; installed, it breaks `import
transformers`, `diffusers` and `torchmetrics`. We never need it, so its presence is an error.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def problems() -> list[str]:
    out = []
    if importlib.util.find_spec("torchvision") is not None:
        out.append("torchvision is installed in this environment; it breaks transformers/diffusers/torchmetrics "
                   "here. Remove it: python -m pip uninstall -y torchvision")
    if importlib.util.find_spec("torch") is None:
        out.append("torch is missing: python -m pip install -c constraints.txt torch")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var) != "1":
            out.append(f"{var} is not set to 1: nothing may download at run time")
    return out


def main() -> int:
    found = problems()
    for p in found:
        print(f"envcheck: {p}", file=sys.stderr)
    if not found:
        import torch

        print(f"envcheck: ok (torch {torch.__version__}, cuda={torch.cuda.is_available()}, no torchvision)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
