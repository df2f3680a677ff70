"""DINOv2 / CLIP judges load tiny random models saved locally (offline) and compute what they claim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.judges import hf


def test_dinov2_features(hf_folders):
    judge = hf.DinoV2Judge(hf_folders / "dino")
    imgs = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    f = judge(imgs)["features"]
    assert f.shape == (3, 32) and np.isfinite(f).all()
    np.testing.assert_allclose(judge(imgs[:1])["features"], f[:1], rtol=1e-5, atol=1e-6)  # batch-consistent
    assert judge.id.startswith("dinov2-") and len(judge.sha256) == 64


def test_clip_score_matches_manual_cosine(hf_folders):
    judge = hf.CLIPJudge(hf_folders / "clip")
    ids = judge.tokenizer(["a face with raised brows"])["input_ids"][0]
    assert judge.tokenizer.convert_ids_to_tokens(ids) == ["a", "face", "with", "raised", "brows"]  # round trip
    imgs = np.random.default_rng(1).integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    prompts = ["a face with raised brows", "a face with parted lips smile"]
    score = judge.clip_score(imgs, prompts)
    from transformers import CLIPModel
    m = CLIPModel.from_pretrained(hf_folders / "clip").eval()
    with torch.no_grad():
        x = hf.preprocess(imgs, 32, hf.CLIP_MEAN, hf.CLIP_STD)
        tok = judge.tokenizer(prompts, padding=True, return_tensors="pt")
        out = m(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"], pixel_values=x)
    cos = torch.nn.functional.cosine_similarity(out.image_embeds, out.text_embeds).numpy()
    np.testing.assert_allclose(score, np.maximum(100 * cos, 0), rtol=1e-4, atol=1e-4)


def test_missing_folders_say_what_to_do(tmp_path):
    for cls, what in ((hf.DinoV2Judge, "DINOv2"), (hf.CLIPJudge, "CLIP")):
        with pytest.raises(FileNotFoundError, match=f"{what} weights not found at .*save_pretrained"):
            cls(tmp_path / "missing")
