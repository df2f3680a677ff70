"""MAUGen reference: diffusers-style fast tests on tiny random components (2 steps, CPU), its modules against
independent implementations, the generator adapter, the condition-file reader and resumable training.

`pipe` is the v1 variant (the committed tiny checkpoint's code), whose output and initial weights are pinned
here; the losses and step combination of both variants are checked against hand computation. The published
variant's pipeline tests are in test_maugen_published.py (docs/fidelity-maugen.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.core.errors import DataError
from bench.data.conditions import read_condition_file
from bench.data.sampleset import SampleSet, validate
from bench.generation.base import write_generated
from reference.maugen import MAUGenPipeline
from reference.maugen.config import MAUGenTinyConfig, build_tiny, from_sd15_folder
from reference.maugen.generator import MAUGenGenerator
from reference.maugen.modules import (
    combine_steps_v1,
    focal_bce,
    focal_mse,
    focal_mse_tanh,
    info_nce,
    labels_from_v1,
    step_weights,
)
from reference.maugen.pipeline_maugen import UpBlockTap
from tests.helpers.maugen import assert_batch_consistent, inputs, tiny_pipe
from tests.helpers.pins import assert_pinned


@pytest.fixture(scope="module")
def pipe() -> MAUGenPipeline:
    return tiny_pipe("v1")


def test_output_shapes_and_label_ranges(pipe):
    out = pipe(**inputs())
    assert out.images.shape == (3, 64, 64, 3) and out.images.dtype == np.uint8
    assert out.au_intensity.shape == out.au_occurrence.shape == out.au_probability.shape == (3, 12)
    assert out.au_intensity.min() >= 0 and out.au_intensity.max() <= 5
    assert torch.equal(out.au_occurrence, out.au_intensity > 0)  # present <=> level >= 1
    assert ((out.au_probability >= 0) & (out.au_probability <= 1)).all()
    pt = pipe(**inputs(), output_type="pt").images
    assert pt.shape == (3, 3, 64, 64) and pt.min() >= -1 and pt.max() <= 1


def test_save_load_round_trip_identical(pipe, tmp_path):
    a = pipe(**inputs())
    pipe.save_pretrained(tmp_path / "m")
    loaded = MAUGenPipeline.from_pretrained(tmp_path / "m")
    loaded.set_progress_bar_config(disable=True)
    b = loaded(**inputs())
    assert np.array_equal(a.images, b.images)
    assert torch.equal(a.au_probability, b.au_probability) and torch.equal(a.au_intensity, b.au_intensity)
    assert loaded.tokenizer("a face <ID>").input_ids == pipe.tokenizer("a face <ID>").input_ids


def test_batch_consistency(pipe):
    assert_batch_consistent(pipe)


def test_conditions_change_the_output(pipe):
    base = pipe(**inputs())
    x = inputs()
    x["au_intensity"] = 5 - x["au_intensity"]
    assert not np.array_equal(pipe(**x).images, base.images)  # AU cue tokens reach the UNet
    y = inputs()
    y["reference_image"] = -y["reference_image"]
    other = pipe(**y)
    assert not np.array_equal(other.images[1], base.images[1])  # row 1 has <ID> <ID2>: identity reaches it
    assert np.array_equal(other.images[0], base.images[0])  # row 0 has no placeholder: identity unused
    z = inputs()
    img = torch.zeros(3, 3, 64, 64)
    mask = torch.zeros(3, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    assert not np.array_equal(pipe(**z, image=img, mask_image=mask).images, base.images)  # inpainting inputs used


@pytest.mark.parametrize("bad, msg", [
    (dict(au_intensity=torch.zeros(3, 11)), "au_intensity must be"),
    (dict(au_intensity=torch.full((3, 12), 6.0)), "in \\[0, 5\\]"),
    (dict(au_intensity=torch.full((3, 12), float("nan"))), "no NaN"),
    (dict(prompt=["a", 3, "b"]), "prompt must be"),
    (dict(reference_image=torch.zeros(2, 3, 64, 64)), "reference_image must be"),
    (dict(height=60), "multiples of 8"),
])
def test_bad_inputs_raise_concisely(pipe, bad, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        pipe(**{**inputs(), **bad})


def test_up_block_tap_reads_cross_attention_blocks_and_unhooks(pipe):
    u = pipe.unet
    x = torch.randn(2, u.config.in_channels, 16, 16)
    with UpBlockTap(u) as tap:
        u(x, torch.tensor([10, 500]), encoder_hidden_states=torch.randn(2, 5, 64), class_labels=torch.zeros(2, 12))
    feats = tap.take()
    assert [tuple(f.shape) for f in feats] == [(2, u.config.block_out_channels[-1], 16, 16)]  # 8x8 block, upsampled
    assert all(not b._forward_hooks for b in u.up_blocks)


def test_step_weights_and_combination_match_hand_computation():
    w = step_weights([999, 499, 0])
    raw = np.array([1 / 1000, 1 / 500, 1.0])
    assert np.allclose(w.numpy(), raw / raw.sum(), atol=1e-7)
    p = [torch.full((1, 2), 0.1), torch.full((1, 2), 0.2), torch.full((1, 2), 0.9)]
    i = [torch.full((1, 2), 1.0), torch.full((1, 2), 2.0), torch.full((1, 2), 4.0)]
    pc, ic = combine_steps_v1(p, i, [999, 499, 0])
    assert np.allclose(pc.numpy(), (raw / raw.sum()) @ np.array([0.1, 0.2, 0.9]), atol=1e-6)
    assert np.allclose(ic.numpy(), (raw / raw.sum()) @ np.array([1.0, 2.0, 4.0]), atol=1e-6)
    occ, lev = labels_from_v1(torch.tensor([[0.2, 0.7, 0.9]]), torch.tensor([[3.0, 0.3, 4.6]]))
    assert occ.tolist() == [[False, True, True]] and lev.tolist() == [[0, 1, 5]]


def test_focal_losses_against_independent_forms():
    torch.manual_seed(0)
    logits, target = torch.randn(8, 12), (torch.rand(8, 12) > 0.5).float()
    # gamma 0, alpha 1: plain binary cross-entropy
    assert torch.allclose(focal_bce(logits, target, gamma=0.0), F.binary_cross_entropy_with_logits(logits, target))
    # gamma 2 by hand
    p = torch.sigmoid(logits)
    pt = torch.where(target > 0.5, p, 1 - p)
    assert torch.allclose(focal_bce(logits, target), (-(1 - pt) ** 2 * torch.log(pt)).mean(), atol=1e-6)
    pred, tgt = torch.rand(8, 12) * 5, torch.rand(8, 12) * 5
    assert torch.allclose(focal_mse_tanh(pred, tgt, gamma=0.0), F.mse_loss(pred, tgt))
    assert focal_mse_tanh(tgt + 0.01, tgt) < 1e-3 * F.mse_loss(tgt + 0.01, tgt) + 1e-12  # easy errors count little


def test_info_nce_equals_cross_entropy_with_one_positive():
    torch.manual_seed(0)
    a, b = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    s = torch.tensor(5.0)
    logits = s * a @ b.t()
    ref = 0.5 * (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.t(), torch.arange(6)))
    assert torch.allclose(info_nce(a, b, s), ref, atol=1e-6)


def test_generator_writes_self_labelled_disfa12_sampleset(pipe, tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps([{"prompt": "a face with clearly raised cheeks", "intensity": [0] * 4 + [3] + [0] * 7},
                             {"prompt": "a face", "intensity": [1] * 12, "seed": 7}]))
    conds = read_condition_file(f)
    gen = MAUGenGenerator(pipe=pipe, steps=2, guidance_scale=3.0, batch_size=2)
    write_generated(gen, conds, tmp_path / "out")
    m = validate(tmp_path / "out")
    assert m.labelled_aus == (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26) and not m.expression_labelled
    rows = list(SampleSet(tmp_path / "out").rows())
    assert [r.seed for r in rows] == [0, 7]
    direct = pipe(["a face with clearly raised cheeks"], au_intensity=torch.tensor([[0.0] * 4 + [3.0] + [0.0] * 7]),
                  generator=[torch.Generator().manual_seed(0)], num_inference_steps=2, guidance_scale=3.0)
    cols = [0, 1, 2, 3, 4, 6, 8, 10, 11, 12, 15, 16]  # DISFA12 in the canonical 17
    assert np.array_equal(rows[0].intensity[cols], direct.au_intensity[0].numpy())  # labels: the model's own
    assert np.isnan(np.delete(rows[0].intensity, cols)).all()


@pytest.mark.parametrize("text, msg", [
    ("{not json", "not JSON"),
    ("[]", "no conditions"),
    ('[{"intensity": [0,0,0,0,0,0,0,0,0,0,0,0]}]', "string 'prompt'"),
    ('[{"prompt": "a", "intensity": [0,0,0]}]', "list of 12 numbers"),
    ('[{"prompt": "a", "intensity": [0,0,0,0,0,0,0,0,0,0,0,9]}]', "in \\[0, 5\\]"),
    ('[{"prompt": "a", "intensity": [0,0,0,0,0,0,0,0,0,0,0,"x"]}]', "list of 12 numbers"),
    ('[{"prompt": "a", "intensity": [0,0,0,0,0,0,0,0,0,0,0,true]}]', "list of 12 numbers"),
    ('[{"prompt": "a", "intensity": [0,0,0,0,0,0,0,0,0,0,0,0], "seed": -1}]', "seed"),
    ('{"prompt": "a", "intensity": [0,0,0,0,0,0,0,0,0,0,0,0]}\n[1]', "entry 2|row 2|string 'prompt'"),
])
def test_condition_file_refuses_bad_entries(tmp_path, text, msg):
    f = tmp_path / "c.json"
    f.write_text(text)
    with pytest.raises(DataError, match=msg):
        read_condition_file(f)


def test_sd15_needs_local_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder.*nothing is downloaded"):
        from_sd15_folder(tmp_path / "missing")
    (tmp_path / "sd" / "unet").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="missing subfolder"):
        from_sd15_folder(tmp_path / "sd")


@pytest.mark.parametrize("variant", ["v1", "published"])
def test_training_resumes_to_identical_weights(tmp_path, monkeypatch, variant):
    """Two steps, a 'crash', two more == four steps straight (same data, noise and dropout per step)."""
    from reference.common.loop import train_resumable
    from reference.maugen.train import training_step

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path))
    cfg = MAUGenTinyConfig(batch=4, steps=4, variant=variant)

    def run(ckpt, stops):
        torch.manual_seed(0)
        p = build_tiny(cfg)
        mods = {"unet": p.unet, "label_head": p.label_head, "mrl": p.mrl}
        for m in mods.values():
            m.train()  # dropout on, as in training
        opt = torch.optim.AdamW([q for m in mods.values() for q in m.parameters()], lr=1e-3)

        def step(s):
            loss, parts = training_step(p, cfg, s)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return parts

        for stop in stops:
            torch.manual_seed(123 + stop)  # global RNG state must not matter
            train_resumable(ckpt, stop, step, mods, {"opt": opt}, every=1, progress=False)
            if stop != stops[-1]:  # a fresh process: rebuild everything, resume from the checkpoint
                torch.manual_seed(0)
                p = build_tiny(cfg)
                mods = {"unet": p.unet, "label_head": p.label_head, "mrl": p.mrl}
                for m in mods.values():
                    m.train()
                opt = torch.optim.AdamW([q for m in mods.values() for q in m.parameters()], lr=1e-3)
        return mods

    a = run(tmp_path / "a.ckpt", [4])
    b = run(tmp_path / "b.ckpt", [2, 4])
    for k in a:
        for (n1, t1), (_, t2) in zip(a[k].state_dict().items(), b[k].state_dict().items()):
            assert torch.equal(t1, t2), n1


def test_cli_errors_are_clear(tmp_path):
    from bench.cli import main

    assert main(["generate", "maugen", "--option", f"weights={tmp_path / 'none'}", "--out", str(tmp_path / "o"),
                 "--n", "2"]) == 2
    assert main(["generate", "maugen", "--out", str(tmp_path / "o"), "--n", "2"]) == 2
    assert main(["train", "maugen", "--config", "sd15"]) == 2
    assert main(["generate", "maugen-tiny", "--option", "bad", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_tiny_checkpoint_lookup_says_how_to_make_it(tmp_path, monkeypatch):
    from reference.common import autoencoder
    from reference.maugen import train

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path))
    monkeypatch.setattr(autoencoder, "WEIGHTS", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="augen train maugen --config tiny"):
        train.load_tiny_maugen(MAUGenTinyConfig(steps=1))
    with pytest.raises(ValueError, match="learns the latents of VAE"):
        train.train_tiny_maugen(MAUGenTinyConfig(vae="tiny-vae-other"), progress=False)


def test_label_branch_option(pipe):
    cond, unc = pipe(**inputs()), pipe(**inputs(), label_branch="uncond")
    assert np.array_equal(cond.images, unc.images)  # the branch read changes the labels, never the image
    assert not torch.equal(cond.au_probability, unc.au_probability)
    with pytest.raises(ValueError, match="label_branch"):
        pipe(**inputs(), label_branch="both")


# -- fidelity: the v1 checkpoint is pinned (the published variant: test_maugen_published.py) ----------------

def test_v1_tiny_checkpoint_samples_as_before(one_thread):
    """The committed checkpoint under `maugen-tiny variant=v1` (the filed `maugen-tiny-v1`): same key, recorded config,
    and images and labels as pinned (tests/helpers/pins.py: within float kernels' drift between CPU kinds)."""
    from bench.world.conditions import world_conditions
    from reference.maugen.generator import MAUGenTiny

    assert MAUGenTinyConfig().key == MAUGenTinyConfig(variant="v1").key == "maugen-tiny-229745619a"
    gen = MAUGenTiny(variant="v1", train=False)
    assert gen.pipe.variant == "v1" and gen.negative_prompt == "" and gen.version == "1"
    assert gen.config == {"weights": "maugen-tiny-229745619a", "steps": 25, "guidance_scale": 3.0,
                          "scheduler": "DDIMScheduler"}
    assert_pinned(gen.generate(world_conditions({"seed": 0, "image_size": 64}, "val", 4)), "maugen-tiny-v1")


V1_INIT = "accf1fbcc89d1215918a2f539a4dbcc68b75bd8a0616fd9c1a0a059e0584be33"  # build_tiny() before the variants


def test_v1_tiny_build_draws_the_same_initial_weights():
    """`augen train maugen --config tiny` still starts from the committed checkpoint's initial weights."""
    import hashlib

    torch.manual_seed(0)
    p = build_tiny(MAUGenTinyConfig())
    h = hashlib.sha256()
    for name in ("vae", "text_encoder", "unet", "mrl", "label_head", "identity_encoder"):
        for k, v in getattr(p, name).state_dict().items():
            h.update(k.encode())
            h.update(v.numpy().tobytes())
    assert h.hexdigest() == V1_INIT


def test_tiny_config_variants():
    pub = MAUGenTinyConfig(variant="published")
    assert pub.key != MAUGenTinyConfig().key and pub.key.startswith("maugen-tiny-")
    assert MAUGenTinyConfig(variant="published", aux_mid=128).key != pub.key
    with pytest.raises(ValueError, match="only apply to variant=published"):
        MAUGenTinyConfig(head_ffn=96)
    with pytest.raises(ValueError, match="variant must be one of"):
        MAUGenTinyConfig(variant="paper")


def test_published_is_a_training_option_and_bad_options_fail_before_training():
    from bench.cli import main
    from reference.maugen.train import train_command

    with pytest.raises(ValueError, match="only apply to variant=published"):
        train_command("tiny", {"head_ffn": 96}, progress=False)
    assert main(["train", "maugen", "--config", "tiny", "--option", "variant=paper"]) == 2


def test_focal_mse_is_the_authors_form():
    e = torch.tensor([[0.0, 0.2, -1.0, 3.0]])
    hand = [0.0, (1 - np.exp(-0.04)) ** 2 * 0.04, (1 - np.exp(-1.0)) ** 2 * 1.0, (1 - np.exp(-9.0)) ** 2 * 9.0]
    assert np.isclose(float(focal_mse(e, torch.zeros_like(e))), np.mean(hand), rtol=1e-6)
    assert np.isclose(float(focal_mse(e, torch.zeros_like(e), gamma=0.0)), float((e ** 2).mean()))
    tanh = [0.0, np.tanh(0.2) ** 2 * 0.04, np.tanh(1.0) ** 2, np.tanh(3.0) ** 2 * 9.0]  # v1 keeps its form
    assert np.isclose(float(focal_mse_tanh(e, torch.zeros_like(e))), np.mean(tanh), rtol=1e-6)


def test_published_step_combination_matches_hand_computation():
    from reference.maugen.dig import combine_steps, labels_from

    steps = [999, 499, 0]
    w = np.array([1 / 1000, 1 / 500, 1.0])
    w /= w.sum()
    logits = [torch.tensor([[-4.0, 2.0]]), torch.tensor([[-1.0, 0.5]]), torch.tensor([[3.0, -0.2]])]
    regs = [torch.tensor([[0.9, 0.1]]), torch.tensor([[0.5, 0.3]]), torch.tensor([[0.33, 0.05]])]
    lg, rg = combine_steps(logits, regs, steps)
    avg_logit = w @ np.array([[-4.0, 2.0], [-1.0, 0.5], [3.0, -0.2]])
    avg_reg = w @ np.array([[0.9, 0.1], [0.5, 0.3], [0.33, 0.05]])
    assert np.allclose(lg.numpy(), avg_logit, atol=1e-6) and np.allclose(rg.numpy(), avg_reg, atol=1e-6)
    occ, lev, prob = labels_from(lg, rg)
    assert np.allclose(prob.numpy(), 1 / (1 + np.exp(-avg_logit)), atol=1e-6)  # sigmoid of the averaged logits
    assert lev.tolist() == [np.round(5 * avg_reg).astype(int).tolist()]  # round(5 * averaged sigmoid)
    assert occ.tolist() == [[True, False]] and lev.tolist() == [[2, 0]]
    # no gating: a level where occurrence says absent, and level 0 where it says present
    occ, lev, _ = labels_from(torch.tensor([[-3.0, 3.0]]), torch.tensor([[0.7, 0.05]]))
    assert occ.tolist() == [[False, True]] and lev.tolist() == [[4, 0]]
