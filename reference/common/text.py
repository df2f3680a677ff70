"""A word-level tokenizer for world prompts, saved and loaded like any `transformers` tokenizer.

Tiny configs have no CLIP vocabulary on disk, so they use this: every word the world's prompt grammar can
produce (plus identity placeholders and a few spares) is one token. It is a `PreTrainedTokenizerFast`, so
a pipeline's `save_pretrained`/`from_pretrained` round-trip it with no code of ours.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast

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


def world_tokenizer(max_length: int = 77) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: `<bos> words <eos>`, padded with `<pad>` to `max_length`."""
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {w: i for i, w in enumerate(world_vocabulary())}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    tok.add_special_tokens([*ID_TOKENS])  # matched whole, before punctuation splitting
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>",
                                                       special_tokens=[("<bos>", vocab["<bos>"]),
                                                                       ("<eos>", vocab["<eos>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=max_length)
