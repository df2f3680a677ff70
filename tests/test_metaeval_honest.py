"""The meta-evaluation's honesty checks (bench.studies.metaeval_checks), on small synthetic results and on the
filed world-v2 results: every downstream scale's tau is scipy's (computed here independently), leaving one fault
out drops exactly that fault's variants, the board's real generators get their own taus (controls and faults
kept out), train copies topping the board is said, and the committed report is the one --report-only writes
from the filed results, without the false claim that the other scales repeat the 1x ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench.cli import main as augen
from bench.publish.report import render_md
from bench.studies import metaeval
from bench.studies import metaeval_checks as checks

REPO = Path(__file__).resolve().parent.parent
UTILITY = "downstream_training_value"
HASH = "ab" * 32
SCALES = ("0.5x", "1x", "2x", "5x", "mixed", "slope")
KINDS = ("utility", "au_f1")
LAYOUT = [("none", 0.0), ("blur", 1.0), ("blur", 0.5), ("blur", 0.25), ("pixel_noise", 1.0), ("pixel_noise", 0.5),
          ("label_noise", 1.0), ("label_noise", 0.5), ("train_copies", 1.0), ("train_copies", 0.5),
          ("mode_drop", 1.0), ("mode_drop", 0.5)]


def metric(value, higher=True, family="downstream"):
    return {"value": value, "higher_is_better": higher, "family": family}


def fake_results(metrics: dict, generator: str = "world-fault", config: dict | None = None, h: str = HASH) -> dict:
    return {"generator": {"name": generator, "config": config or {}}, "protocol": {"id": "t", "hash": h},
            "metrics": metrics}


@pytest.fixture
def board():
    """12 variants of 6 faults; every downstream kind at every scale ranks them differently (scale-specific
    noise); train copies hold the highest training values; `driven` agrees with training value except on the
    train-copies variants, which it ranks last."""
    rng = np.random.default_rng(3)
    out = {}
    for i, (fault, level) in enumerate(LAYOUT):
        tv = 0.8 if fault == "train_copies" and level == 1.0 else 0.7 if fault == "train_copies" else rng.uniform(
            0, 0.6)
        ms = {UTILITY: metric(tv)}
        for k in KINDS:
            for j, s in enumerate(SCALES):
                ms[f"downstream_{k}_{s}"] = metric(tv + rng.normal(0, 0.05 * (j + 1)))
        ms["fd_world"] = metric(100 - 50 * tv + rng.normal(0, 20), higher=False, family="realism")
        ms["au_kappa"] = metric(tv + rng.normal(0, 0.3), family="alignment")
        ms["driven"] = metric(-1.0 - i if fault == "train_copies" else tv, family="alignment")
        name = f"fault-{fault.replace('_', '-')}-{level:.2f}"
        out[name] = fake_results(ms, config={"fault": fault, "level": level, "split": "val"})
    return out


def signed(r: dict, m: str) -> float:
    e = r["metrics"][m]
    return e["value"] if e["higher_is_better"] else -e["value"]


def scipy_tau(board: dict, names: list[str], m: str) -> float:
    return stats.kendalltau([signed(board[n], m) for n in names], [signed(board[n], UTILITY) for n in names]).statistic


def md_table(md: str, header_start: str) -> list[list[str]]:
    """The rows (cells) of the markdown table whose header row starts with `header_start`."""
    lines = md.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[at + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return [lines[at].strip("|").split("|"), *rows]


def test_every_downstream_scale_has_its_own_tau_and_it_is_scipys(board, tmp_path):
    cfg = metaeval.MetaevalConfig("t", tmp_path / "m", tmp_path, tmp_path, UTILITY, bootstrap=50)
    corrs = metaeval.correlations(board, cfg)
    assert {f"downstream_{k}_{s}" for k in KINDS for s in SCALES} <= {c.metric for c in corrs}  # none left out
    md = render_md(checks.scale_blocks({c.metric: c.tau for c in corrs}))
    header, *rows = md_table(md, "| kind |")
    assert [h.strip() for h in header] == ["kind", *SCALES, "best scale"]
    names = sorted(board)
    assert [r[0] for r in rows] == [f"`{k}`" for k in sorted(KINDS)]
    for row in rows:
        kind = row[0].strip("`")
        want = {s: scipy_tau(board, names, f"downstream_{kind}_{s}") for s in SCALES}
        for s, cell in zip(SCALES, row[1:]):
            assert float(cell) == pytest.approx(want[s], abs=5e-4), (kind, s)
        assert len({round(want[s], 3) for s in SCALES}) > 1  # the scales differ: the 1x tau stands for none else
        assert row[-1] == max(("0.5x", "1x", "2x", "5x"), key=lambda s: want[s])
    assert "repeat the 1x" not in md and "The scales do not repeat one another" in md


def test_leave_one_fault_out_drops_exactly_that_faults_variants(board):
    metrics = ["fd_world", "au_kappa", "driven"]
    loo = checks.leave_one_out(board, metrics, UTILITY)
    assert list(loo) == ["none", "pixel_noise", "blur", "label_noise", "mode_drop", "train_copies"]  # FAULTS order
    for fault, d in loo.items():
        want = sorted(v for v, r in board.items() if r["generator"]["config"]["fault"] == fault)
        assert d["dropped"] == want and d["kept"] == sorted(set(board) - set(want))
        for m in metrics:
            assert d["taus"][m] == pytest.approx(scipy_tau(board, d["kept"], m), abs=1e-12), (fault, m)
    coarse = checks.leave_one_out(board, metrics, UTILITY, checks.by_coarse_family)
    assert coarse["image"]["dropped"] == sorted(v for v in board if "blur" in v or "pixel-noise" in v)
    assert coarse["memorization"]["dropped"] == sorted(v for v in board if "train-copies" in v)
    assert set(coarse) == {"none", "image", "label", "distribution", "memorization"}


def test_the_fault_that_drives_a_tau_is_named(board):
    heads = [("fd_world", "FD"), ("au_kappa", "AU kappa"), ("driven", "driven")]
    md = render_md(checks.loo_blocks(board, heads, UTILITY))
    row = next(r for r in md_table(md, "| metric | column |")[1:] if r[0] == "`driven`")
    full = scipy_tau(board, sorted(board), "driven")
    assert float(row[2]) == pytest.approx(full, abs=5e-4) and full < 0.8
    assert row[4] == "+1.000 (no train_copies)"  # without the fault it misranks, the metric is training value
    assert row[5] == f"{1 - full:+.3f} (no train_copies)" and row[6] == f"{1 - full:+.3f} (no memorization)"
    got = checks.moves({"m": 0.1}, {"a": {"taus": {"m": -0.2}}, "b": {"taus": {"m": 0.3}}, "c": {"taus": {"m": 0.1}}})
    assert got["m"]["min"] == (-0.2, "a") and got["m"]["max"] == (0.3, "b") and got["m"]["flips"] == ["a"]
    assert got["m"]["move"] == pytest.approx(-0.3) and got["m"]["by"] == "a"


def test_real_generators_get_their_own_tau_apart_from_faults_and_controls(tmp_path):
    folder = tmp_path / "board"
    folder.mkdir()
    real = {"gen-a": (0.40, 100.0), "gen-b": (0.30, 300.0), "gen-c": (0.20, 200.0), "gen-d": (0.10, 400.0)}
    for name, (tv, fd) in real.items():
        (folder / f"{name}.json").write_text(json.dumps(fake_results(
            {UTILITY: metric(tv), "fd_world": metric(fd, higher=False, family="realism")}, generator="maugen-tiny")))
    # the real control: best training value, worst FD; counted, it would change the tau
    (folder / "real.json").write_text(json.dumps(fake_results(
        {UTILITY: metric(0.9), "fd_world": metric(900.0, higher=False, family="realism")}, generator="real")))
    (folder / "old.json").write_text(json.dumps(fake_results({UTILITY: metric(0.5)}, generator="x", h="cd" * 32)))
    (folder / "gen-a.timing.json").write_text("{}")
    entries, controls, stale = checks.load_entries(folder, HASH)
    assert sorted(entries) == sorted(real) and controls == ["real"] and stale == 1
    md = render_md(checks.real_blocks(entries, controls, stale, "board", [("fd_world", "FD")], UTILITY,
                                      {"fd_world": 0.123}, 31))
    header, tv_row, fd_row = md_table(md, "| metric | name |")
    assert [h.strip() for h in header[2:6]] == ["gen-a", "gen-b", "gen-c", "gen-d"]  # by training value
    assert "real" not in [h.strip() for h in header]
    want = stats.kendalltau([-real[g][1] for g in sorted(real)], [real[g][0] for g in sorted(real)])
    with_control = stats.kendalltau([-real[g][1] for g in sorted(real)] + [-900.0],
                                    [real[g][0] for g in sorted(real)] + [0.9]).statistic
    assert abs(with_control - want.statistic) > 0.1  # the check below can tell the two apart
    assert fd_row[6] == f"{want.statistic:+.3f} (p {want.pvalue:.2f}, n 4)" and fd_row[7] == "+0.123"
    assert tv_row[2:6] == ["0.4", "0.3", "0.2", "0.1"]
    assert "proves nothing" in md and "exact two-sided p of 0.083" in md  # 2 / 4! for n = 4
    empty = render_md(checks.real_blocks({}, [], 0, "nowhere", [("fd_world", "FD")], UTILITY, {}, 31))
    assert "No real generators" in empty and "|" not in empty


def test_train_copies_on_top_are_said(board):
    note = checks.copies_note(board, UTILITY)
    assert note.startswith("The variant of highest training value is `fault-train-copies-1.00` (0.8000, above "
                           "the real control `fault-none-0.00`") and "world-v3" in note
    del board["fault-train-copies-1.00"], board["fault-train-copies-0.50"]
    assert checks.copies_note(board, UTILITY) is None


def test_filed_world_v2_report_is_current_and_honest(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    out = tmp_path / "metaeval"
    args = ["--protocol", "world-v2", "--results", "reports/results/world-v2/metaeval", "--out", str(out),
            "--utility", UTILITY, "--report-only", "--quiet"]
    assert augen(["study", "metaeval", *args]) == 0
    md = (out.with_suffix(".md")).read_text()
    committed = (REPO / "reports" / "metaeval.md").read_text()

    def body(text: str) -> list[str]:  # all but the command line, which names the output folder
        return [line for line in text.splitlines() if not line.startswith("Generated by `")]
    assert body(md) == body(committed)
    assert "repeat the 1x ranking" not in md and "appear at 1x, mixed, slope only" not in md
    rows = {r[0]: r for r in md_table(md, "| kind |")[1:]}
    assert rows["`utility`"][1:5] == ["+0.755", "+0.884", "+0.910", "+0.871"]
    real = md_table(md, "| metric | name |")[0]
    assert {h.strip() for h in real} >= {"maugen-tiny", "maugen-tiny-v1", "synfer-tiny", "synfer-tiny-published",
                                         "synfer-tiny-sg-pl"}
    assert not {h.strip() for h in real} & {"real", "noise", "shuffled", "collapsed"}
    assert "## Does one fault drive it? Leave one fault out" in md
    assert "`fault-train-copies-1.00`" in md and "world-v3" in md
    (out.with_suffix(".md")).unlink()
    png = out.with_suffix(".png").read_bytes()
    assert augen(["study", "metaeval", *args]) == 0  # --report-only again: the same bytes
    assert out.with_suffix(".md").read_text() == md and out.with_suffix(".png").read_bytes() == png
