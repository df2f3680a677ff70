"""Text prompts from AU vectors, MAUGen-caption style ("a face with strongly raised inner brows, ...").

Each active AU (intensity >= 1) becomes one phrase whose adverb names its FACS level (A-E); the
parser inverts this to levels, so prompt -> AU levels round-trips exactly.
"""

from __future__ import annotations

import math
import re

import numpy as np

from bench.data.aus import AU_INDEX, AUS, N_AUS

#: Phrase per AU; {adv} takes the intensity adverb.
PHRASES: dict[int, str] = {
    1: "{adv} raised inner brows", 2: "{adv} raised outer brows", 4: "{adv} lowered, knitted brows",
    5: "{adv} widened upper eyelids", 6: "{adv} raised cheeks", 7: "{adv} tightened eyelids",
    9: "a {adv} wrinkled nose", 10: "a {adv} raised upper lip", 12: "{adv} pulled-up lip corners",
    14: "{adv} dimpled mouth corners", 15: "{adv} lowered lip corners", 17: "a {adv} raised chin",
    20: "{adv} stretched lips", 23: "{adv} tightened lips", 24: "{adv} pressed lips",
    25: "{adv} parted lips", 26: "a {adv} dropped jaw",
}
#: Adverb per FACS level A..E (intensity [1,2), [2,3), [3,4), [4,5), 5).
ADVERBS = ("slightly", "moderately", "clearly", "strongly", "extremely")
NEUTRAL = "a face with a neutral, relaxed expression"


def level(intensity: float) -> int:
    """FACS level 0 (absent) or 1-5 (A-E) of an intensity."""
    if math.isnan(intensity) or intensity < 1.0:
        return 0
    return min(5, int(math.floor(intensity)))


def prompt_from_aus(intensity: np.ndarray) -> str:
    """One prompt for a (17,) intensity vector; NaN (unlabelled) AUs are left out."""
    parts = [PHRASES[au].format(adv=ADVERBS[level(float(v)) - 1])
             for au, v in zip(AUS, np.asarray(intensity, dtype=np.float64)) if level(float(v)) > 0]
    return "a face with " + ", ".join(parts) if parts else NEUTRAL


_PATTERNS = [(au, re.compile(re.escape(PHRASES[au]).replace(re.escape("{adv}"), "(" + "|".join(ADVERBS) + ")")))
             for au in AUS]


def levels_from_prompt(prompt: str) -> np.ndarray:
    """(17,) int FACS levels named by a prompt made by `prompt_from_aus` (0 where an AU is absent)."""
    out = np.zeros(N_AUS, dtype=np.int64)
    for au, pat in _PATTERNS:
        if m := pat.search(prompt):
            out[AU_INDEX[au]] = ADVERBS.index(m.group(1)) + 1
    return out
