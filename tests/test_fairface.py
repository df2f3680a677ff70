"""FairFace ResNet34: torchvision's resnet34 key layout (18 outputs) loads strictly; outputs are split right."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.judges.fairface import FairFaceJudge


def resnet34_layout() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of torchvision's resnet34 with an 18-way fc, written out from its definition."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix: str, c: int):
        for k in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{k}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    cin = 64
    for layer, (cout, n) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), 1):
        for b in range(n):
            p = f"layer{layer}.{b}"
            shapes[f"{p}.conv1.weight"] = (cout, cin if b == 0 else cout, 3, 3)
            bn(f"{p}.bn1", cout)
            shapes[f"{p}.conv2.weight"] = (cout, cout, 3, 3)
            bn(f"{p}.bn2", cout)
            if b == 0 and layer > 1:
                shapes[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                bn(f"{p}.downsample.1", cout)
        cin = cout
    shapes["fc.weight"], shapes["fc.bias"] = (18, 512), (18,)
    return shapes


def test_fairface_layout_loads_strictly(tmp_path):
    layout = resnet34_layout()
    assert len(layout) == 218  # torchvision resnet34: 110 parameters + 108 batch-norm buffers
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.tensor(0) if k.endswith("num_batches_tracked") else
                 (torch.rand(s, generator=g) + 0.5 if k.endswith("running_var") else torch.randn(s, generator=g) * 0.05))
             for k, s in layout.items()}
    path = tmp_path / "res34_fair_align_multi_7_20190809.pt"
    torch.save(state, path)
    judge = FairFaceJudge(path)
    out = judge(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8))
    assert out["race7_prob"].shape == (2, 7) and out["gender_prob"].shape == (2, 2) and out["age9_prob"].shape == (2, 9)
    for v in out.values():
        np.testing.assert_allclose(v.sum(1), 1.0, rtol=1e-5)
    del state["fc.bias"]
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="fc.bias"):
        FairFaceJudge(path)


def test_fairface_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="res34_fair_align_multi_7_20190809.pt"):
        FairFaceJudge(tmp_path / "nope.pt")
