"""SynFER reference: diffusers-style fast tests on tiny random components (2 steps, CPU), the decoupled AU
attention against a hand computation, semantic guidance's direction and normalisation, layout and FERAnno
inversion, the rectification rules against hand computations, relabelling, the generator adapter, a smoke run
of every training stage, and pins of the committed tiny checkpoint's benchmark outputs."""

from __future__ import annotations

import dataclasses
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
from tests.helpers.pins import assert_pinned

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


@pytest.mark.parametrize("rule", ["soft", "hard"])
def test_output_shapes_and_labels(pipe, rule):
    out = pipe(**_inputs(), rectify=rule)
    assert out.images.shape == (3, 64, 64, 3) and out.images.dtype == np.uint8
    for k in ("expression", "expression_pseudo", "expression_ensemble"):
        v = getattr(out, k)
        assert v.shape == (3,) and v.min() >= 0 and v.max() <= 7
    assert torch.equal(out.relabelled, out.expression_pseudo != out.expression_ensemble)
    assert out.expression_prob.shape == (3, 8) and torch.allclose(out.expression_prob.sum(-1), torch.ones(3))
    assert torch.equal(out.expression, out.expression_prob.argmax(-1))
    if rule == "hard":
        assert torch.equal(out.expression, out.expression_ensemble)  # where they agree both are the same label
    else:
        keep = ~out.relabelled
        assert torch.equal(out.expression[keep], out.expression_pseudo[keep])
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

    moved = pipe.guidance_step(lat, t, emb, None, target, 0.05, 1.0, norm="global")
    assert loss(moved) < loss(emb)
    assert torch.allclose((moved - emb).flatten(1).norm(dim=1), torch.full((2,), 0.05), atol=1e-5)  # normalised step
    per_token = pipe.guidance_step(lat, t, emb, None, target, 0.05, 1.0)  # the published default: "token"
    assert torch.allclose((per_token - emb).norm(dim=-1), torch.full((2, 77), 0.05), atol=1e-5)
    assert loss(per_token) < loss(emb)


def test_guidance_scale_default_and_targetless_rows(pipe):
    base = _inputs(2)
    kw = dict(guidance_start=0, pseudo_label=False)
    # no target anywhere: guidance leaves the sample alone (no longer steered toward neutral)
    none = pipe(**_inputs(2), expression=[-1, -1], semantic_guidance_scale=0.5, **kw)
    off = pipe(**_inputs(2), semantic_guidance_scale=0.0, **kw)
    assert np.array_equal(none.images, off.images)
    # a row without a target is not guided even when the other row is
    mixed = pipe(**_inputs(2), expression=[-1, 3], semantic_guidance_scale=0.5, **kw)
    assert np.array_equal(mixed.images[0], off.images[0]) and not np.array_equal(mixed.images[1], off.images[1])
    # the published default lambda (0.1) switches on when a target is given
    dflt = pipe(**base, expression=[-1, 3], **kw)
    assert np.array_equal(dflt.images, pipe(**_inputs(2), expression=[-1, 3], semantic_guidance_scale=0.1,
                                            **kw).images)


@pytest.mark.parametrize("bad, msg", [
    (dict(au_intensity=torch.zeros(3, 12)), "au_intensity must be"),
    (dict(au_intensity=torch.full((3, 17), -1.0)), "in \\[0, 5\\]"),
    (dict(semantic_guidance_scale=0.1), "needs target expressions"),
    (dict(expression=[1, 2, 9]), "codes 0-7"),
    (dict(expression=[1, 2, -2]), "codes 0-7"),
    (dict(semantic_guidance_scale=-0.1), "semantic_guidance_scale must be >= 0"),
    (dict(guidance_norm="tensor"), "guidance_norm must be one of token, global"),
    (dict(guidance_start=1.5), "guidance_start as a fraction must be in \\[0, 1\\]"),
    (dict(guidance_start=-1), "guidance_start as a step index must be >= 0"),
    (dict(guidance_start="late"), "guidance_start must be a step index"),
    (dict(inversion="source"), "inversion must be one of neutral, target"),
    (dict(inversion_strength=0.0), "inversion_strength must be in \\(0, 1\\]"),
    (dict(feranno="noise"), "feranno must be one of invert, renoise-image, renoise"),
    (dict(rectify="vote"), "rectify must be one of soft, hard"),
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
    old = pipe(**_inputs(), layout_image=img, inversion="target", inversion_strength=1.0)
    assert not np.array_equal(a.images, old.images)


@pytest.mark.parametrize("strength, inverted", [(0.7, 7), (1.0, 10), (0.04, 1)])
def test_layout_inverts_part_of_the_schedule_under_the_neutral_prompt(pipe, monkeypatch, strength, inverted):
    from reference.synfer.pipeline_synfer import LABEL_PROMPT

    calls = []
    real = pipe.predict_noise

    def spy(x, t, emb, au, au_scale=1.0, record_maps=False):
        calls.append((int(t), emb.detach().clone(), None if au is None else au.detach().clone()))
        return real(x, t, emb, au, au_scale, record_maps)

    monkeypatch.setattr(pipe, "predict_noise", spy)
    x = _inputs(2)
    pipe(**{**x, "num_inference_steps": 10, "guidance_scale": 1.0}, layout_image=torch.rand(2, 3, 64, 64) * 2 - 1,
         inversion_strength=strength, pseudo_label=False)
    ts = pipe.scheduler.timesteps.tolist()  # descending, 10 steps
    inv, den = calls[:inverted], calls[inverted:]
    assert [c[0] for c in inv] == ts[::-1][:inverted]  # up the schedule to the step the denoising starts at
    assert [c[0] for c in den] == ts[10 - inverted:]
    neutral = pipe.encode_text([LABEL_PROMPT] * 2)
    assert all(torch.equal(e, neutral) and torch.equal(a, torch.zeros(2, 17)) for _, e, a in inv)
    assert all(torch.equal(a, x["au_intensity"]) and not torch.equal(e, neutral) for _, e, a in den)


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
    plain = SynFERGenerator(pipe=pipe, steps=2, batch_size=3, pseudo_label=False)
    assert [s.expression for s in plain.generate(conds)] == [c.expression for c in conds]


def test_generator_defaults_published_and_options_refused(pipe):
    from bench.core.errors import UsageError
    from bench.generation.base import check_generator_options

    cfg = SynFERGenerator(pipe=pipe).config
    assert (cfg["num_inference_steps"], cfg["guidance_scale"], cfg["negative_prompt"]) == (50, 7.5,
                                                                                            "low quality, distortion, blur")
    assert (cfg["semantic_guidance_scale"], cfg["guidance_start"], cfg["guidance_norm"]) == (0.1, 0.6, "token")
    assert (cfg["pseudo_label"], cfg["feranno"], cfg["rectify"]) == (True, "invert", "soft")
    for bad, msg in [(dict(guidance_norm="tensor"), "guidance_norm must be one of token, global"),
                     (dict(feranno="noise"), "feranno must be one of"), (dict(rectify="vote"), "rectify must be one"),
                     (dict(guidance_start=2.0), "fraction must be in"), (dict(steps=0), "steps must be an int"),
                     (dict(pseudo_label="yes"), "pseudo_label must be true or false"),
                     (dict(unlabelled_prompt="x"), "unlabelled_prompt must be one of condition, generic")]:
        with pytest.raises(UsageError, match=msg):
            SynFERGenerator(pipe=pipe, **bad)
    with pytest.raises(UsageError, match="has no option 'sg_norm'.*guidance_norm"):
        check_generator_options("synfer-tiny", {"sg_norm": "token"})
    check_generator_options("synfer-tiny", {"guidance_norm": "token", "feranno": "invert", "rectify": "soft"})


def test_conditions_without_an_expression_keep_their_prompt_and_are_not_guided(pipe):
    import dataclasses

    from bench.world.conditions import world_conditions
    from reference.synfer.options import TINY
    from reference.synfer.train import GENERIC

    c = dataclasses.replace(world_conditions({"seed": 0, "image_size": 64}, "val", 1)[0], expression=-1)
    assert SynFERGenerator(pipe=pipe).prompt(c) == c.prompt
    assert SynFERGenerator(pipe=pipe, unlabelled_prompt="generic").prompt(c) == GENERIC
    assert TINY.unlabelled_prompt == "generic"
    kw = dict(pipe=pipe, steps=2, guidance_start=0, pseudo_label=False)
    guided = next(SynFERGenerator(semantic_guidance_scale=0.5, **kw).generate([c]))
    plain = next(SynFERGenerator(semantic_guidance_scale=0.0, **kw).generate([c]))
    assert np.array_equal(guided.image, plain.image) and guided.expression == -1


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


@pytest.mark.parametrize("feranno", ["invert", "renoise-image", "renoise"])
def test_label_images_deterministic_for_an_image(pipe, feranno):
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    gens = lambda: [torch.Generator().manual_seed(i) for i in range(5)]  # noqa: E731
    first = pipe.label_images(x, generator=gens(), feranno=feranno)
    again = pipe.label_images(x, generator=gens(), feranno=feranno)
    assert all(torch.equal(a, b) for a, b in zip(first[:4], again[:4]))
    assert ((0 <= first.final) & (first.final < 8)).all()
    if feranno != "renoise":  # a function of the saved image only: any generator, any batch, the uint8 round trip
        u8 = ((x + 1) * 127.5).round() / 127.5 - 1
        other = pipe.label_images(u8.flip(0), generator=[torch.Generator().manual_seed(99)] * 5, feranno=feranno)
        assert torch.equal(other.final.flip(0), first.final)
        assert torch.allclose(other.prob.flip(0), first.prob, atol=1e-5)


def test_feranno_inversion_reaches_t_small_without_noise(pipe, monkeypatch):
    from reference.synfer.inversion import feranno_timesteps

    assert feranno_timesteps(50).tolist() == [17, 33, 50] and feranno_timesteps(2).tolist() == [1, 2]
    assert pipe.pseudo_labeller.config.t_small == 50
    seen = []
    real = pipe.unet.forward

    def spy(x, t, *a, **k):
        seen.append(torch.as_tensor(t).flatten()[0].item())
        return real(x, t, *a, **k)

    monkeypatch.setattr(pipe.unet, "forward", spy)
    pipe.label_images(torch.rand(2, 3, 64, 64) * 2 - 1, t_small=30)
    assert seen == [10, 20, 30, 30]  # three inversion steps, then the feature pass at t_small


@pytest.mark.parametrize("feranno", ["invert", "renoise-image"])
def test_relabelling_gives_the_pipelines_own_labels(pipe, tmp_path, feranno):
    from bench.world.conditions import world_conditions
    from reference.synfer.generator import SynFERRelabel

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 5)
    gen = SynFERGenerator(pipe=pipe, steps=2, batch_size=3, feranno=feranno)
    write_generated(gen, conds, tmp_path / "a", protocol="world-v1")
    write_generated(SynFERRelabel(tmp_path / "a", batch_size=2, feranno=feranno, rectify="soft", pipe=pipe), conds,
                    tmp_path / "b", protocol="world-v1")
    a, b = list(SampleSet(tmp_path / "a")), list(SampleSet(tmp_path / "b"))
    assert [s.expression for s in a] == [s.expression for s in b]
    assert SampleSet(tmp_path / "b").manifest.generator["config"]["feranno"] == feranno


def test_relabel_generator_keeps_images_and_changes_only_expressions(pipe, tmp_path):
    from bench.world.conditions import world_conditions
    from reference.synfer.generator import SynFERRelabel

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 6)
    write_generated(SynFERGenerator(pipe=pipe, steps=2, batch_size=4, pseudo_label=False), conds, tmp_path / "a",
                    protocol="world-v1")
    write_generated(SynFERRelabel(tmp_path / "a", batch_size=4, pipe=pipe), conds, tmp_path / "b", protocol="world-v1")
    a, b = list(SampleSet(tmp_path / "a")), list(SampleSet(tmp_path / "b"))
    assert [s.file for s in a] == [s.file for s in b]
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.intensity, y.intensity) for x, y in zip(a, b))
    m = SampleSet(tmp_path / "b").manifest
    assert m.generator["config"]["pseudo_label"] is True and m.generator["stats"]["n"] == 6
    assert "feranno" not in m.generator["config"] and "rectify" not in m.generator["config"]  # the filed rule
    labels = pipe.label_images(torch.from_numpy(np.stack([s.image for s in a])).permute(0, 3, 1, 2).float()
                               / 127.5 - 1, generator=[torch.Generator().manual_seed(int(s.seed)) for s in a],
                               feranno="renoise", rectify="hard")
    assert [s.expression for s in b] == labels.final.tolist()
    assert torch.equal(labels.final, torch.where(labels.relabelled, labels.ensemble, labels.pseudo))
    with pytest.raises(ValueError, match="feranno must be one of"):
        SynFERRelabel(tmp_path / "a", feranno="noise", pipe=pipe)


# -- pins: the committed tiny checkpoint's benchmark outputs must not move ---------------------------------------

PIN_SG_PL = {"semantic_guidance_scale": 2.0, "pseudo_label": True}  # the board entry synfer-tiny-sg-pl


@pytest.fixture(scope="module")
def committed():
    from bench.core.errors import MissingWeights
    from reference.synfer.generator import SynFERTiny

    try:
        SynFERTiny(train=False)
    except MissingWeights as e:  # pragma: no cover - the checkpoint is committed
        pytest.fail(str(e))
    return SynFERTiny


@pytest.mark.parametrize("options, name", [({}, "synfer-tiny"), (PIN_SG_PL, "synfer-tiny-sg-pl")])
def test_committed_tiny_outputs_are_pinned(committed, options, name, one_thread):
    """Images and labels as pinned (tests/helpers/pins.py: within float kernels' drift between CPU kinds)."""
    from bench.world.conditions import world_conditions

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 4)
    assert_pinned(committed(train=False, **options).generate(conds), name)


@pytest.mark.parametrize("options", [{}, PIN_SG_PL])
def test_committed_tiny_records_the_filed_config(committed, options):
    """The generator config the filed entries hold (leaderboards/results/*/synfer-tiny*.json); stability re-runs
    must reproduce it exactly."""
    want = {"au_scale": 1.0, "guidance_scale": 3.0, "guidance_start": 10, "num_inference_steps": 25,
            "pseudo_label": False, "semantic_guidance_scale": 0.0, "weights": "synfer-tiny-dfc6387958/full"}
    assert committed(train=False, **options).config == {**want, **options}
    published = committed(train=False, guidance_norm="token", feranno="invert").config
    assert published["guidance_norm"] == "token" and published["feranno"] == "invert" and "rectify" not in published


def test_committed_tiny_relabelling_is_pinned(committed, one_thread):
    from bench.world.conditions import world_conditions

    conds = world_conditions({"seed": 0, "image_size": 64}, "val", 4)
    gen = committed(train=False)
    s = list(gen.generate(conds))
    x = torch.from_numpy(np.stack([q.image for q in s])).permute(0, 3, 1, 2).float() / 127.5 - 1
    gens = [torch.Generator().manual_seed(int(q.seed)) for q in s]
    final, pseudo, ens, rel, _ = gen.pipe.label_images(x, generator=gens, feranno="renoise", rectify="hard")
    assert final.tolist() == [2, 5, 7, 5] and pseudo.tolist() == [2, 5, 7, 5] and not rel.any()


def test_committed_tiny_published_preset(committed):
    """`synfer-tiny --option preset=published` (the filed `synfer-tiny-published`): every published setting but
    the negative prompt ("" = the tiny's text null); a given option still wins; an unknown preset is refused."""
    from bench.core.errors import UsageError
    from reference.synfer.options import PUBLISHED

    gen = committed(train=False, preset="published")
    assert gen.options == dataclasses.replace(PUBLISHED, negative_prompt="")
    cfg = gen.config
    assert (cfg["num_inference_steps"], cfg["guidance_scale"], cfg["semantic_guidance_scale"]) == (50, 7.5, 0.1)
    assert (cfg["guidance_norm"], cfg["feranno"], cfg["rectify"], cfg["pseudo_label"]) == ("token", "invert", "soft",
                                                                                              True)
    assert "negative_prompt" not in cfg  # TINY's value: absent from the record
    assert committed(train=False, preset="published", steps=10).config["num_inference_steps"] == 10
    assert committed(train=False).options.steps == 25  # the default preset is untouched
    with pytest.raises(UsageError, match="preset must be one of tiny, published"):
        committed(train=False, preset="paper")
