"""The meta-evaluation driver (bench.studies.metaeval) on a tiny protocol: the report's correlations are scipy's
(computed here independently from the filed results), every bootstrap interval holds its estimate, a rerun
scores nothing new (and rescoring only a stale file), --report-only rewrites the report byte for byte, and the
stability re-runs are filed and compared."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench.cli import main as augen
from bench.core.errors import UsageError
from bench.core.protocol import JudgeRef, protocol_hash
from bench.generation.faults import VARIANTS, variant_name
from bench.scoring.protocols import load_protocol
from bench.studies import metaeval

PROTO = str(Path(__file__).resolve().parent / "fixtures" / "world-metaeval-tiny.yaml")
UTILITY = "expression_accuracy"  # a cheap stand-in: the tiny protocol has no downstream section
N_VARIANTS = 6
SECOND_JUDGE_PROTOCOL = metaeval.second_judge_protocol  # the real one (the run fixture patches it for its module)
ROW = re.compile(r"^\| `(?P<metric>[^`]+)` \| (?P<family>\w+) \| (?P<tau>\S+)(?: \[(?P<tlo>\S+), (?P<thi>\S+)\])? \| "
                 r"(?P<rho>\S+)(?: \[(?P<rlo>\S+), (?P<rhi>\S+)\])? \| (?P<n>\d+) \|$")


def same_judge_protocol(proto):
    """A stand-in for the second judge whose weights ship with the package: the first judge's config spelt out
    (`seed: 0`), so the protocol hash differs while the judge is the same."""
    return dataclasses.replace(proto, judge=JudgeRef("world", {"seed": 0}),
                               raw={**proto.raw, "judge": {"kind": "world", "config": {"seed": 0}}})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("metaeval")
    args = ["--protocol", PROTO, "--out", str(root / "rep" / "metaeval"), "--results", str(root / "res"),
            "--work", str(root / "work"), "--utility", UTILITY, "--variants", str(N_VARIANTS),
            "--stability", "seed,judge,conditions", "--quiet"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(metaeval, "second_judge_protocol", same_judge_protocol)
        assert augen(["study", "metaeval", *args]) == 0
        yield root, args, mp


def table_rows(md: str) -> dict[str, dict]:
    return {m["metric"]: m.groupdict() for line in md.splitlines() if (m := ROW.match(line))}


def signed(entry: dict) -> float:
    return math.nan if entry["value"] is None else (entry["value"] if entry["higher_is_better"] else -entry["value"])


def test_report_correlations_are_scipys(run):
    root, _, _ = run
    md = (root / "rep" / "metaeval.md").read_text()
    assert (root / "rep" / "metaeval.png").stat().st_size > 1000
    files = sorted((root / "res").glob("fault-*.json"))
    assert [f.stem for f in files] == sorted(variant_name(f, lv) for f, lv in VARIANTS[:N_VARIANTS])
    results = [json.loads(f.read_text()) for f in files]
    rows = table_rows(md)
    assert UTILITY not in rows and len(rows) >= 20
    y = np.array([signed(r["metrics"][UTILITY]) for r in results])
    checked = 0
    for metric, row in rows.items():
        x = np.array([signed(r["metrics"][metric]) for r in results])
        assert row["family"] == results[0]["metrics"][metric]["family"] and int(row["n"]) == N_VARIANTS
        if np.ptp(x) == 0:
            assert row["tau"] == "n/a"
            continue
        tau = stats.kendalltau(x, y).statistic
        rho = stats.spearmanr(x, y).statistic
        assert abs(float(row["tau"]) - tau) <= 5e-4 and abs(float(row["rho"]) - rho) <= 5e-4, metric
        for est, lo, hi in ((row["tau"], row["tlo"], row["thi"]), (row["rho"], row["rlo"], row["rhi"])):
            assert float(lo) <= float(est) <= float(hi), (metric, est, lo, hi)
        checked += 1
    assert checked >= 15
    taus = [float(r["tau"]) for r in rows.values() if r["tau"] != "n/a"]
    assert taus == sorted(taus, reverse=True)  # sorted by Kendall tau
    assert "What it implies for the headline" in md and "Rank stability" in md


def test_stability_reruns_are_filed_and_compared(run):
    root, _, _ = run
    md = (root / "rep" / "metaeval.md").read_text()
    assert "| ranking by | family | second judge | redrawn conditions | other seed |" in md
    assert f"| `{UTILITY}` | training value | +1.000 ({N_VARIANTS}) |" in md  # the first judge again: same board
    for kind in metaeval.STABILITY:
        assert len(list((root / "res" / f"stability-{kind}").glob("fault-*.json"))) == N_VARIANTS
    base = json.loads((root / "res" / "fault-label-noise-1.00.json").read_text())
    cond = json.loads((root / "res" / "stability-conditions" / "fault-label-noise-1.00.json").read_text())
    seed = json.loads((root / "res" / "stability-seed" / "fault-label-noise-1.00.json").read_text())
    judge = json.loads((root / "res" / "stability-judge" / "fault-label-noise-1.00.json").read_text())
    assert cond["generator"]["config"]["start"] == 60 and seed["generator"]["config"]["seed"] == 1
    assert not any(m["family"] == "control" for m in cond["metrics"].values())
    assert set(cond["not_applicable"]) == {k for k, m in base["metrics"].items() if m["family"] == "control"}
    assert judge["sampleset"]["content_hash"] == base["sampleset"]["content_hash"]  # the same set, read again
    assert judge["protocol"]["hash"] != base["protocol"]["hash"]
    assert seed["sampleset"]["content_hash"] != base["sampleset"]["content_hash"]


def test_rerun_scores_nothing_new_and_rescores_a_stale_file(run):
    root, args, mp = run
    scored = []
    real_score = metaeval.score_variant
    mp.setattr(metaeval, "score_variant", lambda cfg, proto, f, lv, kind: scored.append((f, lv, kind))
               or real_score(cfg, proto, f, lv, kind))
    assert augen(["study", "metaeval", *args]) == 0
    assert scored == []
    stale = root / "res" / "fault-blur-1.00.json"
    r = json.loads(stale.read_text())
    stale.write_text(json.dumps({**r, "protocol": {**r["protocol"], "hash": "0" * 64}}))
    assert augen(["study", "metaeval", *args]) == 0
    assert scored == [("blur", 1.0, "base")]


def test_report_only_is_byte_identical(run):
    root, args, _ = run
    md, png = (root / "rep" / "metaeval.md").read_bytes(), (root / "rep" / "metaeval.png").read_bytes()
    (root / "rep" / "metaeval.md").unlink()
    assert augen(["study", "metaeval", *args, "--report-only"]) == 0
    assert (root / "rep" / "metaeval.md").read_bytes() == md
    assert (root / "rep" / "metaeval.png").read_bytes() == png


def test_unknown_utility_is_one_line(run, capsys):
    _, args, _ = run
    bad = [a if a != UTILITY else "downstream_training_value" for a in args]
    assert augen(["study", "metaeval", *bad, "--report-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("augen: error: --utility 'downstream_training_value' is not in every results file; "
                          "known: ") and err.count("\n") == 1
    with pytest.raises(UsageError, match="unknown re-run"):
        metaeval.parse_stability("judge,seeds")


def test_vectorised_bootstrap_statistics_are_scipys():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (50, 9)).astype(float)  # many ties
    y = x + rng.integers(0, 3, (50, 9))
    x[0] = 1.0  # a constant row
    tau, rho = metaeval.kendall_tau_b(x, y), metaeval.spearman_rho(x, y)
    assert math.isnan(tau[0]) and math.isnan(rho[0])
    for i in range(1, 50):
        assert tau[i] == pytest.approx(stats.kendalltau(x[i], y[i]).statistic, abs=1e-12)
        assert rho[i] == pytest.approx(stats.spearmanr(x[i], y[i]).statistic, abs=1e-12)


def test_rank_stability():
    a = {"v1": 1.0, "v2": 2.0, "v3": 3.0, "v4": 4.0}
    b = {"v1": 1.0, "v2": 2.0, "v3": 4.0, "v4": 3.0, "v5": 9.0}  # one swap; v5 only here
    c = {"v1": 4.0, "v2": 3.0, "v3": 2.0, "v4": 1.0}
    got = metaeval.rank_stability({"a": a, "b": b, "c": c})
    assert set(got) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert got[("a", "b")] == (pytest.approx(stats.kendalltau([1, 2, 3, 4], [1, 2, 4, 3]).statistic), 4)
    assert got[("a", "c")] == (pytest.approx(-1.0), 4)


def test_selection_and_second_judge_protocol():
    names = ["fd_world", "downstream_au_f1_0.5x", "downstream_au_f1_1x", "downstream_au_f1_2x", "downstream_au_f1_5x",
             "downstream_au_f1_mixed", "downstream_au_f1_slope", "downstream_training_value"]
    assert metaeval.correlated_metrics(names, "downstream_training_value") == names[:-1]  # every scale kept
    proto = load_protocol(PROTO)
    second = SECOND_JUDGE_PROTOCOL(proto)
    assert second.judge.config == {"seed": 1, "arch": "residual", "width": 24}
    assert second.raw["judge"]["config"] == second.judge.config and second.metrics == proto.metrics
    assert protocol_hash(second) != protocol_hash(proto)
    assert metaeval.variant_options("blur", 0.5, proto, "conditions") == {"fault": "blur", "level": 0.5, "n": 60,
                                                                          "start": 60}
