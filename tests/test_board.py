"""The filed world-v2 board (leaderboards/results/world-v2/, written by `tox -e bench`): what its verdicts must
say on the world, where the truth is known. These read the committed results; they fail when a regenerated board
breaks a rule, so a bench run that does is never committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.publish.leaderboard import headline, load_filed, rank_by_training_value
from bench.scoring.protocols import current_hash, load_protocol

FILED = Path(__file__).resolve().parents[1] / "leaderboards" / "results" / "world-v2"


@pytest.fixture(scope="module")
def board():
    proto = load_protocol("world-v2")
    h = current_hash(proto)
    filed = [(n, r) for n, r in load_filed(FILED) if r["protocol"]["hash"] == h]
    names = {n for n, _ in filed}
    need = {"real", "shuffled", "collapsed", "noise", "maugen-tiny", "synfer-tiny"}
    assert need <= names, f"filed world-v2 results of the current hash lack {sorted(need - names)}"
    rows, _ = rank_by_training_value(filed, h, proto, headline(proto))
    return proto, dict(filed), rows


def test_shuffled_and_noise_rank_below_every_entry_whose_labels_pass_the_gate(board):
    """By value, not by the sort key (which puts every gate failure last whatever its value): the upper bound of
    shuffled's and noise's training value sits below the lower bound of every entry that passes the gate."""
    _, _, rows = board
    by = {r["name"]: r for r in rows}
    passing = [r for r in rows if r["passes"]]
    for control in ("shuffled", "noise"):
        assert not by[control]["passes"], f"{control}'s labels pass the gate"
        hi = by[control]["training_value_ci"][1]
        for r in passing:
            assert hi < r["training_value_ci"][0], f"{control} ({hi:.3f}) not below {r['name']}"
    assert all(r["rank"] == "ref" for r in rows if r["name"] in ("real", "shuffled", "collapsed", "noise"))


def test_real_data_at_1x_clearly_beats_the_image_blind_baselines(board):
    _, filed, _ = board
    m = filed["real"]["metrics"]
    f1 = m["downstream_au_f1_1x"]
    assert f1["ci95"][0] > f1["trivial"]["all_present"] > f1["trivial"]["base_rate_random"]
    ex = m["downstream_expression_accuracy_1x"]
    assert ex["ci95"][0] > ex["trivial"]["majority"]
    for k in ("downstream_au_kappa_1x", "downstream_expression_kappa_1x"):
        assert m[k]["ci95"][0] > 0.1


def test_every_result_records_the_real_data_its_generator_saw(board):
    proto, filed, rows = board
    for name in ("maugen-tiny", "synfer-tiny"):
        seen = filed[name]["generator"]["real_data"]["labelled_images"]
        bar = filed[name]["metrics"]["downstream_training_value"]["real_baselines"]["real_budget"]
        assert seen > 0 and bar["n"] == min(seen, proto.downstream.image_cap())
