"""The filed world-v3 board (leaderboards/results/world-v3/, written by `tox -e bench`): what its verdicts must say
on the world, where the truth is known. These read the committed results and fail when a regenerated board breaks a
rule, so a bench run that does is never committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.downstream.tasks import TASK_KINDS
from bench.publish.leaderboard import load_filed
from bench.publish.taskboard import task_tables
from bench.scoring.protocols import current_hash, load_protocol

FILED = Path(__file__).resolve().parents[1] / "leaderboards" / "results" / "world-v3"
NEED = {"real", "shuffled", "collapsed", "noise", "train-copies", "real-relabelled", "intensity-bias", "maugen-tiny",
        "synfer-tiny"}


@pytest.fixture(scope="module")
def board():
    proto = load_protocol("world-v3")
    h = current_hash(proto)
    filed = [(n, r) for n, r in load_filed(FILED) if r["protocol"]["hash"] == h]
    assert NEED <= {n for n, _ in filed}, f"filed world-v3 results lack {sorted(NEED - {n for n, _ in filed})}"
    tables, _ = task_tables(proto, filed, h)
    return proto, dict(filed), {t["kind"]: t for t in tables}


def test_the_board_comes_from_one_commit_and_one_harness(board):
    _, filed, _ = board
    assert len({r["git"] for r in filed.values()}) == 1


def test_copies_of_real_data_are_not_ranked(board):
    _, _, tables = board
    for t in tables.values():
        roles = {r["name"]: r["role"] for r in t["rows"]}
        assert roles["train-copies"] == roles["real-relabelled"] == "copies real data"


def test_shuffled_and_noise_train_nothing_and_sit_below_every_ranked_entry(board):
    """By value: the upper bound of the label-free controls' task value is below every ranked entry's lower bound."""
    _, _, tables = board
    for t in tables.values():
        by = {r["name"]: r for r in t["rows"]}
        ranked = [r for r in t["rows"] if r["role"] == "ranked"]
        assert ranked, f"{t['kind']}: nothing ranked"
        for control in ("shuffled", "noise"):
            hi = by[control]["own_ci"][1]
            assert hi < 0.05, f"{t['kind']}: {control} trains something ({hi:.3f})"
            assert all(hi < r["ci"][0] for r in ranked)


def test_the_real_control_is_worth_its_own_size_in_real_images(board):
    """The real-image equivalent is calibrated: 800 real world images (the real control's largest run, other
    identities than the curve's) read as about 800 real images on the real-only curve, in every task."""
    _, filed, _ = board
    for kind in TASK_KINDS.values():
        eq = filed["real"]["metrics"][kind.metric]["summary"]["real_equivalent"]
        assert eq["synthetic_images"] == 800 and eq["ci95"][0] <= 800 <= eq["ci95"][1], (kind.metric, eq)


def test_no_entry_is_scored_for_labels_it_does_not_claim(board):
    _, filed, tables = board
    maugen = filed["maugen-tiny"]["metrics"]
    assert maugen["task_expression"]["value"] is None and not maugen["task_expression"]["claimed"]
    assert "maugen-tiny" in tables["expression"]["absent"]
    occ = maugen["task_au_occurrence"]
    assert occ["coverage"] == [7, 12] and len(occ["per_column"]) == 7  # DISFA12 AUs of BP4D12
    assert len(tables["au_occurrence"]["shared"]) == 7


def test_a_label_shuffled_copy_trains_less_than_the_original(board):
    """`shuffled` is the `real` control's images with their labels permuted across rows: by value, in every task,
    its whole interval sits below the original's."""
    _, _, tables = board
    for t in tables.values():
        by = {r["name"]: r for r in t["rows"]}
        assert by["shuffled"]["own_ci"][1] < by["real"]["own_ci"][0], t["kind"]


def test_a_biased_intensity_scale_costs_in_the_intensity_task_only(board):
    """intensity-bias: the real control's images with the claimed intensities of present AUs raised by 3 (clipped
    to 5). Occurrence is unchanged, so the AU occurrence task barely moves; absolute-agreement ICC drops."""
    from bench.downstream.tasks import paired_t

    _, filed, _ = board
    real, bias = (filed[n]["metrics"]["task_au_intensity"]["summary"]["per_replicate"] for n in ("real",
                                                                                                  "intensity-bias"))
    # the same images, conditions and seeds block by block: only the claimed intensities differ
    assert all(b < r for b, r in zip(bias, real)) and paired_t(real, bias) < 0.05
    occ = [filed[n]["metrics"]["task_au_occurrence"]["value"] for n in ("real", "intensity-bias")]
    assert abs(occ[0] - occ[1]) < 0.02
