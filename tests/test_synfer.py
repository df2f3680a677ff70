"""SynFER reference: diffusers-style fast tests on tiny random components (2 steps, CPU), the decoupled AU
attention against a hand computation, semantic guidance's direction, relabelling, the generator adapter and
a smoke run of every training stage."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.data.sampleset import SampleSet, validate
from bench.generation.base import write_generated
from reference.synfer import SynFERPipeline
from reference.synfer.config import SynFERTinyConfig, build_tiny, from_sd15_folder
from reference.synfer.generator import SynFERGenerator
from reference.synfer.modules import cross_attention_layers

PROMPTS = ["a photo of a happy face", "a photo of a sad face", "a photo of a face"]


@pytest.fixture(scope="module")
def pipe() -> SynFERPipeline:
    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    p.set_progress_bar_config(disable=True)
    with torch.no_grad():  # a non-trivial adapter (its value projections start at zero)
        for lin in p.au_adapter.to_v:
            lin.weight.normal_(0, 0.2)
    return p


def _inputs(n=3):
    r = np.random.RandomState(0)
    return dict(prompt=PROMPTS[:n], au_intensity=torch.from_numpy(r.uniform(0, 5, (n, 17))).float(),
                generator=[torch.Generator().manual_seed(i) for i in range(n)], num_inference_steps=2,
                guidance_scale=3.0)


def test_output_shapes_and_labels(pipe):
    out = pipe(**_inputs())
    assert out.images.shape == (3, 64, 64, 3) and out.images.dtype == np.uint8
    for k in ("expression", "expression_pseudo", "expression_ensemble"):
        v = getattr(out, k)
        assert v.shape == (3,) and v.min() >= 0 and v.max() <= 7
    assert torch.equal(out.relabelled, out.expression_pseudo != out.expression_ensemble)
    assert torch.equal(out.expression, out.expression_ensemble)  # where they agree both are the same label
    off = pipe(**_inputs(), pseudo_label=False)
    assert (off.expression == -1).all() and not off.relabelled.any()


def test_save_load_round_trip_identical(pipe, tmp_path):
    kw = dict(expression=[1, 2, 0], semantic_guidance_scale=0.1, guidance_start=1)
    a = pipe(**_inputs(), **kw)
    pipe.save_pretrained(tmp_path / "s")
    b = SynFERPipeline.from_pretrained(tmp_path / "s")
    b.set_progress_bar_config(disable=True)
    out = b(**_inputs(), **kw)
    assert np.array_equal(a.images, out.images) and torch.equal(a.expression, out.expression)


def test_batch_consistency(pipe):
    full = pipe(**_inputs(3))
    for i in range(3):
        x = _inputs(3)
        one = pipe(prompt=[x["prompt"][i]], au_intensity=x["au_intensity"][i:i + 1], generator=[x["generator"][i]],
                   num_inference_steps=2, guidance_scale=3.0)
        assert np.abs(one.images[0].astype(int) - full.images[i]).max() <= 1


def test_adapter_starts_as_the_base_and_matches_a_hand_computation():
    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    x, t = torch.randn(2, 8, 16, 16), torch.tensor([10, 700])
    emb, au = torch.randn(2, 77, 64), torch.rand(2, 17) * 5
    with torch.no_grad():
        with_adapter = p.predict_noise(x, t, emb, au)
        plain = p.unet(x, t, encoder_hidden_states=emb).sample  # adapter installed, no tokens: text attention only
    assert torch.allclose(with_adapter, plain, atol=1e-6)  # value projections start at zero
    # one layer by hand: softmax(QK^T)V + scale * softmax(Q K_au^T) V_au
    (_, attn), idx = cross_attention_layers(p.unet)[0], 0
    ad = p.au_adapter
    torch.nn.init.normal_(ad.to_v[idx].weight, std=0.3)
    hs, ctx = torch.randn(2, 5, attn.to_q.in_features), torch.randn(2, 7, 64)
    tokens = ad.au_tokens(au)

    def attend(q, k, v):
        h = attn.heads
        sp = lambda z: z.view(2, -1, h, z.shape[-1] // h).transpose(1, 2)  # noqa: E731
        w = torch.softmax(sp(q) @ sp(k).transpose(-1, -2) / (sp(q).shape[-1] ** 0.5), -1)
        return (w @ sp(v)).transpose(1, 2).reshape(2, q.shape[1], -1)

    with torch.no_grad():
        q = attn.to_q(hs)
        ref = attend(q, attn.to_k(ctx), attn.to_v(ctx)) + 0.7 * attend(q, ad.to_k[idx](tokens), ad.to_v[idx](tokens))
        ref = attn.to_out[0](ref)
        with ad.conditioned(tokens, 0.7):
            got = attn(hs, encoder_hidden_states=ctx)
    assert torch.allclose(got, ref, atol=1e-5)


def test_semantic_guidance_lowers_the_classifier_loss(pipe):
    torch.manual_seed(1)
    pipe.scheduler.set_timesteps(10)
    t = pipe.scheduler.timesteps[7]
    lat, emb = torch.randn(2, 8, 16, 16), pipe.encode_text(PROMPTS[:2]).detach()
    target = torch.tensor([3, 5])

    def loss(e):
        with torch.no_grad():
            img = pipe.decode(pipe.x0_from_eps(lat, pipe.predict_noise(lat, t, e, None), t)).clamp(-1, 1)
            return F.cross_entropy(pipe.fer_classifier(img), target).item()

    moved = pipe.guidance_step(lat, t, emb, None, target, 0.05, 1.0)
    assert loss(moved) < loss(emb)
    assert torch.allclose((moved - emb).flatten(1).norm(dim=1), torch.full((2,), 0.05), atol=1e-5)  # normalised step


@pytest.mark.parametrize("bad, msg", [
    (dict(au_intensity=torch.zeros(3, 12)), "au_intensity must be"),
    (dict(au_intensity=torch.full((3, 17), -1.0)), "in \\[0, 5\\]"),
    (dict(semantic_guidance_scale=0.1), "needs target expressions"),
    (dict(expression=[1, 2, 9]), "codes 0-7"),
    (dict(layout_image=torch.zeros(2, 3, 64, 64)), "layout_image must be"),
    (dict(height=60), "multiples of 8"),
])
def test_bad_inputs_raise_concisely(pipe, bad, msg):
    with pytest.raises(ValueError, match=msg):
        pipe(**{**_inputs(), **bad})


def test_layout_initialisation_runs_and_is_deterministic(pipe):
    img = torch.rand(3, 3, 64, 64) * 2 - 1
    a = pipe(**_inputs(), layout_image=img)
    b = pipe(**_inputs(), layout_image=img)
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, pipe(**_inputs()).images)


def test_generator_writes_sampleset_with_pseudo_labels(pipe, tmp_path):
    from bench.world.conditions import world_conditions

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 4)
    gen = SynFERGenerator(pipe=pipe, steps=2, batch_size=3, pseudo_label=True)
    write_generated(gen, conds, tmp_path / "out", protocol="world-v1")
    validate(tmp_path / "out")
    rows = list(SampleSet(tmp_path / "out").rows())
    assert len(rows) == 4 and all(0 <= r.expression <= 7 for r in rows)
    assert np.allclose(rows[0].intensity, np.nan_to_num(conds[0].aus), atol=1e-3)
    assert gen.stats["n"] == 4 and 0 <= gen.stats["relabelled"] <= 4
    assert SampleSet(tmp_path / "out").manifest.generator["stats"] == gen.stats  # the share reaches the results
    plain = SynFERGenerator(pipe=pipe, steps=2, batch_size=3)
    assert [s.expression for s in plain.generate(conds)] == [c.expression for c in conds]


def test_sd15_needs_local_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        from_sd15_folder(tmp_path / "missing")


def test_every_training_stage_runs_and_saves(tmp_path, monkeypatch):
    from reference.common.autoencoder import WEIGHTS, TinyVAEConfig
    from reference.synfer.train import load_tiny_synfer, train_tiny_synfer

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path))
    key = TinyVAEConfig().key
    assert (WEIGHTS / key).is_dir(), "the tiny VAE the configs name must be committed"
    (tmp_path / "reference").mkdir()
    shutil.copytree(WEIGHTS / key, tmp_path / "reference" / key)
    cfg = SynFERTinyConfig(batch=4, base_steps=2, text_steps=2, adapter_steps=2, fer_steps=2, labeller_steps=2)
    out = train_tiny_synfer(cfg, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["base", "full", "text"]
    assert load_tiny_synfer(cfg, stage="base").au_adapter is None
    full = load_tiny_synfer(cfg)
    assert full.au_adapter is not None and full.pseudo_labeller is not None


def test_label_images_rectifies_with_the_ensemble_and_ignores_the_request(pipe):
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    gens = [torch.Generator().manual_seed(i) for i in range(5)]
    final, pseudo, ens, rel = pipe.label_images(x, generator=gens)
    again = pipe.label_images(x, generator=[torch.Generator().manual_seed(i) for i in range(5)])
    assert all(torch.equal(a, b) for a, b in zip((final, pseudo, ens, rel), again))
    assert torch.equal(rel, pseudo != ens) and torch.equal(final, torch.where(rel, ens, pseudo))
    assert ((0 <= final) & (final < 8)).all()


def test_relabel_generator_keeps_images_and_changes_only_expressions(pipe, tmp_path):
    from bench.world.conditions import world_conditions
    from reference.synfer.generator import SynFERRelabel

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 6)
    write_generated(SynFERGenerator(pipe=pipe, steps=2, batch_size=4), conds, tmp_path / "a", protocol="world-v1")
    write_generated(SynFERRelabel(tmp_path / "a", batch_size=4, pipe=pipe), conds, tmp_path / "b", protocol="world-v1")
    a, b = list(SampleSet(tmp_path / "a")), list(SampleSet(tmp_path / "b"))
    assert [s.file for s in a] == [s.file for s in b]
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.intensity, y.intensity) for x, y in zip(a, b))
    m = SampleSet(tmp_path / "b").manifest
    assert m.generator["config"]["pseudo_label"] is True and m.generator["stats"]["n"] == 6
    final, *_ = pipe.label_images(torch.from_numpy(np.stack([s.image for s in a])).permute(0, 3, 1, 2).float()
                                  / 127.5 - 1, generator=[torch.Generator().manual_seed(int(s.seed)) for s in a])
    assert [s.expression for s in b] == final.tolist()
