"""Copy rates (bench.metrics.alignment.copy_rates, bench.studies.copyrate): hand-computed cases, intervals, and the
filed world-v2 board read back through the protocol's own occurrence rules and row -> condition mapping."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main as augen
from bench.metrics import alignment as A
from bench.metrics.alignment import copy_rates
from bench.publish.frame import samples_frame
from bench.scoring.alignment import judge_occurrence
from bench.scoring.protocols import load_protocol
from bench.studies import copyrate
from bench.world.conditions import suite_conditions

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "leaderboards" / "results"
FILED = RESULTS / "world-v2"
nan = np.nan


def test_copy_rates_binary_by_hand():
    request = np.array([[1, 0], [1, 1], [0, nan], [0, 1]])
    claim = np.array([[1, 0], [0, 1], [0, 1], [nan, 0]])
    judge = np.array([[0, 0], [1, 0], [1, 1], [1, 0]])
    # labelled cells: (0,0) miss on, copied; (0,1) hit, copied; (1,0) hit, not copied; (1,1) miss on, copied;
    # (2,0) miss off, copied; (3,1) miss on, claim = judge. (2,1) has no request, (3,0) no claim.
    got = copy_rates(request, claim, judge)
    assert got == {"n_cells": 6, "n_miss": 4, "n_hit": 2, "miss_rate": 4 / 6, "copy_on_miss": 3 / 4,
                   "judge_on_miss": 1 / 4, "agree_on_hit": 1 / 2, "n_miss_on": 3, "copy_on_miss_on": 2 / 3,
                   "n_miss_off": 1, "copy_on_miss_off": 1.0}


def test_copy_rates_expression_by_hand():
    request = np.array([0, 1, 2, 3, -1, 4])
    claim = np.array([0, 1, 5, -1, 2, 7])
    judge = np.array([0, 2, 3, 3, 2, 7])
    # cells 0 (hit, copied), 1 (miss, copied), 2 (miss, claim neither), 5 (miss, claim = judge); 3 and 4 unlabelled
    got = copy_rates(request, claim, judge)
    assert {k: got[k] for k in ("n_cells", "n_miss", "n_hit", "miss_rate", "copy_on_miss", "judge_on_miss",
                                "agree_on_hit")} == {"n_cells": 4, "n_miss": 3, "n_hit": 1, "miss_rate": 0.75,
                                                     "copy_on_miss": 1 / 3, "judge_on_miss": 1 / 3,
                                                     "agree_on_hit": 1.0}
    assert all(math.isnan(got[k]) for k in ("n_miss_on", "copy_on_miss_on", "n_miss_off", "copy_on_miss_off"))


def test_copy_rates_without_cells_or_misses():
    got = copy_rates(np.full((3, 2), nan), np.ones((3, 2)), np.ones((3, 2)))
    assert got["n_cells"] == 0 and math.isnan(got["miss_rate"]) and math.isnan(got["copy_on_miss"])
    got = copy_rates(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 2)))
    assert got["miss_rate"] == 0.0 and math.isnan(got["copy_on_miss"]) and got["agree_on_hit"] == 1.0
    with pytest.raises(ValueError):
        copy_rates(np.ones((3, 2)), np.ones((3, 1)), np.ones((3, 2)))


def test_intervals_hold_the_point_estimate(rng):
    n = 300
    request = rng.integers(0, 2, (n, 5)).astype(float)
    judge = np.where(rng.random((n, 5)) < 0.2, 1 - request, request)
    claim = np.where(rng.random((n, 5)) < 0.5, request, judge)
    claim[rng.random((n, 5)) < 0.1] = nan
    got = copyrate.with_intervals(request, claim, judge, {"n_boot": 200, "seed": 0, "alpha": 0.05})
    assert set(got["ci95"]) == set(copyrate.SHARES)
    for k, (lo, hi) in got["ci95"].items():
        assert lo <= got[k] <= hi, k
    codes = rng.integers(-1, 8, (3, n))
    got = copyrate.with_intervals(*codes, {"n_boot": 100, "seed": 1, "alpha": 0.05})
    assert set(got["ci95"]) == {"miss_rate", "copy_on_miss", "judge_on_miss", "agree_on_hit"}
    for k, (lo, hi) in got["ci95"].items():
        assert lo <= got[k] <= hi, k


@pytest.fixture(scope="module")
def world_v2():
    proto = load_protocol("world-v2")
    return proto, suite_conditions(proto, proto.conditions.n)


def _per_au(names, values):
    return {k: None if np.isnan(v) else round(float(v), 4) for k, v in zip(names, values)}


def test_judge_occurrence_rule_by_hand():
    """The scorer's judge rule (bench.scoring.alignment.judge_occurrence, which copyrate reads): the probability
    decides where given, else the intensity at the threshold, else unread."""
    ji = np.array([[0.2, 3.0, nan, 1.0]])
    jp = np.array([[0.7, 0.1, nan, nan]])
    np.testing.assert_array_equal(judge_occurrence(ji, jp, 1.0), [[1.0, 0.0, nan, 1.0]])


@pytest.mark.parametrize("entry", ["maugen-tiny", "synfer-tiny-sg-pl"])
def test_filed_alignment_and_control_reproduced(world_v2, entry):
    """The filed per-AU F1 of claims vs judge (au_f1) and of requests vs judge (au_f1_condition), and expression
    accuracy of requests vs judge, come back to 4 decimals from copyrate's labels: this pins the occurrence rules,
    the AU subset and the row -> condition mapping."""
    proto, requests = world_v2
    res = json.loads((FILED / f"{entry}.json").read_text())
    df = samples_frame(FILED / f"{entry}.json")
    labels = copyrate.entry_labels(df, proto, requests[:len(df)], FILED / f"{entry}.json")
    request, claim, judge = labels["au"]
    names = list(res["metrics"]["au_f1"]["per_au"])
    assert _per_au(names, A.f1_per_column(claim, judge)) == res["metrics"]["au_f1"]["per_au"]
    assert _per_au(names, A.f1_per_column(request, judge)) == res["metrics"]["au_f1_condition"]["per_au"]
    req_e, _, judge_e = labels["expression"]
    assert A.accuracy(req_e, judge_e) == pytest.approx(res["metrics"]["expression_accuracy_condition"]["value"],
                                                       abs=1e-12)


def test_command_on_filed_board(tmp_path):
    out, js = tmp_path / "copy_rate.md", tmp_path / "copy_rate.json"
    assert augen(["study", "copyrate", "--protocol", "world-v2", "--out", str(out), "--json", str(js),
                          "--results-dir", str(RESULTS)]) == 0
    data = json.loads(js.read_text())
    stems = sorted(p.stem for p in FILED.glob("*.json") if not p.name.endswith(".timing.json"))
    assert sorted([*data["entries"], *data["skipped"]]) == stems
    real = data["entries"]["real"]
    assert real["au"]["copy_on_miss"] == 1.0 and real["expression"]["copy_on_miss"] == 1.0
    assert real["au"]["n_miss"] > 0  # the judge errs: real's miss rate is its floor
    assert data["entries"]["maugen-tiny"]["expression"] is None
    text = out.read_text()
    assert "## AUs" in text and "## Expression" in text
    assert "| maugen-tiny | claims none |" in text
    assert str(tmp_path) not in text


def test_missing_samples_file_is_skipped(tmp_path):
    folder = tmp_path / "world-v2"
    folder.mkdir()
    for name in ("real.json", "real.samples.csv.gz", "noise.json"):
        (folder / name).write_bytes((FILED / name).read_bytes())
    data = copyrate.analyse(load_protocol("world-v2"), tmp_path)
    assert list(data["entries"]) == ["real"] and "noise" in data["skipped"]
    assert "noise" in copyrate.render(data, "cmd")
