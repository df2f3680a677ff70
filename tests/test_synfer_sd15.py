"""SynFER's four stages at SD-1.5 size on CPU (`augen train synfer --config sd15`): a folder with SD-1.5's own block
layout at tiny widths (tests/helpers/sd15.py layout="sd15"), 8 labelled world faces, 2 optimiser steps per stage;
the chain text -> adapter -> fer -> labeller samples with the published settings; each stage resumes after a
crash to identical weights; LoRA as the reproduction trains it, merged on save; fp16-variant folders; an AU subset;
rows without expressions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.core.errors import DataError, UsageError
from bench.data.aus import AUS
from bench.generation.base import get_generator, write_generated
from bench.world.conditions import world_conditions
from tests.helpers.sd15 import crash_in_step_1, saved_weights, sd_like_folder, train_cli
from tests.test_sd15_data import few_labelled

WORLD = {"seed": 0, "image_size": 48}
CHAIN = ("text", "adapter", "fer", "labeller")
TRAINED = {"text": ("unet",), "adapter": ("au_adapter",), "fer": ("fer_classifier", "fer_ensemble"),
           "labeller": ("pseudo_labeller",)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8 labelled world-train faces at 48 px (17 AU intensities + expressions); the folders are 64 px."""
    return write_generated(get_generator("real", world=WORLD), world_conditions(WORLD, "train", 8),
                           tmp_path_factory.mktemp("data") / "faces")


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return sd_like_folder(tmp_path_factory.mktemp("sd15"), 4, fp16_variant=False, name="t2i", layout="sd15")


def _train(folder, data, out, **options):
    return train_cli("synfer", folder, data, out, **options)


_weights = saved_weights


@pytest.fixture(scope="module")
def chain(sd, data, tmp_path_factory):
    """Every stage trained on the previous one's folder: {"sd": SD folder, stage: its output}."""
    root, folders = tmp_path_factory.mktemp("chain"), {"sd": sd}
    prev = sd
    for stage in CHAIN:
        prev = folders[stage] = _train(prev, data, root / stage, stage=stage)
    return folders


def test_every_stage_trains_and_the_chain_samples_with_the_published_settings(chain):
    reps = {s: json.loads((chain[s] / "training.json").read_text()) for s in CHAIN}
    text = reps["text"]
    assert text["tuning"] == "lora" and text["lora_rank"] == 4 and text["config"]["lr"] == 1e-4
    assert text["lr_schedule"] == "constant" and text["config"]["p_drop_text"] == 0.0
    assert text["unet_gradient_checkpointing"] is True
    assert reps["adapter"]["config"]["p_drop_text"] == 0.05 and reps["adapter"]["config"]["p_drop_au"] == 0.0
    assert reps["adapter"]["adapter_reads_aus"] == list(AUS) and reps["adapter"]["not_conditioned_aus"] == []
    assert reps["fer"]["data_policy"]["expressions"] == "required of every row"
    for s in CHAIN:
        assert [k for k in reps[s]["log"][-2] if k != "step"] == [{"text": "diffusion", "adapter": "diffusion",
                                                                   "fer": "ce_sum", "labeller": "ce"}[s]]
    # LoRA: the text encoder is frozen, the UNet's merged weights moved, no LoRA key is left in the saved UNet
    before, after = _weights(chain["sd"], "unet", "text_encoder"), _weights(chain["text"], "unet", "text_encoder")
    assert before.keys() == after.keys() and not any("lora" in k for k in after)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("text_encoder/"))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("unet/"))
    # each later stage keeps what the earlier ones trained
    assert all(torch.equal(v, _weights(chain["labeller"], "unet")[k]) for k, v in _weights(chain["text"], "unet").items())
    # the finished folder samples with the `synfer` generator's published defaults: guidance and pseudo-labels on
    gen = get_generator("synfer", {"weights": str(chain["labeller"]), "steps": 3})
    assert gen.options.semantic_guidance_scale > 0 and gen.options.pseudo_label
    (s,) = list(gen.generate(world_conditions(WORLD, "test", 1)))
    assert s.image.shape == (64, 64, 3) and 0 <= s.expression < 8


@pytest.mark.parametrize("stage", CHAIN)
def test_each_stage_resumes_after_a_crash_to_identical_weights(stage, chain, data, tmp_path):
    """Step 0 checkpointed, a crash in step 1, a rerun == the chain's 2 steps straight (bit for bit)."""

    source = chain[CHAIN[CHAIN.index(stage) - 1]] if stage != "text" else chain["sd"]
    with crash_in_step_1(), pytest.raises(KeyboardInterrupt):
        _train(source, data, tmp_path / "resumed", stage=stage)
    assert (tmp_path / "resumed.ckpt").is_file() and not (tmp_path / "resumed").exists()
    torch.manual_seed(1234)  # the global RNG state must not matter
    resumed = _train(source, data, tmp_path / "resumed", stage=stage)
    a, b = _weights(chain[stage], *TRAINED[stage]), _weights(resumed, *TRAINED[stage])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_lora_is_the_reproductions_and_merges_into_the_same_unet():
    """r=4 on to_q/to_k/to_v/to_out.0 of all 32 attention layers of SD-1.5's layout (16 self, 16 cross); B starts at
    zero (the UNet's output unchanged); merging gives a plain UNet computing what the LoRA UNet computed."""
    from reference.common.parts import tiny_sd15_parts
    from reference.synfer.lora import add_lora, lora_state, merge_lora

    torch.manual_seed(0)
    unet = tiny_sd15_parts()["unet"].eval()
    unet.register_to_config(sample_size=8)
    x, t, emb = torch.randn(2, 4, 8, 8), torch.tensor([10, 500]), torch.randn(2, 77, 32)
    with torch.no_grad():
        y0 = unet(x, t, encoder_hidden_states=emb).sample
        params = add_lora(unet, 4, seed=0)
        assert torch.equal(unet(x, t, encoder_hidden_states=emb).sample, y0)
        state = lora_state(unet)
        assert len(state) == 2 * 4 * 32 and len(params) == 2 * 4 * 32
        assert {p.shape[0] for n, p in state.named_parameters() if "lora_A" in n} == {4}
        for p in params:
            p.normal_(0, 0.05)
        y_lora = unet(x, t, encoder_hidden_states=emb).sample
        merge_lora(unet)
        assert not any("lora" in n for n, _ in unet.named_parameters())
        y_merged = unet(x, t, encoder_hidden_states=emb).sample
    assert (y_lora - y0).abs().max() > 1e-3 and torch.allclose(y_merged, y_lora, atol=1e-5)


def test_text_stage_full_tuning_trains_unet_and_text_encoder(sd, data, tmp_path):
    out = _train(sd, data, tmp_path / "full", stage="text", tuning="full", steps=1)
    rep = json.loads((out / "training.json").read_text())
    assert rep["tuning"] == "full" and rep["config"]["lr"] == 1e-5
    before, after = _weights(sd, "text_encoder"), _weights(out, "text_encoder")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_fp16_variant_folder_loads_and_trains(data, tmp_path):
    fp16 = sd_like_folder(tmp_path, 4, fp16_variant=True, name="fp16", layout="sd15")
    assert not list((fp16 / "unet").glob("diffusion_pytorch_model.safetensors"))
    with pytest.raises(UsageError, match=r"unet: no plain weights; the folder holds weights_variant=fp16"):
        _train(fp16, data, tmp_path / "o", stage="adapter")
    out = _train(fp16, data, tmp_path / "a", stage="adapter", steps=1, weights_variant="fp16")
    from reference.synfer.config import from_sd15_folder

    pipe = from_sd15_folder(fp16, weights_variant="fp16")  # upcast to float32 for training
    assert pipe.unet.dtype == torch.float32 and (out / "au_adapter").is_dir()


def test_adapter_trains_on_an_au_subset_without_reading_the_missing_ones(sd, tmp_path):
    """A set without AU24 (as an OpenFace import leaves it) and without expressions: the adapter reads the 16
    labelled AUs (stated in training.json), its tokens do not move with AU24's placeholder, rows are captioned with
    the generic caption (never as neutral), and the generator claims those 16 AUs only."""
    from reference.synfer.train import GENERIC, caption

    subset = tuple(a for a in AUS if a != 24)
    few = few_labelled(tmp_path / "few", subset)  # expressions -1
    out = _train(sd, few, tmp_path / "a", stage="adapter", steps=1)
    rep = json.loads((out / "training.json").read_text())
    assert caption("adapter", -1) == GENERIC and GENERIC in rep["adapter_captions"]
    with pytest.raises(UsageError, match="expression code -1 names no expression"):
        caption("text", -1)
    assert rep["adapter_reads_aus"] == list(subset) and rep["not_conditioned_aus"] == [24]
    assert rep["data_policy"]["masked_aus"] == [24]
    gen = get_generator("synfer", {"weights": str(out), "steps": 2, "semantic_guidance_scale": 0,
                                   "pseudo_label": False})
    ad = gen.pipe.au_adapter
    assert [AUS[i] for i in ad.config.read] == list(subset)
    a = torch.full((1, 17), 2.0)
    b = a.clone()
    b[0, AUS.index(24)] = 5.0
    assert torch.equal(ad.au_tokens(a), ad.au_tokens(b))
    assert gen.labelled_aus == subset
    (s,) = list(gen.generate(world_conditions(WORLD, "test", 1)))
    assert np.isnan(s.intensity[AUS.index(24)]) and not np.isnan(np.delete(s.intensity, AUS.index(24))).any()


def test_expression_stages_refuse_sets_without_them_and_the_chain_order_is_checked(sd, chain, tmp_path):
    few = few_labelled(tmp_path / "few", AUS)  # no expressions
    for stage in ("text", "fer"):
        with pytest.raises(DataError, match=f"SynFER's {stage} stage trains on expression labels; this set has none"):
            _train(sd, few, tmp_path / "o", stage=stage)
    with pytest.raises(DataError, match="SynFER's labeller stage trains on expression labels"):
        _train(chain["adapter"], few, tmp_path / "o", stage="labeller")
    with pytest.raises(UsageError, match="has no au_adapter; the labeller stage needs it"):
        _train(sd, few, tmp_path / "o", stage="labeller")
    with pytest.raises(UsageError, match="already has au_adapter; the adapter stage trains on SD-1.5 or an earlier"):
        _train(chain["adapter"], few, tmp_path / "o", stage="adapter")
    with pytest.raises(UsageError, match="adapter/unet: no fp16-variant weights; the folder holds plain files"):
        _train(chain["adapter"], few, tmp_path / "o", stage="fer", weights_variant="fp16")
    with pytest.raises(UsageError, match="sd15 SynFER trains stage text, adapter, fer, labeller, not 'base'"):
        _train(sd, few, tmp_path / "o", stage="base")


def test_the_gpu_training_check_runs_every_stage_on_cpu():
    """reference/gpucheck.py --train's SynFER check (what tools/gpu-check.sh runs in bf16 on a GPU), on CPU with
    SD-1.5's layout at tiny widths: every stage trained through the sd15 trainer, its steps timed."""
    from reference.common.parts import eval_mode, sd_scheduler, tiny_sd15_parts
    from reference.common.text import world_tokenizer
    from reference.gpucheck import SYNFER_TRAIN_STAGES, TRAIN_CHECKS
    from reference.synfer.pipeline_synfer import SynFERPipeline

    tok = world_tokenizer()
    pipe = eval_mode(SynFERPipeline(**tiny_sd15_parts(4, tok), tokenizer=tok, scheduler=sd_scheduler()))
    res = TRAIN_CHECKS["synfer"](64, 2, 2, "cpu", pipe=pipe)
    assert res["mode"] == "train" and res["precision"] == "fp32" and tuple(res["stages"]) == SYNFER_TRAIN_STAGES
    for got in res["stages"].values():
        assert got["seconds_per_step"] > 0 and got["peak_memory_gib"] is None
        assert got["images_per_s"] == pytest.approx(2 / got["seconds_per_step"], rel=0.02)
    assert res["stages"]["text"]["lr"] == 1e-4 and res["stages"]["text-full"]["lr"] == 1e-5
