"""A word-level tokenizer for world prompts, saved and loaded like any `transformers` tokenizer.

Tiny configs have no CLIP vocabulary on disk, so they use this: every word the world's prompt grammar can
produce (plus identity placeholders and a few spares) is one token. It is a `PreTrainedTokenizerFast`, so
a pipeline's `save_pretrained`/`from_pretrained` round-trip it with no code of ours.

Two vocabularies: `world_tokenizer` (the world grammar; every committed checkpoint but the two-style one saved
it) and `caption_tokenizer` (the world grammar plus the authors'-style captions of bench/world/captions.py,
lower-cased before lookup, since the authors capitalise the first word). A word-level vocabulary reads any
other word as `<unk>`: `unknown_words` names them, and the pipelines refuse such prompts (docs/captions.md).
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast

from bench.world.captions import caption_words
from bench.world.prompts import ADVERBS, NEUTRAL, PHRASES

SPECIAL = ("<pad>", "<unk>", "<bos>", "<eos>")
ID_TOKENS = ("<ID>", "<ID2>")  # MAUGen's identity pseudo-words
EXTRA = ("a", "photo", "of", "person", "face", "with", "the", "and", "an", "expression", "neutral", "happy", "sad",
         "surprised", "fearful", "disgusted", "angry", "contemptuous", "surprise", "fear", "disgust", "anger",
         "contempt", "happiness", "sadness", "showing", "looking", "at", "camera")


def world_vocabulary() -> list[str]:
    """Every word of the world prompt grammar, sorted (ids are stable across runs)."""
    words = set(EXTRA) | set(ADVERBS) | set(NEUTRAL.replace(",", " ").split())
    for phrase in PHRASES.values():
        words |= set(phrase.replace("{adv}", " ").replace(",", " ").replace("-", " ").split())
    words |= {",", ".", "-"}
    return [*SPECIAL, *ID_TOKENS, *sorted(words - set(SPECIAL) - set(ID_TOKENS))]


def caption_vocabulary() -> list[str]:
    """The world vocabulary plus every word of the authors'-style captions, sorted (all lower case)."""
    words = set(world_vocabulary()) | caption_words()
    return [*SPECIAL, *ID_TOKENS, *sorted(words - set(SPECIAL) - set(ID_TOKENS))]


def world_tokenizer(max_length: int = 77) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: `<bos> words <eos>`, padded with `<pad>` to `max_length`."""
    return _word_tokenizer(world_vocabulary(), max_length, lowercase=False)


def caption_tokenizer(max_length: int = 77) -> PreTrainedTokenizerFast:
    """Word-level tokenizer of both caption styles; text is lower-cased first (`<ID>` `<ID2>` are matched raw)."""
    return _word_tokenizer(caption_vocabulary(), max_length, lowercase=True)


#: Tokenizer per vocabulary name (the `vocabulary` a tiny config names).
TOKENIZERS = {"world": world_tokenizer, "captions": caption_tokenizer}


def _word_tokenizer(vocabulary: list[str], max_length: int, lowercase: bool) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {w: i for i, w in enumerate(vocabulary)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    tok.add_special_tokens([*ID_TOKENS])  # matched whole, before punctuation splitting
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>",
                                                       special_tokens=[("<bos>", vocab["<bos>"]),
                                                                       ("<eos>", vocab["<eos>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=max_length)


def unknown_words(tokenizer, prompts: list[str]) -> list[str]:
    """The distinct words of `prompts` that `tokenizer` reads as its unknown token, in order of appearance
    (none for a tokenizer without one, e.g. byte-level BPE)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not getattr(tokenizer, "is_fast", False):
        return []
    out: list[str] = []
    for prompt in prompts:
        enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        for i, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
            if i == unk and prompt[a:b] not in out:
                out.append(prompt[a:b])
    return out


#: What a pipeline does with a prompt word its tokenizer lacks: "refuse" (the default) or "warn" (read it as <unk>,
#: as before this check; an explicit, recorded choice, e.g. to measure what such prompts used to give).
UNKNOWN_WORDS = ("refuse", "warn")
#: Not a user's choice: the caller has already checked these prompts (a generator checks every condition before
#: drawing any, and says so once), so the pipeline neither checks nor warns again per batch.
CHECKED = "checked"


def refuse_unknown(tokenizer, prompts: list[str], model: str, file: str | None = None, what: str = "condition",
                   rows: list[int] | None = None, mode: str = "refuse") -> None:
    """Raise when a prompt holds words `tokenizer` does not know (a word-level vocabulary would read each as
    `<unk>` and the model would draw without it): UsageError naming the words, the model and the prompt's
    label ("condition N": `rows[i]`, else the 1-based position; `what` names the kind), or DataError naming
    `file` and its row (the 1-based position) when the prompts are a file's rows. `mode="warn"`: the same message
    as a warning, and the prompts go on."""
    from bench.core.errors import DataError, UsageError

    if mode not in UNKNOWN_WORDS + (CHECKED,):
        raise UsageError(f"unknown_words must be one of {', '.join(UNKNOWN_WORDS)}, not {mode!r}")
    if mode == CHECKED or not unknown_words(tokenizer, prompts):
        return
    bad = [(row, words) for row, p in enumerate(prompts, 1) if (words := unknown_words(tokenizer, [p]))]
    row, words = bad[0]
    more = f" ({len(bad)} of {len(prompts)} prompts hold unknown words; this is the first)" if len(bad) > 1 else ""
    msg = (f"{model}'s tokenizer does not know {', '.join(repr(w) for w in words)}: it would read them as <unk> and "
           f"draw without them{more}. Use the words of its vocabulary (docs/captions.md lists them; maugen-tiny "
           f"--option captions=mixed also knows the MAUGen authors' caption style)")
    err = DataError(file, msg, row) if file is not None else UsageError(
        f"{what} {row if rows is None else rows[row - 1]}: {msg}")
    if mode == "warn":
        import warnings

        warnings.warn(f"{err} (unknown_words=warn: drawn anyway)", stacklevel=3)
        return
    raise err


def model_name(pipe) -> str:
    """What an error calls a pipeline: its folder's name, else its class."""
    from pathlib import Path

    where = getattr(pipe, "name_or_path", None)
    return Path(where).name if where else type(pipe).__name__
