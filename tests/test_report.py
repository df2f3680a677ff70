"""Reports and paper tables: figures and tables from results files, paper values beside ours."""

from __future__ import annotations

import json

import pytest
import yaml

from bench.core.errors import DataError
from bench.publish.papers import load_table, reproduce
from bench.publish.report import build_report, scaling_rows


def _res(name: str, acc: float, h: str = "h" * 64) -> dict:
    def m(v, ci=None, **kw):
        return {"value": v, "ci95": ci, "n": 3, "higher_is_better": True, "family": "downstream", **kw}
    metrics = {f"downstream_expression_accuracy_{s}": m(acc + 0.01 * i, [acc + 0.01 * i - 0.02, acc + 0.01 * i + 0.02])
               for i, s in enumerate(("0.5x", "1x", "2x", "5x"))}
    metrics["downstream_expression_accuracy_mixed"] = m(acc + 0.1, [acc + 0.08, acc + 0.12], real_only=0.5,
                                                        real_only_ci95=[0.48, 0.52])
    metrics["downstream_expression_accuracy_slope"] = m(0.01)
    metrics["au_f1"] = {"value": 0.6, "ci95": None, "n": 9, "higher_is_better": True, "family": "alignment",
                        "per_au": {"AU01": 0.5, "AU12": None}}
    metrics["expression_accuracy_condition"] = {"value": 0.55, "ci95": None, "n": 9, "higher_is_better": True,
                                                "family": "control"}
    for a, k in (("skin_tone", 6), ("gender", 2), ("age_group", 5)):
        metrics[f"{a}_entropy"] = {"value": 1.0, "ci95": None, "n": 9, "higher_is_better": True,
                                   "family": "diversity", "distribution": [1 / k] * k}
    return {"protocol": {"id": "world-v1", "hash": h}, "generator": {"name": name}, "sampleset": {"n": 9},
            "metrics": metrics}


def test_scaling_rows_and_report(tmp_path):
    folder = tmp_path / "results" / "world-v1"
    folder.mkdir(parents=True)
    for name, acc in (("synfer-tiny", 0.4), ("real", 0.6)):
        (folder / f"{name}.json").write_text(json.dumps(_res(name, acc)))
    (folder / "old.json").write_text(json.dumps(_res("old", 0.1, "0" * 64)))
    head, rows = scaling_rows([("real", _res("real", 0.6))])
    assert head[1:5] == ["synthetic 0.5x", "synthetic 1x", "synthetic 2x", "synthetic 5x"]
    assert rows[0][:3] == ["real", "60.0 ± 2.0", "61.0 ± 2.0"] and rows[-1][0].startswith("real only")
    md, page = build_report("world-v1", tmp_path / "out", results_dir=tmp_path / "results", current_hash="h" * 64)
    text = md.read_text()
    assert "| synfer-tiny | 40.0 ± 2.0 |" in text and "old" in text.split("Not included")[1]
    for fig in ("scaling_expression_accuracy.png", "per_au_au_f1.png", "demographics.png"):
        assert (tmp_path / "out" / fig).stat().st_size > 1000
    assert "<table>" in page.read_text() and "scaling_expression_accuracy.png" in page.read_text()
    with pytest.raises(DataError, match="no results of the current"):
        build_report("world-v1", tmp_path / "o2", results_dir=tmp_path / "results", current_hash="x" * 64)


def test_reproduce_puts_ours_beside_the_paper(tmp_path):
    root = tmp_path / "r"
    (root / "world-v1").mkdir(parents=True)
    (root / "world-v1" / "synfer-tiny-sg-pl.json").write_text(json.dumps(_res("synfer-tiny", 0.4)))
    text = reproduce("synfer_scaling", "world-v1", (root,))
    assert "| SynFER — ours: `synfer-tiny-sg-pl` | 67.23 / 41.00 | 69.84 / 43.00 |" in text
    assert "`maugen-tiny` (not run)" in text
    sup = reproduce("synfer_supervised", "world-v1", (root,))
    assert "67.49 / 50.00 | 69.04 / 50.00" in sup  # real-only and mixed read from the mixed entry


def test_every_shipped_paper_table_loads_and_bad_ones_are_refused(tmp_path):
    from bench.core.paths import PAPER_TABLES as TABLES

    for p in TABLES.glob("*.yaml"):
        assert load_table(p.stem)["rows"]
    t = yaml.safe_load((TABLES / "synfer_scaling.yaml").read_text())
    t["rows"][0]["paper"] = [1.0]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(t))
    with pytest.raises(DataError, match="1 paper values for 2 columns"):
        load_table(str(tmp_path / "bad.yaml"))
    with pytest.raises(DataError, match="no such paper table"):
        load_table("nope")


def test_pareto_figure_draws_every_role_without_a_matplotlib_warning(tmp_path):
    """`augen report` leaked matplotlib's "edgecolor for an unfilled marker" UserWarning for a control failing the
    gate (an x given an edge colour): each role's marker gets only the colours it has."""
    import warnings

    from bench.publish.report import figure_pareto

    rows = [{"name": n, "role": role, "passes": ok, "training_value": tv, "fd_world": fd, "vendi": v}
            for n, role, ok, tv, fd, v in (("real", "reference", True, 0.4, 60.0, 26.0),
                                           ("shuffled", "reference", False, 0.0, 60.0, 26.0),
                                           ("gen", "ranked", True, 0.2, 500.0, 15.0),
                                           ("bad", "fails gate", False, 0.1, 700.0, 10.0))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = figure_pareto(rows, tmp_path / "pareto.png", "downstream_training_value")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
