"""MAUGen's sd15 training at SD-1.5's real block layout with tiny widths (tests/helpers/sd15.py layout="sd15": the
9-channel inpainting UNet, SD-1.5's block types, 2 layers per block; reference.common.parts.tiny_sd15_parts) on CPU:
head masks from face-api's landmarks on every face, the set's own captions, 2 optimiser steps, and a crash after a
checkpoint resuming to the same weights bitwise."""

from __future__ import annotations

import json

import pytest
import torch

from bench.core.errors import DataError
from bench.data.aus import AUS
from bench.generation.base import get_generator, write_generated
from bench.world.conditions import world_conditions
from tests.helpers.sd15 import crash_in_step_1, saved_weights, sd_like_folder, train_cli

WORLD = {"seed": 0, "image_size": 64}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6 world-train faces (the `real` control: 17 AU intensities, world-grammar captions)."""
    return write_generated(get_generator("real", world=WORLD), world_conditions(WORLD, "train", 6),
                           tmp_path_factory.mktemp("data") / "faces")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return sd_like_folder(tmp_path_factory.mktemp("sd15"), 9, fp16_variant=False, name="inpaint", layout="sd15",
                          image_size=64)


def _train(folder, data, out):
    return train_cli("maugen", folder, data, out, p_inpaint=1.0, masks="head", reference_size=32)


def _weights(folder, subs=("unet", "text_encoder", "label_head", "mrl")):
    return saved_weights(folder, *subs)


def test_sd15_layout_head_masks_train_and_resume_bitwise(folder, data, tmp_path, monkeypatch, faceapi_weights):
    import reference.maugen.train as mt

    unet = json.loads((folder / "unet" / "config.json").read_text())
    assert unet["in_channels"] == 9 and unet["layers_per_block"] == 2 and len(unet["down_block_types"]) == 4
    assert unet["down_block_types"][:3] == ["CrossAttnDownBlock2D"] * 3 and unet["up_block_types"][0] == "UpBlock2D"
    from bench.cli import main

    with pytest.raises(DataError, match=r"no head regions .* write them with `augen head-regions"):
        _train(folder, data, tmp_path / "straight")
    assert main(["head-regions", str(data), "--quiet"]) == 0
    monkeypatch.setattr(mt, "random_masks", lambda *a: pytest.fail("head masks were asked for"))
    straight = _train(folder, data, tmp_path / "straight")
    rep = json.loads((straight / "training.json").read_text())
    assert "head regions from face-api's 68 landmarks" in rep["inpainting"] and rep["captions"].startswith("dataset")
    assert rep["config"]["masks"] == "head" and rep["labelled_aus"] == list(AUS) and rep["masked_aus"] == []
    with crash_in_step_1(), pytest.raises(KeyboardInterrupt):
        _train(folder, data, tmp_path / "resumed")
    torch.manual_seed(99)  # the global RNG state must not matter
    resumed = _train(folder, data, tmp_path / "resumed")
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    src = _weights(folder, ("unet",))
    assert any(not torch.equal(src[k], a[k]) for k in src)  # it trained
    gen = get_generator("maugen", {"weights": str(straight), "steps": 2})
    (s,) = list(gen.generate(world_conditions(WORLD, "test", 1)))
    assert s.image.shape == (64, 64, 3)


def test_the_gpu_training_check_runs_the_trainer_on_cpu(folder):
    """reference/gpucheck.py --train's MAUGen check, on CPU with the tiny SD-layout weights: the sd15 trainer's
    steps timed (the first left out), the result JSON's fields."""
    from reference.gpucheck import TRAIN_CHECKS
    from reference.maugen.config import from_sd15_folder

    res = TRAIN_CHECKS["maugen"](64, 3, 2, "cpu", pipe=from_sd15_folder(folder))
    assert res["mode"] == "train" and res["precision"] == "fp32" and res["peak_memory_gib"] is None
    assert res["seconds_per_step"] > 0 and res["images_per_s"] == pytest.approx(2 / res["seconds_per_step"], rel=0.02)
