"""The headline in words: what every board with a `headline` ranks by, defined once (the boards, `augen score`,
README.md and docs/metrics.md all take their sentence from here)."""

from __future__ import annotations


def training_value_words(score: str = "chance-corrected score (kappa or ICC: 0 = chance, 1 = perfect)",
                         test: str = "real test faces", sizes: str = "the protocol's training sizes") -> str:
    """THE definition of the headline, what every board with a `headline` ranks by (world, tasks, faces), with a
    board's own `score`, `test` set and training `sizes` filled in; its generic form is `HEADLINE`. The number itself
    is computed by bench.downstream (harness: `downstream_training_value`; tasks: the task values), as the trapezoid
    area of the score over log2(size) divided by the log2 range, then the mean over seeds or blocks."""
    return (f"training value: the {score} of recognizers trained on a set's claimed labels and tested on {test}, "
            f"averaged over {sizes} (the mean height of its curve over log2 size)")


#: The headline in one sentence (what a board ranks by), used by every board (through `training_value_words`),
#: README.md (bench.devtools.readme) and docs/metrics.md (bench.devtools.glossary).
HEADLINE = training_value_words()
