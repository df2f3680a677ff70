"""The authors'-style caption grammar (bench/world/captions.py), the tokenizer of both styles, the refusal of prompt
words a tiny model's tokenizer lacks (MAUGen and SynFER, pipeline, generator and `augen generate --conditions`), and
the two-style tiny MAUGen config (keys of the committed checkpoints unchanged, embeddings moved by word)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from bench.core.errors import DataError, UsageError
from bench.data.aus import AU_INDEX, N_AUS
from bench.data.conditions import Condition
from bench.world.captions import (
    ADJECTIVES,
    ADVERBS,
    AUTHORS_RECORDS,
    PRESENT,
    caption,
    caption_words,
    training_prompt,
)
from bench.world.prompts import prompt_from_aus
from reference.common.text import caption_tokenizer, unknown_words, world_tokenizer, world_vocabulary


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_the_grammar_covers_every_word_of_the_authors_records():
    for _, text in AUTHORS_RECORDS:
        assert _words(text) <= caption_words(), _words(text) - caption_words()
        assert unknown_words(caption_tokenizer(), [text]) == []
    # the world tokenizer lacks most of them (the count: 9 of 21 and 15 of 28 words, hyphen split)
    assert len(unknown_words(world_tokenizer(), [AUTHORS_RECORDS[0][1]])) == 9
    assert "warm" in unknown_words(world_tokenizer(), ["a photo of a person with a warm smile"])
    assert unknown_words(caption_tokenizer(), ["a photo of a person with a warm smile"]) == []


def test_caption_is_seeded_pure_and_names_each_present_au_at_its_level():
    v = np.zeros(N_AUS)
    v[AU_INDEX[6]], v[AU_INDEX[12]], v[AU_INDEX[25]] = 2.4, 3.1, 2.0
    assert caption(v, 1, 7) == caption(v, 1, 7)
    texts = {caption(v, 1, s) for s in range(40)}
    assert len(texts) > 10  # frames, synonyms and absent regions vary with the seed
    for text in texts:
        assert text[0].isupper() and text.endswith(".")
        for au, lvl in ((6, 2), (12, 3), (25, 2)):
            words = "|".join(map(re.escape, ADVERBS[lvl - 1] + ADJECTIVES[lvl - 1]))
            phrases = "|".join(map(re.escape, PRESENT[au]))
            assert re.search(rf"\b({words}) ({phrases})\b", text), (au, text)
        for au in (1, 2, 4, 5, 9, 15, 17, 20, 26):  # absent: never a present phrase
            assert not any(p in text for p in PRESENT[au]), (au, text)
    assert unknown_words(caption_tokenizer(), sorted(texts)) == []
    neutral = caption(np.zeros(N_AUS), 0, 3)
    assert not any(p in neutral for pair in PRESENT.values() for p in pair)


def test_training_prompts_mix_both_styles_by_sample():
    v = np.zeros(N_AUS, np.float32)
    v[AU_INDEX[12]] = 2.5
    prompts = [training_prompt(v, 1, i, 0, "mixed") for i in range(200)]
    assert prompts == [training_prompt(v, 1, i, 0, "mixed") for i in range(200)]  # a resumed run sees the same
    world = sum(p == prompt_from_aus(v) for p in prompts)
    assert 70 < world < 130  # about half
    assert all(training_prompt(v, 1, i, 0, "world") == prompt_from_aus(v) for i in range(5))


def test_world_tokenizer_is_the_one_the_committed_checkpoints_saved():
    from transformers import PreTrainedTokenizerFast

    from reference.common.autoencoder import WEIGHTS

    for key in ("maugen-tiny-b3910784d4", "maugen-tiny-229745619a"):
        saved = PreTrainedTokenizerFast.from_pretrained(WEIGHTS / key / "tokenizer")
        assert saved.get_vocab() == world_tokenizer().get_vocab()
    vocab = world_vocabulary()
    assert len(vocab) == 70 and vocab[:6] == ["<pad>", "<unk>", "<bos>", "<eos>", "<ID>", "<ID2>"]


def test_caption_tokenizer_lower_cases_and_keeps_the_identity_words():
    tok = caption_tokenizer()
    ids = tok("a photo of <ID> <ID2>, Displaying WARM smile").input_ids
    assert tok.convert_ids_to_tokens(ids) == ["<bos>", "a", "photo", "of", "<ID>", "<ID2>", ",", "displaying", "warm",
                                              "smile", "<eos>"]
    # the world words keep their own ids' meaning: every world word is in the larger vocabulary
    assert set(world_vocabulary()) <= set(tok.get_vocab())


def test_config_keys_of_the_committed_checkpoints_do_not_move():
    from reference.maugen.config import TWO_STYLE, MAUGenTinyConfig

    assert MAUGenTinyConfig().key == "maugen-tiny-229745619a"
    assert MAUGenTinyConfig(variant="published").key == "maugen-tiny-b3910784d4"
    two = MAUGenTinyConfig(**TWO_STYLE)
    assert two.key not in ("maugen-tiny-229745619a", "maugen-tiny-b3910784d4")
    assert two.real_data()["labelled_images"] == 2500 * 64  # its faces are a subset of the init's
    with pytest.raises(UsageError, match="captions must be one of"):
        MAUGenTinyConfig(captions="authors")


def test_start_from_moves_token_embeddings_by_word():
    from reference.common.autoencoder import WEIGHTS
    from reference.maugen.config import TWO_STYLE, MAUGenTinyConfig, build_tiny
    from reference.maugen.pipeline_maugen import MAUGenPipeline
    from reference.maugen.train import start_from

    init = MAUGenTinyConfig(variant="published").key  # the published tiny, world grammar only
    torch.manual_seed(0)
    pipe = build_tiny(MAUGenTinyConfig(**TWO_STYLE, init=init))
    fresh = pipe.text_encoder.get_input_embeddings().weight.detach().clone()
    start_from(pipe, init)
    src = MAUGenPipeline.from_pretrained(WEIGHTS / init)
    old, new = src.tokenizer.get_vocab(), pipe.tokenizer.get_vocab()
    w_old, w_new = src.text_encoder.get_input_embeddings().weight, pipe.text_encoder.get_input_embeddings().weight
    for word in ("cheeks", "<ID>", "moderately"):
        assert torch.equal(w_new[new[word]], w_old[old[word]])
    assert torch.equal(w_new[new["warm"]], fresh[new["warm"]])  # a new word keeps its seeded random row
    assert torch.equal(pipe.unet.conv_in.weight, src.unet.conv_in.weight)


@pytest.fixture(scope="module")
def maugen():
    from tests.helpers.maugen import tiny_pipe

    return tiny_pipe("published")


@pytest.fixture(scope="module")
def synfer():
    from reference.synfer.config import SynFERTinyConfig, build_tiny

    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    p.set_progress_bar_config(disable=True)
    return p


def _cond(i: int, prompt: str) -> Condition:
    return Condition(index=i, seed=i, prompt=prompt, aus=np.zeros(N_AUS, np.float32), expression=-1)


def test_both_tiny_pipelines_refuse_unknown_words_by_name(maugen, synfer):
    text = AUTHORS_RECORDS[0][1]
    for pipe in (maugen, synfer):
        with pytest.raises(UsageError, match=r"prompt 2: .*does not know 'Displaying', 'moderate', 'warm'"):
            pipe(["a face", text], num_inference_steps=1)
    with pytest.raises(UsageError, match="negative prompt 1: .*'blurry'"):
        maugen(["a face"], num_inference_steps=1, negative_prompt="blurry")
    with pytest.warns(UserWarning, match="negative prompt 1: .*'low', 'quality', 'distortion', 'blur'"):
        synfer(["a face"], num_inference_steps=1)  # SynFER's default negative (SD-size text): warned, not refused
    with pytest.warns(UserWarning, match="'warm'.*drawn anyway"):  # the explicit opt-out draws with <unk>s
        out = maugen([text], num_inference_steps=1, unknown_words="warn")
    assert out.images.shape == (1, 64, 64, 3)


def test_generators_refuse_before_drawing_with_the_condition_and_the_file_row(maugen, synfer, tmp_path):
    from reference.maugen.generator import MAUGenGenerator
    from reference.synfer.generator import SynFERGenerator

    conds = [_cond(5, "a face"), _cond(6, "a face with a warm smile")]
    with pytest.raises(UsageError, match=r"^condition 6: maugen's tokenizer does not know 'warm', 'smile'"):
        next(MAUGenGenerator(pipe=maugen, steps=1).generate(conds))
    with pytest.raises(DataError, match=r"conds.json: row 2: .*'warm', 'smile'"):
        MAUGenGenerator(pipe=maugen, steps=1).check_prompts(conds, file=str(tmp_path / "conds.json"))
    gen = SynFERGenerator(pipe=synfer, steps=1)  # the published default sends an unlabelled condition's own prompt
    with pytest.raises(UsageError, match=r"^condition 6: synfer's tokenizer does not know 'warm', 'smile'"):
        next(gen.generate(conds))
    generic = SynFERGenerator(pipe=synfer, steps=1, unlabelled_prompt="generic", negative_prompt="")  # synfer-tiny's
    assert next(generic.generate(conds)).prompt
    assert MAUGenGenerator(pipe=maugen, steps=1, unknown_words="warn").config["unknown_words"] == "warn"


def test_warn_mode_says_it_once_for_a_whole_generation(maugen):
    """A generator checks every condition before drawing any; the pipeline, called per batch, says nothing again."""
    import warnings

    from reference.maugen.generator import MAUGenGenerator

    conds = [_cond(i, "a face with a warm smile") for i in range(3)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        samples = list(MAUGenGenerator(pipe=maugen, steps=1, batch_size=1, unknown_words="warn").generate(conds))
    said = [w for w in seen if "does not know" in str(w.message)]
    assert len(samples) == 3 and len(said) == 1 and "3 of 3 prompts" in str(said[0].message)
    with pytest.raises(UsageError, match="negative prompt 1: .*'blur'"):  # the negative prompt is checked there too
        next(MAUGenGenerator(pipe=maugen, steps=1, negative_prompt="blur").generate([_cond(0, "a face")]))


def test_augen_generate_refuses_the_authors_sample_file_by_file_and_row(tmp_path, capsys):
    from bench.cli import main

    f = tmp_path / "sample_data.json"
    f.write_text(json.dumps([{"prompt": "a face with moderately raised cheeks", "intensity": [0] * 12}]
                            + [{"prompt": t, "intensity": list(v)} for v, t in AUTHORS_RECORDS]))
    code = main(["generate", "maugen-tiny", "--conditions", str(f), "--out", str(tmp_path / "set"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "sample_data.json: row 2: maugen-tiny-b3910784d4's tokenizer does not know 'Displaying'" in err
    assert not (tmp_path / "set").exists()


def test_docs_hold_the_lexicon_as_the_code_writes_it():
    from pathlib import Path

    from bench.world.captions import lexicon_markdown

    doc = (Path(__file__).parents[1] / "docs" / "captions.md").read_text()
    assert "<!-- lexicon -->\n" + lexicon_markdown() + "<!-- /lexicon -->" in doc


def test_f1_micro_pools_cells_and_skips_nan():
    from bench.metrics.alignment import f1_micro

    true = np.array([[1, 0, np.nan], [1, 1, 0], [0, 0, 1]], float)
    pred = np.array([[1, 1, 1], [0, 1, 0], [0, 0, 0]], float)
    # labelled cells: tp = (0,0), (1,1); fp = (0,1); fn = (1,0), (2,2) -> 2*2 / (2*2 + 1 + 2)
    assert f1_micro(true, pred) == pytest.approx(4 / 7)
    assert f1_micro(np.zeros((2, 2)), np.zeros((2, 2))) is None


def test_the_two_style_checkpoint_is_committed_with_the_caption_tokenizer():
    import dataclasses

    from transformers import PreTrainedTokenizerFast

    from reference.common.autoencoder import WEIGHTS
    from reference.maugen.config import TWO_STYLE, MAUGenTinyConfig

    cfg = MAUGenTinyConfig(**TWO_STYLE)
    folder = WEIGHTS / cfg.key
    saved = PreTrainedTokenizerFast.from_pretrained(folder / "tokenizer")
    assert saved.get_vocab() == caption_tokenizer().get_vocab()
    record = json.loads((folder / "training.json").read_text())
    assert record["config"] == dataclasses.asdict(cfg) and record["key"] == cfg.key
    assert unknown_words(saved, [t for _, t in AUTHORS_RECORDS]) == []
