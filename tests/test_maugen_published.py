"""MAUGen's published variant (the authors' code; docs/fidelity-maugen.md) on tiny random components, and
loading an SD-1.5-shaped folder (fp16 variant files, SD's legacy text and scheduler configs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.data.conditions import read_condition_file
from reference.maugen import MAUGenPipeline
from reference.maugen.config import MAUGenTinyConfig, build_tiny, from_sd15_folder
from reference.maugen.generator import MAUGenGenerator
from tests.helpers.maugen import assert_batch_consistent, inputs, tiny_pipe
from tests.helpers.pins import assert_pinned
from tests.helpers.sd15 import sd_like_folder

AUTHORS_NEGATIVE_SHA256 = "ad3f21169b3d8fc0f9f319c8bd8f94e01196b8c3c9eba04d6cb939add5082d32"  # inference.py:41-57


@pytest.fixture(scope="module")
def ppipe() -> MAUGenPipeline:
    return tiny_pipe("published")


@pytest.fixture(scope="module")
def pipe() -> MAUGenPipeline:
    return tiny_pipe("v1")


def test_published_tiny_samples_with_valid_shapes_and_labels(ppipe):
    assert ppipe.variant == "published" and ppipe.unet.config.class_embed_type is None
    out = ppipe(**inputs())
    assert out.images.shape == (3, 64, 64, 3) and out.images.dtype == np.uint8
    assert out.au_intensity.shape == out.au_occurrence.shape == out.au_probability.shape == (3, 12)
    assert out.au_intensity.dtype == torch.long and 0 <= out.au_intensity.min() and out.au_intensity.max() <= 5
    assert torch.equal(out.au_intensity, out.au_intensity_raw.round().long())
    assert torch.equal(out.au_occurrence, out.au_probability >= 0.5)


def test_published_cfg_halves_share_the_cue_and_the_request_never_reaches_the_model(ppipe):
    seen = []
    hook = ppipe.unet.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["encoder_hidden_states"]),
                                                with_kwargs=True)
    try:
        base = ppipe(**inputs())
    finally:
        hook.remove()
    n = 3
    for ctx in seen:  # (2B, L + 12, D): uncond rows then cond rows
        assert torch.equal(ctx[:n, -12:], ctx[n:, -12:])
        assert torch.equal(ctx[:, -12:], ppipe.mrl.cue_tokens[None].expand(2 * n, -1, -1))
    x = inputs()
    x["au_intensity"] = 5 - x["au_intensity"]
    other = ppipe(**x)
    assert np.array_equal(other.images, base.images)
    assert torch.equal(other.au_intensity, base.au_intensity) and torch.equal(other.au_probability,
                                                                              base.au_probability)


def test_published_pseudo_words_replace_token_and_position(ppipe):
    seen = {}
    enc = ppipe.text_encoder.text_model.encoder if hasattr(ppipe.text_encoder, "text_model") \
        else ppipe.text_encoder.encoder
    hook = enc.register_forward_pre_hook(lambda m, a, kw: seen.update(h=kw["inputs_embeds"]), with_kwargs=True)
    words = torch.randn(1, 2, ppipe.mrl.config.token_dim)
    try:
        ppipe.encode_text(["a photo of <ID> <ID2>, a face"], words=words)
    finally:
        hook.remove()
    ids = ppipe.tokenizer(["a photo of <ID> <ID2>, a face"]).input_ids[0]
    p = ids.index(ppipe.tokenizer.convert_tokens_to_ids("<ID>"))
    assert torch.equal(seen["h"][0, p], words[0, 0]) and torch.equal(seen["h"][0, p + 1], words[0, 1])


def test_published_inpainting_fills_black_and_samples_the_latent(ppipe):
    n, size = 2, 64
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    m, lat = ppipe.masked_latents(None, None, n, 16, 16, gen())
    black = ppipe.vae.encode(-torch.ones(n, 3, size, size)).latent_dist
    assert torch.equal(m, torch.ones(n, 1, 16, 16))
    assert torch.allclose(lat, black.sample(gen()) * ppipe.vae.config.scaling_factor, atol=1e-6)
    assert not torch.allclose(lat, black.mode() * ppipe.vae.config.scaling_factor)  # sampled, not the mode
    mask = torch.zeros(n, 1, size, size)
    mask[..., 16:48, 16:48] = 1
    img = torch.rand(n, 3, size, size) * 2 - 1
    img2 = torch.where(mask >= 0.5, torch.rand_like(img), img)  # differs only where generated
    assert torch.equal(ppipe.masked_latents(img, mask, n, 16, 16, gen())[1],
                       ppipe.masked_latents(img2, mask, n, 16, 16, gen())[1])


def test_published_batch_consistency(ppipe):
    assert_batch_consistent(ppipe)


def test_published_save_load_round_trip_identical(ppipe, tmp_path):
    a = ppipe(**inputs())
    ppipe.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "mrl" / "config.json").read_text())
    assert cfg["variant"] == "published"
    loaded = MAUGenPipeline.from_pretrained(tmp_path / "m")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.variant == "published"
    b = loaded(**inputs())
    assert np.array_equal(a.images, b.images) and torch.equal(a.au_intensity, b.au_intensity)
    # loaded (mmapped) weights are 8-byte aligned, built ones 64: CPU kernels may then differ in the last bit
    assert torch.allclose(a.au_probability, b.au_probability, rtol=0, atol=1e-6)
    assert torch.allclose(a.au_intensity_raw, b.au_intensity_raw, rtol=0, atol=1e-5)


def test_variants_cannot_be_mixed(pipe, ppipe):
    with pytest.raises(ValueError, match="mrl is 'published' but label_head is 'v1'"):
        MAUGenPipeline(**{**ppipe.components, "label_head": pipe.label_head})
    with pytest.raises(ValueError, match="no class embedding"):
        MAUGenPipeline(**{**ppipe.components, "unet": pipe.unet, "label_head": ppipe.label_head})


def test_negative_prompt_defaults(pipe, ppipe):
    import hashlib

    from reference.maugen.pipeline_maugen import MAUGEN_NEGATIVE_PROMPT

    assert hashlib.sha256(MAUGEN_NEGATIVE_PROMPT.encode()).hexdigest() == AUTHORS_NEGATIVE_SHA256
    assert ppipe.default_negative_prompt() == pipe.default_negative_prompt() == ""  # 64 px tiny
    gen = MAUGenGenerator(pipe=ppipe)
    assert (gen.steps, gen.guidance_scale, gen.negative_prompt) == (30, 7.5, "")
    assert gen.config["variant"] == "published" and gen.config["scheduler_config"]["clip_sample"] is False


def test_generator_inpaints_a_head_mask_onto_frames(ppipe, tmp_path):
    from PIL import Image

    from bench.core.errors import UsageError

    mask = np.zeros((64, 64), np.uint8)
    mask[8:40, 16:48] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    (tmp_path / "frames").mkdir()
    for i in range(2):
        Image.fromarray(np.full((80, 80, 3), 60 * i, np.uint8)).save(tmp_path / "frames" / f"{i}.png")
    conds = read_condition_file(_condition_file(tmp_path))
    gen = MAUGenGenerator(pipe=ppipe, steps=2, guidance_scale=3.0, frames=tmp_path / "frames", mask=tmp_path / "mask.png")
    assert gen.config["frames"] == "frames" and gen.config["mask"] == "mask.png"
    samples = list(gen.generate(conds))
    assert len(samples) == 2 and samples[0].image.shape == (64, 64, 3)
    plain = list(MAUGenGenerator(pipe=ppipe, steps=2, guidance_scale=3.0).generate(conds))
    assert not np.array_equal(samples[0].image, plain[0].image)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "empty.png")
    (tmp_path / "none").mkdir()
    for kw, msg in [(dict(frames=tmp_path / "frames"), "frames= needs mask="),
                    (dict(mask=tmp_path / "nope.png"), "no such file"),
                    (dict(mask=tmp_path / "empty.png"), "no white pixel"),
                    (dict(frames=tmp_path / "none", mask=tmp_path / "mask.png"), "no .png"),
                    (dict(frames=tmp_path / "missing", mask=tmp_path / "mask.png"), "no such folder")]:
        with pytest.raises(UsageError, match=msg):
            MAUGenGenerator(pipe=ppipe, **kw)


def _condition_file(tmp_path):
    f = tmp_path / "conds.json"
    f.write_text(json.dumps([{"prompt": "a face", "intensity": [0] * 12, "seed": 0},
                             {"prompt": "a face", "intensity": [2] * 12, "seed": 1}]))
    return f


def test_pipeline_refuses_bad_inpaintinginputs(ppipe):
    with pytest.raises(ValueError, match="image and mask_image go together"):
        ppipe(**inputs(), mask_image=torch.ones(3, 1, 64, 64))
    with pytest.raises(ValueError, match="mask_image 1"):
        ppipe(**inputs(), image=torch.zeros(3, 3, 64, 64), mask_image=torch.ones(3, 3, 64, 64))
    with pytest.raises(ValueError, match="must be 64x64"):
        ppipe(**inputs(), image=torch.zeros(3, 3, 32, 32), mask_image=torch.ones(3, 1, 32, 32))


# -- SD-1.5 folder loading, on an SD-shaped folder of tiny random weights ------------------------------------


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return sd_like_folder(tmp_path_factory.mktemp("sd15"))


@pytest.fixture(scope="module")
def sd_pipe(sd_folder):
    return from_sd15_folder(sd_folder, weights_variant="fp16")


def test_sd15_folder_fp16_variant_loads(sd_folder, sd_pipe):
    assert sd_pipe.variant == "published" and sd_pipe.unet.dtype == torch.float32
    assert [p.suffixes for p in (sd_folder / "unet").glob("*.safetensors")] == [[".fp16", ".safetensors"]]
    with pytest.raises(OSError):  # why the option exists: no plain weight files in such a folder
        from_sd15_folder(sd_folder)


def test_sd15_folder_scheduler_has_clip_sample_off(sd_pipe):
    cfg = sd_pipe.scheduler.config
    assert type(sd_pipe.scheduler).__name__ == "DDIMScheduler" and sd_pipe.scheduler_source == "PNDMScheduler"
    assert (cfg.clip_sample, cfg.set_alpha_to_one, cfg.steps_offset) == (False, False, 1)
    assert (cfg.beta_schedule, cfg.beta_start, cfg.beta_end) == ("scaled_linear", 0.00085, 0.012)


def test_sd15_text_pooling_takes_the_end_of_text_token(sd_pipe):
    prompt = "a photo of <ID> <ID2>, a face"
    ids = sd_pipe.tokenizer([prompt], padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids.argmax() == ids[0].tolist().index(sd_pipe.tokenizer.convert_tokens_to_ids("<ID2>"))  # SD's bug
    hidden, pooled = sd_pipe.encode_text([prompt])
    eot = ids[0].tolist().index(sd_pipe.tokenizer.eos_token_id)
    assert torch.equal(pooled[0], hidden[0, eot]) and not torch.equal(pooled[0], hidden[0, ids.argmax()])


def test_published_training_step_reaches_every_part():
    from reference.maugen.train import training_step

    cfg = MAUGenTinyConfig(variant="published", batch=4)
    torch.manual_seed(0)
    ppipe = build_tiny(cfg)
    for m in (ppipe.unet, ppipe.text_encoder, ppipe.mrl, ppipe.label_head, ppipe.identity_encoder):
        m.train()
    loss, parts = training_step(ppipe, cfg, 0)
    loss.backward()
    assert set(parts) == {"diffusion", "label", "mrl"} and np.isfinite(list(parts.values())).all()
    for name, par in [("cue", ppipe.mrl.cue_tokens), ("i2t", ppipe.mrl.i2t_first.fc_out.weight),
                      ("idm", ppipe.label_head.readers[0].idm.W_Q.weight),
                      ("lgfe", ppipe.label_head.blocks[0].attn_text.in_proj_weight),
                      ("reg", ppipe.label_head.dual_head.reg[0][0].weight)]:
        assert par.grad is not None and par.grad.abs().sum() > 0, name


# -- the committed published tiny checkpoint (the board's `maugen-tiny`) --------------------------------------

def test_published_tiny_checkpoint_is_the_generator_default(one_thread):
    """`maugen-tiny` with no options: the published checkpoint with the authors' 30 steps / CFG 7.5 and the ""
    null it was trained with, recorded as version 2 with its variant; images and labels pinned on 4 conditions."""
    from bench.core.errors import UsageError
    from bench.world.conditions import world_conditions
    from reference.maugen.config import MAUGenTinyConfig
    from reference.maugen.generator import MAUGenTiny

    gen = MAUGenTiny(train=False)
    assert MAUGenTinyConfig(variant="published").key == "maugen-tiny-b3910784d4"
    assert gen.pipe.variant == "published" and gen.negative_prompt == "" and gen.version == "2"
    assert gen.config == {"weights": "maugen-tiny-b3910784d4", "steps": 30, "guidance_scale": 7.5,
                          "scheduler": "DDIMScheduler", "variant": "published"}
    assert gen.real_data["labelled_images"] == 2500 * 64
    assert_pinned(gen.generate(world_conditions({"seed": 0, "image_size": 64}, "val", 4)), "maugen-tiny-published")
    assert MAUGenTiny(train=False, steps=10).config["steps"] == 10
    with pytest.raises(UsageError, match="variant must be one of published, v1"):
        MAUGenTiny(variant="v2", train=False)


def test_saved_checkpoints_hold_no_path_of_the_training_machine(tmp_path):
    """`save_trained` drops `_name_or_path` (the folder a component was loaded from) from every component config
    and writes training.json beside them (all three trainers save through it)."""
    from pathlib import Path

    from reference.common.parts import save_trained

    root = Path(__file__).resolve().parent.parent
    pipe = MAUGenPipeline.from_pretrained(root / "reference" / "weights" / "maugen-tiny-b3910784d4")
    pipe.vae.register_to_config(_name_or_path=str(tmp_path / "somewhere"))  # as a VAE loaded from a folder has it
    out = save_trained(pipe, tmp_path / "out", {"key": "k"})
    configs = list(out.glob("*/config.json"))
    assert len(configs) >= 5 and json.loads((out / "training.json").read_text()) == {"key": "k"}
    assert not any(str(tmp_path) in c.read_text() or "_name_or_path" in c.read_text() for c in configs)
