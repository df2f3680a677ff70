"""Verdicts per task (world-v3): claimed-only scoring, shared-label ranking, replicate intervals, real-image
equivalents, the copy gate and the harness version in the hash (bench.downstream.tasks, bench.publish.taskboard)."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy import stats

from bench.core.protocol import protocol_hash
from bench.data.aus import AU_COLUMNS
from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream import tasks as T
from bench.publish import taskboard as TB
from bench.scoring.protocols import load_protocol
from tests.helpers.protocols import MINI_WORLD, mini_v3_protocol

# -- pure functions ------------------------------------------------------------------------------------------------


def test_invert_curve_reads_the_real_curve_in_log_size():
    sizes, curve = [100, 200, 400, 800], [0.1, 0.2, 0.4, 0.3]  # not monotone: the running maximum is read
    assert T.invert_curve(sizes, curve, 0.2) == (pytest.approx(200.0), "")
    n, side = T.invert_curve(sizes, curve, 0.3)  # halfway from 0.2 to 0.4 in value: halfway in log2 size
    assert side == "" and n == pytest.approx(2 ** ((np.log2(200) + np.log2(400)) / 2))
    assert T.invert_curve(sizes, curve, 0.05) == (100.0, "<")
    assert T.invert_curve(sizes, curve, 0.5) == (800.0, ">")


def test_paired_t_equals_scipy():
    a, b = [0.41, 0.38, 0.45], [0.30, 0.33, 0.31]
    assert T.paired_t(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert T.paired_t(a, a) == 1.0


def test_replicate_t_interval_covers_the_mean_at_its_nominal_rate():
    """Three independent replicates per run (as world-v3's blocks), 4,000 runs: the Student t interval covers the
    population mean 95% of the time (binomial sd 0.0034)."""
    rng = np.random.default_rng(0)
    hits = [(lambda ci: ci[0] <= 0.3 <= ci[1])(T.t_interval(rng.normal(0.3, 0.02, 3))[1]) for _ in range(4000)]
    assert 0.94 <= np.mean(hits) <= 0.96


def _entry(per_col: dict[str, list[float]], task_aus: list[str]) -> dict:
    """A task metric entry as task_entry writes it, with a real curve where value = 0.1 * log2(n / 25)."""
    sizes = [25, 50, 100, 200, 400, 800]
    return {"columns": list(per_col), "task_aus": task_aus, "coverage": [len(per_col), len(task_aus)],
            "per_column": per_col, "largest": per_col, "synthetic_images": 800, "mixed": per_col,
            "real_same_size": None, "claimed": bool(per_col),
            "real_curve": {"sizes": sizes, "per_column": {c: [[0.1 * np.log2(n / 25)] * 3 for n in sizes]
                                                          for c in per_col}}}


def test_an_entry_labelling_fewer_aus_is_compared_on_the_aus_it_shares():
    task_aus = list(AU_COLUMNS[:4])
    full = _entry({c: [0.3, 0.31, 0.29] for c in task_aus[:2]} | {c: [0.0, 0.0, 0.0] for c in task_aus[2:]}, task_aus)
    part = _entry({c: [0.3, 0.31, 0.29] for c in task_aus[:2]}, task_aus)
    shared = task_aus[:2]
    assert T.summary(part, shared)["value"] == pytest.approx(T.summary(full, shared)["value"])
    assert T.summary(part)["value"] == pytest.approx(0.3)  # its own labels: no zero for the AUs it omits
    assert T.summary(full)["value"] == pytest.approx(0.15)  # the full entry's own mean includes its weak AUs
    eq = T.summary(part)["real_equivalent"]  # 0.3 = 0.1 * log2(n / 25) -> n = 200
    assert eq["images"] == pytest.approx(200.0) and eq["side"] == ""


# -- the harness: claimed-only scoring --------------------------------------------------------------------------


def test_evaluate_never_scores_an_unclaimed_label():
    proto = load_protocol("world-v3")
    s = proto.downstream
    rng = np.random.default_rng(0)
    n = 300
    aus = torch.tensor(rng.integers(0, 4, (n, 17)), dtype=torch.float32)
    test = DD.LabelledImages(torch.zeros(n, 3, 4, 4, dtype=torch.uint8), aus,
                             torch.tensor(rng.integers(0, 8, n)), "t")
    pred = {"au_logit": rng.normal(size=(n, 17)), "au_int": rng.uniform(0, 5, (n, 17)),
            "expression": rng.normal(size=(n, 8))}
    trained = np.zeros(17, bool)
    trained[[0, 1]] = True  # the set labels AU1 and AU2 only, and no expression
    out = DS.evaluate(pred, test, trained, False, s, thresholds=np.zeros(17))
    assert np.isnan(out["expression_kappa"])  # not 0: the set claims no expression
    assert np.isnan(out["au_kappa_by_au"][2]) and np.isfinite(out["au_kappa_by_au"][0])
    v2 = DS.evaluate(pred, test, trained, False, load_protocol("world-v2").downstream, thresholds=np.zeros(17))
    assert v2["expression_kappa"] == 0.0 and "au_kappa_by_au" not in v2  # world-v2 keeps its rule (and results)


# -- protocol hash -------------------------------------------------------------------------------------------------


def test_the_harness_version_enters_world_v3s_hash_and_leaves_world_v2s():
    v3 = load_protocol("world-v3")
    assert v3.versions == {"downstream_harness": DS.VERSION}
    assert protocol_hash(v3, "j") != protocol_hash(dataclasses.replace(v3, versions={"downstream_harness": "x"}), "j")
    v2 = load_protocol("world-v2")
    assert v2.versions == {}
    filed = json.loads((v2.path.parents[2] / "leaderboards/results/world-v2/real.json").read_text())
    from bench.scoring.protocols import current_hash

    assert current_hash(v2) == filed["protocol"]["hash"]  # world-v2's filed results stay under their hash


# -- the board on scored sets ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_board(tmp_path_factory):
    """world-mini3 results (downstream included) of the real control, a train-copies set, relabelled real images,
    the real images with labels shuffled across rows, and a "strong" entry: the real control's scores under a
    generator name with no copies (the board reads only results)."""
    from bench.generation.base import get_generator, write_generated
    from bench.scoring.score import score
    from bench.world.conditions import world_conditions

    d = tmp_path_factory.mktemp("mini3")
    proto = mini_v3_protocol(d)
    conds = world_conditions(MINI_WORLD, "val", 120)
    out = {}
    for name, gen, opts in (("real", "real", {}), ("train-copies", "world-fault", {"fault": "train_copies",
                                                                                   "level": 1.0}),
                            ("relabelled", "world-fault", {"fault": "label_noise", "level": 0.6}),
                            ("shuffled", "shuffled", {})):
        root = write_generated(get_generator(gen, opts, world=MINI_WORLD), conds, d / name, protocol="world-mini3")
        out[name] = score(root, proto, downstream=True)
    strong = copy.deepcopy(out["real"])
    strong["generator"]["name"] = "strong"
    strong["metrics"]["real_copy_share"]["value"] = 0.0
    shuffled = copy.deepcopy(out["shuffled"])
    shuffled["generator"]["name"] = "strong-shuffled"  # a label-shuffled copy of the strong set, as an entry
    shuffled["metrics"]["real_copy_share"]["value"] = 0.0
    filed = [("train-copies", out["train-copies"]), ("real-relabelled", out["relabelled"]), ("strong", strong),
             ("strong-shuffled", shuffled), ("real", out["real"])]
    return load_protocol(proto), filed, out


def test_copies_of_real_data_are_listed_not_ranked(mini_board):
    proto, filed, out = mini_board
    assert out["train-copies"]["metrics"]["real_copy_share"]["pools"]["train"] > 0.9  # train index = condition index
    assert out["relabelled"]["metrics"]["real_copy_share"]["pools"]["conditions"] == 1.0  # exact re-renders
    tables, _ = TB.task_tables(proto, filed, filed[0][1]["protocol"]["hash"])
    for t in tables:
        roles = {r["name"]: r["role"] for r in t["rows"]}
        assert roles["train-copies"] == roles["real-relabelled"] == "copies real data"
        assert roles["real"] == "reference"


def test_a_label_shuffled_copy_ranks_below_the_original(mini_board):
    proto, filed, _ = mini_board
    tables, _ = TB.task_tables(proto, filed, filed[0][1]["protocol"]["hash"])
    for t in tables:
        by = {r["name"]: r for r in t["rows"]}
        assert by["strong-shuffled"]["role"] == "fails gate" and by["strong"]["rank"] == 1
    # by value (not the sort key, which puts gate failures last), on trainings long enough to learn anything: the
    # filed world-v3 board, tests/test_board_v3.py::test_a_label_shuffled_copy_trains_less_than_the_original


def test_the_board_states_its_rule_and_shows_coverage_and_equivalents(mini_board, tmp_path):
    proto, filed, _ = mini_board
    from bench.publish.leaderboard import tasks_board

    md, page = tasks_board(proto, filed, filed[0][1]["protocol"]["hash"], [], {})
    assert "One verdict per task" in md and "is never scored" in md
    assert md.count("## ") >= 4 and "12/12" in md and " real [" in md
    assert "copies real data" in md and "<h2>AU occurrence</h2>" in page


def test_block_coverage_counts_what_the_intervals_resample():
    """bench.studies.blockcoverage's count: independent blocks cover the leave-one-out truth about 95% of the time;
    seed-only replicates that share one draw's effect (world-v2's interval) cover far less."""
    from bench.studies.blockcoverage import coverage

    rng = np.random.default_rng(1)
    runs = 2000
    blocks = rng.normal(0.3, 0.03, (runs, 3))  # draw + seed variance, independent per block
    assert 0.935 <= coverage(blocks)["share"] <= 0.965
    draw = rng.normal(0.0, 0.03, (runs, 1))  # one draw's effect shared by its three seeds
    seed_only = 0.3 + draw + rng.normal(0.0, 0.005, (runs, 3))
    assert coverage(seed_only, blocks)["share"] < 0.5



def test_replicate_blocks_train_with_their_own_seed_and_identical_trainings_run_once(monkeypatch):
    """run_downstream: block r (rows r*m .. r*m+m-1) trains with seeds[r] at every scale and in the mixed run; the
    real 1x and a real-curve point of the same images train once per seed."""
    s = load_protocol("world-v3").downstream
    s = dataclasses.replace(s, real_train=dataclasses.replace(s.real_train, n=4), scales=(0.5, 1.0, 2.0))
    m = s.block_size(4)  # 8 rows per block

    def images(n, key):
        return DD.LabelledImages(torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).clone(),
                                 torch.zeros(n, 17), torch.zeros(n, dtype=torch.int64), key)
    syn, real, test = images(3 * m, "syn"), images(4, "real"), images(10, "test")
    seen = []

    def fake_jobs(jobs, workers, progress, labels, device="cpu", ddp=None):
        seen.extend((a[0].key, a[3]) for a in jobs)
        fields = {k: 0.0 for k in DS.kinds(s)} | {"au_kappa_by_au": [0.0] * 17, "au_icc_by_au": [0.0] * 17,
                                                   "trained_aus": [True] * 17, "trained_expression": True}
        return [{**fields, "utility": float(a[3]), "rows": a[0].x[:, 0, 0, 0].tolist()} for a in jobs]
    monkeypatch.setattr(DS, "_run_jobs", fake_jobs)
    monkeypatch.setattr(DS, "trivial_baselines", lambda *a, **k: {})
    raw = DS.run_downstream(syn, real, test, s, val=test, baselines={"curve:4": real})
    assert raw["synthetic"]["2x"]["utility"] == [0.0, 1.0, 2.0]  # block r, seed r
    assert raw["mixed"]["utility"] == [0.0, 1.0, 2.0]
    keys = [k for k, _ in seen]
    assert f"syn[{m}:{2 * m}][:8]" in keys and f"syn[{2 * m}:{3 * m}][:4]" in keys  # 2x and 1x of block 2
    assert len(seen) == len(set(seen)) and sum(k == "real" for k in keys) == 3  # real 1x = curve:4, once per seed
    assert raw["baselines"]["curve:4"]["utility"] == raw["real"]["utility"] == [0.0, 1.0, 2.0]


def test_a_task_value_that_is_not_finite_is_never_ranked():
    proto = load_protocol("world-v3")
    task = next(t for t in proto.downstream.tasks if t.kind == "expression")

    def result(name, values, copy=0.0):
        e = _entry({"expression": values}, ["expression"]) | {"claimed": True}
        return (name, {"generator": {"name": name}, "protocol": {"hash": "h"},
                       "metrics": {"task_expression": e, "expression_kappa": {"ci95": [0.5, 0.6]},
                                   "real_copy_share": {"value": copy}}})
    ok = [result("a", [0.1, 0.1, 0.1]), result("b", [float("nan")] * 3), result("c", [0.3, 0.3, 0.3]),
          result("d", [0.5, 0.5, 0.5], copy=None)]
    t = TB.task_table(proto, ok, task)
    by = {r["name"]: r for r in t["rows"]}
    assert [r["name"] for r in t["rows"] if r["role"] == "ranked"] == ["c", "a"]
    assert by["c"]["rank"] == 1 and by["a"]["rank"] == 2
    assert by["b"]["role"] == "no value" and by["d"]["role"] == "no copy check"


def test_icc_a_1_and_3_1_match_shrout_and_fleiss():
    """Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; ICC(2,1) = .29, ICC(3,1) = .71."""
    from bench.metrics.alignment import icc_3_1, icc_a_1

    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    assert icc_a_1(x) == pytest.approx(0.29, abs=0.005) and icc_3_1(x) == pytest.approx(0.71, abs=0.005)
    y = np.stack([x[:, 0], x[:, 0] + 3], 1)  # a constant +3 bias: consistency is perfect, agreement is not
    assert icc_3_1(y) == pytest.approx(1.0) and icc_a_1(y) < 0.8
