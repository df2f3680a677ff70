"""Captions in the MAUGen authors' style ("Displaying moderate warm smile, the face exhibits moderately raised
cheeks, clear lip separation and chin in neutral stance.") for an AU vector and an expression.

The world grammar (bench/world/prompts.py) stays as it is: world protocols hash conditions built with it. This
grammar is the second style a tiny MAUGen can be trained on and asked with (docs/captions.md). One caption is a
seeded, pure function of (intensities, expression, seed):

    <Frame opening> <expression phrase><frame middle> <AU phrases, "a, b and c">.

* the expression phrase is an intensity adjective (the rounded mean FACS level of the present DISFA12 AUs) and
  a descriptor of the expression (AffectNet code; neutral takes no adjective);
* every present DISFA12 AU (intensity >= 1) gets one phrase, either an adverb + participle ("moderately raised
  cheeks") or an adjective + noun ("clear lip separation"), its intensity word naming its FACS level;
* one or two face regions with no present AU get an absent phrase ("relaxed brow", "chin in neutral stance").

The level of each of the authors' adjectives is OUR READING: their `sample_data.json` (XDLI13/MAUGen at 0972afe)
holds two records, so "moderately", "clear", "well-defined", "firmly" and "distinct" are all placed at level 2
because that is where they occur there; the other levels' words are ours.
"""

from __future__ import annotations

import numpy as np

from bench.data.aus import AU_INDEX
from bench.world.prompts import level

#: The AUs a caption describes (MAUGen's label set, DISFA12).
CAPTION_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
#: Adverbs per FACS level 1..5 (A..E), for participle phrases ("{adv} raised cheeks").
ADVERBS: tuple[tuple[str, ...], ...] = (("slightly", "faintly"), ("moderately", "firmly"), ("clearly", "markedly"),
                                         ("strongly", "intensely"), ("extremely", "maximally"))
#: Adjectives per FACS level 1..5, for noun phrases ("{adj} lip separation") and the expression phrase.
ADJECTIVES: tuple[tuple[str, ...], ...] = (("slight", "faint"), ("moderate", "clear", "well-defined", "distinct"),
                                           ("marked", "pronounced"), ("strong", "intense"), ("extreme", "maximal"))
#: Per AU: (participle phrase after an adverb, noun phrase after an adjective).
PRESENT: dict[int, tuple[str, str]] = {
    1: ("raised inner brows", "inner brow raise"), 2: ("raised outer brows", "outer brow raise"),
    4: ("lowered brows", "brow furrow"), 5: ("widened eyes", "upper lid raise"),
    6: ("raised cheeks", "cheek raise"), 9: ("wrinkled nose", "nose wrinkle"),
    12: ("raised lip corners", "lip corner raise"), 15: ("lowered lip corners", "lip corner depression"),
    17: ("raised chin", "chin raise"), 20: ("stretched lips", "lip stretch"),
    25: ("separated lips", "lip separation"), 26: ("dropped jaw", "jaw drop"),
}
#: Face regions: (AUs that move it, phrases when none of them is present).
ABSENT: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "brow": ((1, 2, 4), ("relaxed brow", "smooth brow")),
    "eyes": ((5,), ("resting eyelids", "calm eyes")),
    "cheeks": ((6,), ("flat cheeks", "relaxed cheeks")),
    "nose": ((9,), ("calm nose position", "clear calm nose position")),
    "corners": ((12, 15, 20), ("neutral lip corners", "relaxed lip corners")),
    "chin": ((17,), ("chin in neutral stance", "relaxed chin")),
    "lips": ((25,), ("closed lips", "lips in neutral stance")),
    "jaw": ((26,), ("relaxed jaw", "jaw in neutral stance")),
}
#: Descriptors per AffectNet expression code 0..7 ("contented surprise" sits with surprise: our reading).
EXPRESSIONS: tuple[tuple[str, ...], ...] = (
    ("neutral expression", "calm neutral look"), ("warm smile", "contented smile", "happy smile"),
    ("sorrowful look", "sad frown"), ("surprise", "contented surprise", "open surprise"),
    ("fearful look", "anxious fear"), ("disgusted grimace", "clear disgust"),
    ("angry glare", "tense anger"), ("contemptuous smirk", "slight contempt"))
#: Sentence frames: (opening, middle); the caption is `opening + expression + middle + AU list + "."`.
FRAMES = (("Displaying ", ", the face exhibits "), ("With ", " apparent, the face shows "),
          ("Showing ", ", the face presents "))
#: The two records of the authors' sample_data.json (XDLI13/MAUGen at 0972afe): (DISFA12 intensities, prompt).
AUTHORS_RECORDS: tuple[tuple[tuple[int, ...], str], ...] = (
    ((0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 2, 0),
     "Displaying moderate warm smile, the face exhibits moderately raised cheeks, clear lip separation and chin in "
     "neutral stance."),
    ((0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0),
     "With distinct contented surprise apparent, the face shows clear calm nose position, relaxed brow, "
     "well-defined lip corner raise and firmly separated lips."),
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def caption(intensity: np.ndarray, expression: int, seed: int) -> str:
    """The authors'-style caption of a (17,) intensity vector (NaN = absent) and an AffectNet expression code
    (-1: none, read as neutral); the same (intensity, expression, seed) always gives the same words."""
    rng = np.random.default_rng(int(seed))
    v = np.asarray(intensity, dtype=np.float64)
    levels = {au: level(float(v[AU_INDEX[au]])) for au in CAPTION_AUS}
    present = [au for au in CAPTION_AUS if levels[au] > 0]
    expr = int(expression) if 0 <= int(expression) < len(EXPRESSIONS) else 0
    descriptor = _pick(rng, EXPRESSIONS[expr])
    if expr and present:
        mean = int(np.clip(np.floor(np.mean([levels[a] for a in present]) + 0.5), 1, 5))
        descriptor = f"{_pick(rng, ADJECTIVES[mean - 1])} {descriptor}"
    parts = []
    for au in present:
        participle, noun = PRESENT[au]
        if rng.random() < 0.5:
            parts.append(f"{_pick(rng, ADVERBS[levels[au] - 1])} {participle}")
        else:
            parts.append(f"{_pick(rng, ADJECTIVES[levels[au] - 1])} {noun}")
    still = [r for r, (aus, _) in ABSENT.items() if not any(levels[a] for a in aus)]
    if still:
        chosen = rng.choice(len(still), size=min(len(still), 1 + int(rng.integers(2))), replace=False)
        absent = [_pick(rng, ABSENT[still[i]][1]) for i in sorted(chosen)]
        order = rng.permutation(len(parts) + len(absent))  # absent phrases mix in among the present ones
        parts = [(parts + absent)[i] for i in order]
    opening, middle = FRAMES[int(rng.integers(len(FRAMES)))]
    return f"{opening}{descriptor}{middle}{_join(parts)}."


def caption_words() -> set[str]:
    """Every word (lower case; hyphenated words split at '-') the grammar can write."""
    texts = [w for group in (*ADVERBS, *ADJECTIVES, *EXPRESSIONS) for w in group]
    texts += [p for pair in PRESENT.values() for p in pair]
    texts += [p for _, phrases in ABSENT.values() for p in phrases]
    texts += [f for frame in FRAMES for f in frame] + ["and"]  # `_join`'s last separator
    return {w for t in texts for w in t.lower().replace(",", " ").replace("-", " ").split()}


#: Caption styles a training run can draw from ("mixed": each sample world or authors' style, half and half).
STYLES = ("world", "mixed")


def training_prompt(intensity: np.ndarray, expression: int, index: int, seed: int, style: str) -> str:
    """The prompt a training sample `index` gets under `style`: a pure function of (sample, seed), so a resumed
    run (or any batch size) sees the same words. "world": the world grammar; "mixed": a coin seeded by
    (seed, index) picks the world grammar or an authors'-style caption (its own seed drawn from the same rng)."""
    from bench.world.prompts import prompt_from_aus

    if style == "world":
        return prompt_from_aus(intensity)
    if style != "mixed":
        raise ValueError(f"caption style must be one of {', '.join(STYLES)}, not {style!r}")
    rng = np.random.default_rng([int(seed), int(index), 31])
    if rng.random() < 0.5:
        return prompt_from_aus(intensity)
    return caption(intensity, expression, int(rng.integers(2**31)))


def lexicon_markdown() -> str:
    """The lexicon as markdown tables (docs/captions.md holds this text verbatim; a test checks it)."""
    out = ["| FACS level | adverbs (\"{adv} raised cheeks\") | adjectives (\"{adj} lip separation\", expression) |",
           "|---|---|---|"]
    out += [f"| {i + 1} ({'ABCDE'[i]}) | {', '.join(a)} | {', '.join(j)} |"
            for i, (a, j) in enumerate(zip(ADVERBS, ADJECTIVES))]
    out += ["", "| AU | after an adverb | after an adjective |", "|---|---|---|"]
    out += [f"| AU{au} | {p} | {n} |" for au, (p, n) in PRESENT.items()]
    out += ["", "| region | its AUs | phrases when none is present |", "|---|---|---|"]
    out += [f"| {r} | {', '.join(f'AU{a}' for a in aus)} | {'; '.join(ph)} |" for r, (aus, ph) in ABSENT.items()]
    names = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
    out += ["", "| expression (AffectNet code) | descriptors |", "|---|---|"]
    out += [f"| {i} {names[i]} | {'; '.join(d)} |" for i, d in enumerate(EXPRESSIONS)]
    out += ["", "Frames: " + "; ".join(f"\"{a}<expression>{b}<AU phrases>.\"" for a, b in FRAMES)]
    return "\n".join(out) + "\n"
