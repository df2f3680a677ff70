"""`augen train maugen|synfer --config sd15` on CPU: SD-1.5-shaped folders of tiny random weights
(tests/helpers/sd15.py) and a tiny labelled world SampleSet; 2 optimiser steps, the output folder sampled by the
generators, resumption after a crash to identical weights, and the clear errors for bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.core.errors import DataError, MissingWeights, UsageError
from bench.generation.base import get_generator, write_generated
from bench.world.conditions import world_conditions
from tests.helpers.sd15 import crash_in_step_1, saved_weights, sd_like_folder, train_cli
from tests.test_sd15_data import few_labelled

WORLD = {"seed": 0, "image_size": 48}  # not the folders' 64 px: the trainer resizes


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8 labelled world-train faces at 48 px (the `real` control: 17 AU intensities + expressions)."""
    root = tmp_path_factory.mktemp("data")
    conds = world_conditions(WORLD, "train", 8)
    return write_generated(get_generator("real", world=WORLD), conds, root / "faces")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd15")
    return {"maugen": sd_like_folder(root, 9, fp16_variant=False, name="inpaint"),
            "synfer": sd_like_folder(root, 4, fp16_variant=False, name="t2i")}


def _train(model, folder, data, out, **options):
    """`helpers.sd15.train_cli` with 2 micro-batches per step; MAUGen inpaints random rectangles (head masks, the
    default, read face-api's landmarks: tests/test_maugen_sd15_layout.py)."""
    if model == "maugen":
        options = {"masks": "random", **options}
    return train_cli(model, folder, data, out, **{"grad_accum": 2, **options})


_weights = saved_weights


def _conds(n=1):
    return world_conditions(WORLD, "test", n)


def test_maugen_sd15_trains_and_the_generator_samples(folders, data, tmp_path):
    out = _train("maugen", folders["maugen"], data, tmp_path / "m")
    rep = json.loads((out / "training.json").read_text())
    assert rep["method"] == "maugen" and rep["faces"] == 8 and rep["image_size"] == 64
    assert rep["precision"] == "fp32 (cpu)" and rep["unet_gradient_checkpointing"] is True
    before = _weights(folders["maugen"], "unet")
    after = _weights(out, "unet")
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained
    gen = get_generator("maugen", {"weights": str(out), "steps": 2})
    (s,) = list(gen.generate(_conds()))
    assert s.image.shape == (64, 64, 3)


def test_synfer_sd15_adapter_and_text_stages_train_and_sample(folders, data, tmp_path):
    out = _train("synfer", folders["synfer"], data, tmp_path / "s")
    assert json.loads((out / "training.json").read_text())["stage"] == "adapter"
    assert (out / "au_adapter").is_dir() and not (out / "fer_classifier").exists()
    gen = get_generator("synfer", {"weights": str(out), "steps": 2, "semantic_guidance_scale": 0,
                                   "pseudo_label": False})
    (s,) = list(gen.generate(_conds()))
    assert s.image.shape == (64, 64, 3)
    text = _train("synfer", folders["synfer"], data, tmp_path / "t", stage="text", steps=1)
    assert not (text / "au_adapter").exists()
    before, after = _weights(folders["synfer"], "unet", "text_encoder"), _weights(text, "unet", "text_encoder")
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("unet/"))  # its LoRA, merged
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("text_encoder/"))  # frozen


@pytest.mark.parametrize("model", ["maugen", "synfer"])
def test_sd15_resumes_after_a_crash_to_identical_weights(model, folders, data, tmp_path):
    """Step 0 checkpointed, a crash in step 1, a rerun == 2 steps straight."""

    straight = _train(model, folders[model], data, tmp_path / "straight", gradient_checkpointing=False)
    with crash_in_step_1(), pytest.raises(KeyboardInterrupt):
        _train(model, folders[model], data, tmp_path / "resumed", gradient_checkpointing=False)
    assert (tmp_path / "resumed.ckpt").is_file() and not (tmp_path / "resumed").exists()
    torch.manual_seed(1234)  # the global RNG state must not matter
    resumed = _train(model, folders[model], data, tmp_path / "resumed", gradient_checkpointing=False)
    subs = ("unet", "text_encoder", "label_head", "mrl") if model == "maugen" else ("au_adapter",)
    a, b = _weights(straight, *subs), _weights(resumed, *subs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sd15_bad_inputs_give_one_clear_error(folders, data, tmp_path):
    from reference.common.sd15train import sd15_options
    from reference.maugen.train import train_command as maugen_train
    from reference.synfer.trainer import train_command as synfer_train

    with pytest.raises(MissingWeights, match="no such folder.*nothing is downloaded"):
        _train("maugen", tmp_path / "nowhere", data, tmp_path / "o")
    with pytest.raises(MissingWeights, match="missing subfolder"):
        (tmp_path / "partial" / "unet").mkdir(parents=True)
        _train("synfer", tmp_path / "partial", data, tmp_path / "o")
    with pytest.raises(UsageError, match="in_channels 4; MAUGen needs the 9-channel"):
        _train("maugen", folders["synfer"], data, tmp_path / "o")
    with pytest.raises(UsageError, match="in_channels 9; SynFER needs the 4-channel"):
        _train("synfer", folders["maugen"], data, tmp_path / "o")
    with pytest.raises(UsageError, match="needs --sd15 FOLDER"):
        sd15_options({"data": str(data)}, "maugen")
    with pytest.raises(UsageError, match="no option 'bogus'"):
        maugen_train("sd15", {"sd15": "x", "data": "y", "bogus": 1})
    with pytest.raises(UsageError, match="trains stage text, adapter, fer, labeller, not 'base'"):
        synfer_train("sd15", {"sd15": "x", "data": "y", "stage": "base"})
    # a set without the labels the method needs: MAUGen's DISFA12 AUs; SynFER text stage: expressions
    unlabelled = write_generated(get_generator("maugen-tiny"), _conds(2), tmp_path / "claims")  # DISFA12, no expr
    with pytest.raises(DataError, match="SynFER's text stage trains on expression labels"):
        _train("synfer", folders["synfer"], unlabelled, tmp_path / "o", stage="text")
    no_au = few_labelled(tmp_path / "no-au", ())  # the adapter trains on the AUs a set labels: here none
    with pytest.raises(DataError, match="SynFER's adapter stage trains on AU intensities .* labels none of them"):
        _train("synfer", folders["synfer"], no_au, tmp_path / "o")
    none = few_labelled(tmp_path / "none", (7, 10))  # no DISFA12 AU at all
    with pytest.raises(DataError, match=r"manifest.yaml: MAUGen trains on AU intensities .* labels none of them"):
        _train("maugen", folders["maugen"], none, tmp_path / "o")
    uncaptioned = few_labelled(tmp_path / "few", (6, 12))
    with pytest.raises(DataError, match=r"few/labels.csv: row 2: b.png: no caption \(empty prompt\); MAUGen trains "
                                        r"on the set's own captions: .* or pass captions=world"):
        _train("maugen", folders["maugen"], uncaptioned, tmp_path / "o")
    with pytest.raises(UsageError, match="--sd15 is for --config sd15"):
        from bench.cli import build_parser

        args = build_parser().parse_args(["train", "maugen", "--sd15", str(folders["maugen"])])
        args.func(args)


def test_maugen_sd15_trains_on_a_labelled_subset_with_world_captions(folders, tmp_path):
    """A set labelling 2 of DISFA12 without captions or expressions trains with captions=world; training.json
    names the labelled and the masked AUs and the caption rule."""
    few = few_labelled(tmp_path / "few", (6, 12))
    out = _train("maugen", folders["maugen"], few, tmp_path / "m", captions="world", steps=1, grad_accum=1)
    rep = json.loads((out / "training.json").read_text())
    assert rep["labelled_aus"] == [6, 12] and rep["masked_aus"][:3] == [1, 2, 4]
    assert rep["captions"].startswith("world: the world grammar") and rep["config"]["captions"] == "world"
    assert rep["log"] and all(np.isfinite(v) for row in rep["log"] for k, v in row.items() if k != "step")


def test_synfer_sd15_folder_gets_sd_sampling_scheduler_and_widths_from_its_unet(tmp_path):
    """SynFER on an SD-shaped folder whose scheduler config (PNDM) omits clip_sample: DDIM with clip_sample and
    set_alpha_to_one off, steps_offset 1; the adapter and labeller sized from the UNet (cross-attention 32)."""
    from reference.synfer.config import from_sd15_folder

    pipe = from_sd15_folder(sd_like_folder(tmp_path, 4, fp16_variant=False))
    c = pipe.scheduler.config
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    assert (c.clip_sample, c.set_alpha_to_one, c.steps_offset) == (False, False, 1)
    assert pipe.au_adapter.config.cross_attention_dim == pipe.unet.config.cross_attention_dim == 32
