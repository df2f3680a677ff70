"""FID InceptionV3: the checkpoint's key layout loads strictly; hash and missing-file errors are clear."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from bench.judges import inception as inc

# The layout of pt_inception-2015-12-05-6726825d.pth, transcribed from torchvision's Inception3
# (aux_logits=False, 1008 classes): every BasicConv2d as (name, out, in, kh, kw).
STEM = [("Conv2d_1a_3x3", 32, 3, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 64, 32, 3, 3),
        ("Conv2d_3b_1x1", 80, 64, 1, 1), ("Conv2d_4a_3x3", 192, 80, 3, 3)]


def _a(name, cin, pf):
    return [(f"{name}.branch1x1", 64, cin, 1, 1), (f"{name}.branch5x5_1", 48, cin, 1, 1),
            (f"{name}.branch5x5_2", 64, 48, 5, 5), (f"{name}.branch3x3dbl_1", 64, cin, 1, 1),
            (f"{name}.branch3x3dbl_2", 96, 64, 3, 3), (f"{name}.branch3x3dbl_3", 96, 96, 3, 3),
            (f"{name}.branch_pool", pf, cin, 1, 1)]


def _c(name, c7):
    return [(f"{name}.branch1x1", 192, 768, 1, 1), (f"{name}.branch7x7_1", c7, 768, 1, 1),
            (f"{name}.branch7x7_2", c7, c7, 1, 7), (f"{name}.branch7x7_3", 192, c7, 7, 1),
            (f"{name}.branch7x7dbl_1", c7, 768, 1, 1), (f"{name}.branch7x7dbl_2", c7, c7, 7, 1),
            (f"{name}.branch7x7dbl_3", c7, c7, 1, 7), (f"{name}.branch7x7dbl_4", c7, c7, 7, 1),
            (f"{name}.branch7x7dbl_5", 192, c7, 1, 7), (f"{name}.branch_pool", 192, 768, 1, 1)]


def _e(name, cin):
    return [(f"{name}.branch1x1", 320, cin, 1, 1), (f"{name}.branch3x3_1", 384, cin, 1, 1),
            (f"{name}.branch3x3_2a", 384, 384, 1, 3), (f"{name}.branch3x3_2b", 384, 384, 3, 1),
            (f"{name}.branch3x3dbl_1", 448, cin, 1, 1), (f"{name}.branch3x3dbl_2", 384, 448, 3, 3),
            (f"{name}.branch3x3dbl_3a", 384, 384, 1, 3), (f"{name}.branch3x3dbl_3b", 384, 384, 3, 1),
            (f"{name}.branch_pool", 192, cin, 1, 1)]


CONVS = (STEM + _a("Mixed_5b", 192, 32) + _a("Mixed_5c", 256, 64) + _a("Mixed_5d", 288, 64)
         + [("Mixed_6a.branch3x3", 384, 288, 3, 3), ("Mixed_6a.branch3x3dbl_1", 64, 288, 1, 1),
            ("Mixed_6a.branch3x3dbl_2", 96, 64, 3, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)]
         + _c("Mixed_6b", 128) + _c("Mixed_6c", 160) + _c("Mixed_6d", 160) + _c("Mixed_6e", 192)
         + [("Mixed_7a.branch3x3_1", 192, 768, 1, 1), ("Mixed_7a.branch3x3_2", 320, 192, 3, 3),
            ("Mixed_7a.branch7x7x3_1", 192, 768, 1, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
            ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)]
         + _e("Mixed_7b", 1280) + _e("Mixed_7c", 2048))


def checkpoint_layout(with_batch_counts: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    sd = {}
    for name, cout, cin, kh, kw in CONVS:
        sd[f"{name}.conv.weight"] = torch.randn(cout, cin, kh, kw, generator=g) * 0.05
        sd[f"{name}.bn.weight"] = torch.rand(cout, generator=g) + 0.5
        sd[f"{name}.bn.bias"] = torch.randn(cout, generator=g) * 0.1
        sd[f"{name}.bn.running_mean"] = torch.randn(cout, generator=g) * 0.1
        sd[f"{name}.bn.running_var"] = torch.rand(cout, generator=g) + 0.5
        if with_batch_counts:
            sd[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    sd["fc.weight"] = torch.randn(1008, 2048, generator=g) * 0.01
    sd["fc.bias"] = torch.zeros(1008)
    return sd


def test_layout_size():
    assert len(CONVS) == 94  # Inception v3 without the aux head has 94 conv layers


@pytest.mark.parametrize("with_batch_counts", [True, False])  # old torch saves have no num_batches_tracked
def test_checkpoint_layout_loads_strictly(tmp_path, monkeypatch, with_batch_counts):
    path = tmp_path / inc.WEIGHTS_NAME
    torch.save(checkpoint_layout(with_batch_counts), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(inc, "WEIGHTS_SHA256_PREFIX", digest[:8])  # the fake file has its own hash
    net = inc.load_fid_inception(path)
    images = (np.random.default_rng(0).random((2, 40, 48, 3)) * 255).astype(np.uint8)
    with torch.no_grad():
        feats = net(inc.preprocess(images, "legacy"))
        logits = net.logits(inc.preprocess(images, "clean"))
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(feats).all() and (feats >= 0).all()  # post-ReLU average pool


def test_wrong_hash_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.delenv("AUGEN_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth.*AUGEN_INCEPTION_WEIGHTS"):
        inc.load_fid_inception(None)
    with pytest.raises(FileNotFoundError, match="not found at .*nope.pth"):
        inc.load_fid_inception(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="does not start with 6726825d"):
        inc.load_fid_inception(bad)


def test_preprocess_modes():
    img = np.zeros((1, 64, 64, 3), np.uint8)
    img[:, :, 32:] = 255
    for mode in inc.MODES:
        x = inc.preprocess(img, mode)
        assert x.shape == (1, 3, 299, 299) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert not torch.equal(inc.preprocess(img, "clean"), inc.preprocess(img, "legacy"))
    with pytest.raises(ValueError, match="unknown FID preprocessing mode"):
        inc.preprocess(img, "tf")
