"""Verdicts users can trust (world-v2): downstream that measures (validation thresholds, chance-corrected kinds,
trivial baselines, real-only bars, epochs), training value as the headline, the label gate, controls as reference
rows, and paired tests between adjacent ranks."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from bench.core.protocol import DownstreamSettings, section
from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream import spec
from bench.metrics import alignment as A
from bench.publish import leaderboard as LB
from bench.publish import significance as SIG
from bench.scoring.protocols import load_protocol

WORLD = {"seed": 0, "image_size": 64}
D = dict(recognizer="small-cnn", width=8, input_size=32, real_train={"split": "train", "n": 120},
         test={"split": "test", "n": 300}, val={"split": "val", "start": 900000, "n": 200}, scales=[0.5, 2],
         mixed_scale=1, seeds=[0, 1], epochs=30, max_steps=150, batch_size=32, lr=3e-3, weight_decay=5e-4,
         au_f1="BP4D12", au_icc="FERA5")


def ds(**kw) -> DownstreamSettings:
    return section(DownstreamSettings, {**D, **kw}, Path("test"), "downstream")


def test_world_v2_states_its_rules_and_keeps_world_v1():
    v2, v1 = load_protocol("world-v2"), load_protocol("world-v1")
    assert v2.headline.rank_by == "downstream_training_value" and v2.headline.gate == ("au_kappa", "expression_kappa")
    assert v2.real_budget.max_images == 200000 and v2.downstream.epochs == 30
    assert "downstream_training_value" in v2.metric_info and "downstream_au_kappa_1x" in v2.metric_info
    assert "downstream_training_value" not in v1.metric_info and v1.headline is None  # world-v1 reads as before
    s = v2.downstream
    assert [s.steps_for(n) for n in (200, 400, 2000, 10**6)] == [94, 188, 938, 1000]  # epochs, capped
    assert s.image_cap() == 64000 and v1.downstream.steps_for(2000) == 400


def test_trivial_baselines_and_kappa_match_independent_computations():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 8, 400)
    p = np.where(rng.random(400) < 0.5, t, rng.integers(0, 8, 400))
    assert A.cohen_kappa(t, p, 8) == pytest.approx(cohen_kappa_score(t, p))
    assert A.cohen_kappa(t, np.full(400, 3), 8) == pytest.approx(0.0)  # a constant: chance
    tc = A.trivial_classification(t, 8)
    assert tc["majority"] == pytest.approx(np.bincount(t).max() / 400)
    occ = (rng.random((5000, 3)) < [0.1, 0.4, 0.7]).astype(float)
    tr = A.trivial_occurrence(occ)
    assert tr["all_present"] == pytest.approx(np.mean([f1_score(occ[:, k], np.ones(5000)) for k in range(3)]))
    guess = (rng.random((5000, 3)) < occ.mean(0)).astype(float)  # guessing at the base rate: F1 ~ p
    assert tr["base_rate_random"] == pytest.approx(np.mean([f1_score(occ[:, k], guess[:, k]) for k in range(3)]),
                                                   abs=0.02)


def test_validation_thresholds_maximise_f1_on_the_validation_split():
    val = DD.from_world(WORLD, "val", 300, 32, start=900000)
    rng = np.random.default_rng(1)
    truth = val.occurrence(1.0).numpy()
    logits = truth * 2.0 + rng.normal(0, 1.0, truth.shape) - 1.5  # informative but shifted: 0 is a bad cut
    trained = np.ones(17, bool)
    trained[3] = False
    thr = DS.val_thresholds({"au_logit": logits}, val, trained)
    assert thr[3] == 0.0
    for j in (0, 8):
        f1_at = f1_score(truth[:, j], logits[:, j] > thr[j])
        assert f1_at >= f1_score(truth[:, j], logits[:, j] > 0) - 1e-12
        for c in np.quantile(logits[:, j], [0.1, 0.3, 0.5, 0.7, 0.9]):  # no other cut does better
            assert f1_at >= f1_score(truth[:, j], logits[:, j] > c) - 1e-12


def test_area_under_log_curve():
    assert DS.area_under_log_curve([0.5, 1, 2], [0.2, 0.4, 0.6]) == pytest.approx(0.4)
    assert DS.area_under_log_curve([1, 4], [0.0, 1.0]) == pytest.approx(0.5)
    assert DS.area_under_log_curve([2], [0.3]) == pytest.approx(0.3)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """True and shuffled labels through the v2 harness: synthetic scales, mixed, real-only bars, decisions."""
    cache = tmp_path_factory.mktemp("ds")
    s = ds()
    real = DD.from_world(WORLD, "train", 120, 32)
    test = DD.from_world(WORLD, "test", 300, 32)
    val = DD.from_world(WORLD, "val", 200, 32, start=900000)
    syn = DD.from_world(WORLD, "val", 240, 32)
    bad = copy.copy(syn)
    perm = np.random.default_rng(0).permutation(len(syn))
    bad = DD.LabelledImages(syn.x, syn.aus[perm], syn.expression[perm], syn.key + ":shuffled")
    base = {"same_size": DD.from_world(WORLD, "train", 240, 32)}
    out = {}
    for name, data in (("true", syn), ("shuffled", bad)):
        raw = DS.run_downstream(data, real, test, s, cache=cache, val=val, baselines=base, workers=1)
        out[name] = (raw, DS.downstream_metrics(raw, s))
    return s, out


def test_v2_downstream_metrics(tiny_runs):
    s, out = tiny_runs
    raw, m = out["true"]
    assert set(m) == set(spec.metric_names(s))
    tv = m["downstream_training_value"]
    want = np.mean([DS.area_under_log_curve([0.5, 2], [raw["synthetic"][c]["utility"][i] for c in ("0.5x", "2x")])
                    for i in range(2)])
    assert tv["value"] == pytest.approx(want) and len(tv["per_seed"]) == 2
    u = m["downstream_utility_2x"]["per_seed"]
    assert u == pytest.approx([(a + b) / 2 for a, b in zip(raw["synthetic"]["2x"]["au_kappa"],
                                                          raw["synthetic"]["2x"]["expression_kappa"])])
    mixed = m["downstream_utility_mixed"]
    assert mixed["real_same_size_n"] == 240 and mixed["gain_vs_real_same_size"] == pytest.approx(
        mixed["value"] - mixed["real_same_size"])
    f1 = m["downstream_au_f1_2x"]
    assert set(f1["trivial"]) == {"all_present", "base_rate_random"}
    assert "test_predictions" in tv
    assert out["shuffled"][1]["downstream_training_value"]["value"] < tv["value"]  # permuted labels train nothing


def test_stored_decisions_reproduce_the_training_value(tiny_runs):
    """The paired test recomputes training value from the stored per-item decisions: at uniform weights it must
    give back each seed's value."""
    s, out = tiny_runs
    m = out["true"][1]["downstream_training_value"]
    proto = _proto_like(s)
    truth = SIG.test_truth(proto)
    w = np.full((1, len(truth[0])), 1 / len(truth[0]))
    got = SIG.training_value_replicates(m["test_predictions"], list(s.scales), truth, w)[0]
    assert got == pytest.approx(m["per_seed"], abs=1e-9)


def test_paired_test_finds_real_gaps_and_not_null_ones(tiny_runs):
    s, out = tiny_runs
    proto = _proto_like(s)
    good, bad = ({"metrics": out[k][1]} for k in ("true", "shuffled"))
    t = SIG.paired_test(good, bad, proto, n_boot=300)
    assert t["diff"] > 0 and t["p"] < 0.01 and t["ci95"][0] > 0
    same = SIG.paired_test(good, good, proto, n_boot=300)
    assert same["diff"] == 0 and same["p"] == 1.0
    assert SIG.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def _proto_like(s: DownstreamSettings):
    import dataclasses

    return dataclasses.replace(load_protocol("world-v2"), downstream=s)


def _entry(name: str, tv: float, au_lo: float | None, ex_lo: float | None, labelled: int | None = 1000) -> dict:
    metrics = {"downstream_training_value": {"value": tv, "ci95": [tv - 0.01, tv + 0.01], "per_seed": [tv] * 3,
                                             "family": "downstream", "higher_is_better": True}}
    for k, lo in (("au_kappa", au_lo), ("expression_kappa", ex_lo)):
        metrics[k] = {"value": float("nan") if lo is None else lo + 0.05,
                      "ci95": None if lo is None else [lo, lo + 0.1], "family": "alignment", "higher_is_better": True}
    gen = {"name": name, **({"real_data": {"labelled_images": labelled}} if labelled is not None else {})}
    return {"protocol": {"id": "world-v2", "hash": "h"}, "generator": gen, "sampleset": {"n": 2000},
            "metrics": metrics}


def test_board_ranks_training_value_among_valid_labels_with_controls_as_references():
    proto = load_protocol("world-v2")
    filed = [("real", _entry("real", 0.45, 0.9, 0.9, None)), ("shuffled", _entry("shuffled", 0.01, -0.01, -0.02, None)),
             ("noise", _entry("noise", 0.02, -0.01, -0.03, None)), ("collapsed", _entry("collapsed", 0.2, 0.9, 0.9, None)),
             ("gen-a", _entry("gen-a", 0.30, 0.5, 0.4)), ("gen-b", _entry("gen-b", 0.35, 0.2, None)),  # AUs only
             ("gen-bad", _entry("gen-bad", 0.40, 0.3, -0.05)),  # its expression labels are not above chance
             ("gen-big", _entry("gen-big", 0.50, 0.6, 0.6, 10**6)),  # over the real budget
             ("gen-imported", _entry("gen-imported", 0.25, 0.5, 0.5, None))]
    rows, stale = LB.rank_by_training_value(filed, "h", proto, [])
    order = [r["name"] for r in rows]
    by = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows if r["role"] == "ranked"] == ["gen-b", "gen-a", "gen-imported"]
    assert [by[n]["rank"] for n in ("gen-b", "gen-a", "gen-imported")] == [1, 2, 3]
    assert by["real"]["rank"] == by["collapsed"]["rank"] == by["shuffled"]["rank"] == "ref"
    assert by["gen-bad"]["role"] == "fails gate" and "expression_kappa" in by["gen-bad"]["gate_why"]
    assert by["gen-big"]["role"] == "over budget" and by["gen-imported"]["budget_status"] == "undeclared"
    passing = [order.index(n) for n, r in by.items() if r["passes"]]
    for control in ("shuffled", "noise"):
        assert not by[control]["passes"] and order.index(control) > max(passing)
    assert not stale


def test_how_ranked_is_one_sentence():
    text = LB.how_ranked(load_protocol("world-v2"))
    assert text.count(". ") == 0 and text.endswith(".") and "training value" in text and math.isfinite(len(text))


def test_declared_real_budget_travels_to_the_results_and_trains_its_bar(tmp_path):
    """A generator's `real_data` goes into the set's manifest and the results; the downstream family trains the
    real-only bar on that many real images, capped at max_steps * batch_size (here 160)."""
    from bench.generation.base import get_generator, write_generated
    from bench.scoring.score import score
    from bench.world.conditions import world_conditions

    proto = load_protocol(str(Path(__file__).parent / "fixtures" / "world-v2-tiny.yaml"))
    gen = get_generator("real", {}, world=proto.world.as_dict())
    gen.real_data = {"labelled_images": 1000, "split": "train"}
    folder = write_generated(gen, world_conditions(proto.world.as_dict(), "val", 60), tmp_path / "set",
                             protocol=proto.id)
    res = score(folder, proto, cache=tmp_path / "cache", downstream=True)
    assert res["generator"]["real_data"] == {"labelled_images": 1000, "split": "train"}
    tv = res["metrics"]["downstream_training_value"]
    assert tv["real_baselines"]["real_budget"]["n"] == proto.downstream.image_cap() == 160
    assert tv["real_baselines"]["same_size"]["n"] == 60
    assert res["metrics"]["expression_kappa"]["ci95"][0] > 0  # true labels pass the gate
