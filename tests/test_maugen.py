"""MAUGen reference: diffusers-style fast tests on tiny random components (2 steps, CPU), its modules against
independent implementations, the generator adapter, the condition-file reader and resumable training."""

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
from reference.maugen.modules import combine_steps, focal_bce, focal_mse, info_nce, labels_from, step_weights
from reference.maugen.pipeline_maugen import UpBlockTap

PROMPTS = ["a face with clearly raised cheeks, strongly pulled-up lip corners", "a photo of <ID> <ID2>, a face",
           "a face with a neutral, relaxed expression"]


@pytest.fixture(scope="module")
def pipe() -> MAUGenPipeline:
    torch.manual_seed(0)
    p = build_tiny(MAUGenTinyConfig())
    p.set_progress_bar_config(disable=True)
    return p


def _inputs(n=3, seed=0):
    r = np.random.RandomState(seed)
    return dict(prompt=PROMPTS[:n], au_intensity=torch.from_numpy(r.randint(0, 6, (n, 12))).float(),
                reference_image=torch.from_numpy(r.uniform(-1, 1, (n, 3, 64, 64))).float(),
                generator=[torch.Generator().manual_seed(i) for i in range(n)], num_inference_steps=2,
                guidance_scale=3.0)


def test_output_shapes_and_label_ranges(pipe):
    out = pipe(**_inputs())
    assert out.images.shape == (3, 64, 64, 3) and out.images.dtype == np.uint8
    assert out.au_intensity.shape == out.au_occurrence.shape == out.au_probability.shape == (3, 12)
    assert out.au_intensity.min() >= 0 and out.au_intensity.max() <= 5
    assert torch.equal(out.au_occurrence, out.au_intensity > 0)  # present <=> level >= 1
    assert ((out.au_probability >= 0) & (out.au_probability <= 1)).all()
    pt = pipe(**_inputs(), output_type="pt").images
    assert pt.shape == (3, 3, 64, 64) and pt.min() >= -1 and pt.max() <= 1


def test_save_load_round_trip_identical(pipe, tmp_path):
    a = pipe(**_inputs())
    pipe.save_pretrained(tmp_path / "m")
    loaded = MAUGenPipeline.from_pretrained(tmp_path / "m")
    loaded.set_progress_bar_config(disable=True)
    b = loaded(**_inputs())
    assert np.array_equal(a.images, b.images)
    assert torch.equal(a.au_probability, b.au_probability) and torch.equal(a.au_intensity, b.au_intensity)
    assert loaded.tokenizer("a face <ID>").input_ids == pipe.tokenizer("a face <ID>").input_ids


def test_batch_consistency(pipe):
    full = pipe(**_inputs(3))
    for i in range(3):
        one = _inputs(3)
        single = pipe(prompt=[one["prompt"][i]], au_intensity=one["au_intensity"][i:i + 1],
                      reference_image=one["reference_image"][i:i + 1], generator=[one["generator"][i]],
                      num_inference_steps=2, guidance_scale=3.0)
        assert np.abs(single.images[0].astype(int) - full.images[i]).max() <= 1
        assert torch.allclose(single.au_probability[0], full.au_probability[i], atol=1e-4)


def test_conditions_change_the_output(pipe):
    base = pipe(**_inputs())
    x = _inputs()
    x["au_intensity"] = 5 - x["au_intensity"]
    assert not np.array_equal(pipe(**x).images, base.images)  # AU cue tokens reach the UNet
    y = _inputs()
    y["reference_image"] = -y["reference_image"]
    other = pipe(**y)
    assert not np.array_equal(other.images[1], base.images[1])  # row 1 has <ID> <ID2>: identity reaches it
    assert np.array_equal(other.images[0], base.images[0])  # row 0 has no placeholder: identity unused
    z = _inputs()
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
        pipe(**{**_inputs(), **bad})


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
    pc, ic = combine_steps(p, i, [999, 499, 0])
    assert np.allclose(pc.numpy(), (raw / raw.sum()) @ np.array([0.1, 0.2, 0.9]), atol=1e-6)
    assert np.allclose(ic.numpy(), (raw / raw.sum()) @ np.array([1.0, 2.0, 4.0]), atol=1e-6)
    occ, lev = labels_from(torch.tensor([[0.2, 0.7, 0.9]]), torch.tensor([[3.0, 0.3, 4.6]]))
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
    assert torch.allclose(focal_mse(pred, tgt, gamma=0.0), F.mse_loss(pred, tgt))
    assert focal_mse(tgt + 0.01, tgt) < 1e-3 * F.mse_loss(tgt + 0.01, tgt) + 1e-12  # easy errors count little


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
    gen = MAUGenGenerator(pipe=pipe, steps=2, batch_size=2)
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


def test_training_resumes_to_identical_weights(tmp_path, monkeypatch):
    """Two steps, a 'crash', two more == four steps straight (same data and noise per step)."""
    from reference.common.loop import train_resumable
    from reference.maugen.train import training_step

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path))
    cfg = MAUGenTinyConfig(batch=4, steps=4)

    def run(ckpt, stops):
        torch.manual_seed(0)
        p = build_tiny(cfg)
        mods = {"unet": p.unet, "label_head": p.label_head}
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
                mods = {"unet": p.unet, "label_head": p.label_head}
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
    cond, unc = pipe(**_inputs()), pipe(**_inputs(), label_branch="uncond")
    assert np.array_equal(cond.images, unc.images)  # the branch read changes the labels, never the image
    assert not torch.equal(cond.au_probability, unc.au_probability)
    with pytest.raises(ValueError, match="label_branch"):
        pipe(**_inputs(), label_branch="both")
