"""One definition of the headline (what a board ranks by): `bench.publish.headline.training_value_words`, used by
the world board, the task board, the faces board, README.md's protocol block and docs/metrics.md (issue 29: three
different sentences described it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.publish import facesboard, taskboard
from bench.publish import headline as H
from bench.publish import leaderboard as L
from bench.scoring.protocols import load_protocol

ROOT = Path(__file__).resolve().parents[1]
#: What every board's sentence shares with the definition, whatever its score, test set and sizes.
SHARED = ("training value: the ", " of recognizers trained on a set's claimed labels and tested on ",
          " (the mean height of its curve over log2 size)")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_generic_headline_is_the_definition_with_its_defaults():
    assert H.HEADLINE == H.training_value_words()
    assert all(part in H.HEADLINE for part in SHARED)


@pytest.mark.parametrize("pid, how", [("world-v2", L.how_ranked), ("world-v3", taskboard.how_ranked),
                                      ("faces-v1", facesboard.how_ranked)])
def test_every_board_states_the_headline_through_the_definition(pid, how):
    sentence = how(load_protocol(pid))
    assert all(part in sentence for part in SHARED), sentence
    assert "area under" not in sentence  # the faces board's old, different wording


@pytest.mark.parametrize("doc", ["README.md", "docs/metrics.md"])
def test_the_docs_hold_the_generated_headline(doc):
    assert H.HEADLINE in flat((ROOT / doc).read_text())
