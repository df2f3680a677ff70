"""`augen leaderboard` and `augen report` run on every shipped protocol, world and real-data alike, from fixture
results written here (each protocol's full metric list, two entries, the current hash given)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.core.errors import UsageError
from bench.core.protocol import protocol_hash
from bench.core.results import write_results
from bench.publish.leaderboard import build, headline
from bench.publish.report import build_report
from bench.scoring.protocols import known_protocols, load_protocol
from tests.helpers.results import fixture_results


@pytest.mark.parametrize("proto_id", known_protocols())
def test_leaderboard_and_report_run_on_every_protocol(proto_id, tmp_path):
    proto = load_protocol(proto_id)
    current = protocol_hash(proto, "fixture")
    for i, name in enumerate(("gen-a", "gen-b")):
        write_results(tmp_path / "results" / proto.id / f"{name}.json", fixture_results(proto, name, i, current))
    if proto.kind == "faces":  # photographs: bench/publish/facesboard.py, facesreport.py, through the CLI
        from bench.cli import main

        lb, rp = ["leaderboard", "--out", str(tmp_path / "lb.md")], ["report", "--out", str(tmp_path / "report")]
        for cmd in (lb, rp):
            assert main([*cmd, "--protocol", proto_id, "--results-dir", str(tmp_path / "results")]) == 0
        text = (tmp_path / "lb.md").read_text()
        assert "| gen-a |" in text and "| gen-b |" in text
        if proto.headline is None:  # listed by name
            assert "Not ranked" in text
        else:  # ranked by the training value of the headline's real-data protocol
            assert "| 1 | gen-" in text and "| 2 | gen-" in text
        report = (tmp_path / "report" / "report.md").read_text()
        assert "Every metric" in report and "face_yield" in report
        with pytest.raises(UsageError, match="photograph protocol"):
            build(proto_id, tmp_path / "results", tmp_path / "x.md", tmp_path / "x.html", current_hash=current)
        return
    md, page = build(proto_id, tmp_path / "results", tmp_path / "lb.md", tmp_path / "lb.html", current_hash=current)
    text = md.read_text()
    assert "| 1 | gen-" in text and "| 2 | gen-" in text and page.read_text().startswith("<!doctype html>")
    for _, label in headline(proto):
        assert label in text  # every headline metric the protocol has is a column
    report, _ = build_report(proto_id, tmp_path / "report", {}, tmp_path / "results", current_hash=current)
    assert "Leaderboard" in report.read_text()
    if proto.downstream is not None:
        assert (tmp_path / "report" / "scaling_expression_accuracy.png").is_file()


def test_real_protocol_without_data_root_is_one_clear_line(tmp_path):
    for cmd in (["leaderboard", "--out", str(tmp_path / "a.md"), "--html", str(tmp_path / "a.html")],
                ["report", "--out", str(tmp_path / "r")]):
        r = subprocess.run([sys.executable, "-m", "bench.cli", *cmd, "--protocol", "affectnet-v1",
                            "--results-dir", str(tmp_path)], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
        assert "pass --data-root" in r.stderr


def test_a_bug_keeps_its_traceback(tmp_path):
    """Only the project's own errors become one line; a broken results file is one, a bug elsewhere is not."""
    (tmp_path / "bad.json").write_text("{")
    r = subprocess.run([sys.executable, "-m", "bench.cli", "table", str(tmp_path / "bad.json")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and r.stderr.startswith("augen: error:") and "bad.json" in r.stderr
    (tmp_path / "ok.json").write_text(json.dumps({"schema_version": "1"}))  # valid schema tag, no fields: a KeyError
    r = subprocess.run([sys.executable, "-m", "bench.cli", "table", str(tmp_path / "ok.json")], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "Traceback" in r.stderr and "KeyError" in r.stderr


def test_protocols_refuse_unknown_names_and_keys(tmp_path):
    import yaml

    from bench.core.errors import DataError

    raw = yaml.safe_load(load_protocol("world-v1").path.read_text())
    cases = [({"metrics": [*raw["metrics"], "fd_wrold"]}, "unknown metric 'fd_wrold'; known: fd_world"),
             ({"judge": {"kind": "wrold"}}, "judge kind 'wrold' is not registered"),
             ({"realism": {**raw["realism"], "k_pr": "3"}}, "realism.k_pr must be int"),
             ({"bootstrap": {**raw["bootstrap"], "seeds": 1}}, "unknown setting"),
             ({"colour": "blue"}, "unknown setting"),
             ({"aus": "BP5"}, "not a named AU subset"),
             ({"metrics": [*raw["metrics"], "downstream_au_f1_banana"]}, "downstream metrics are not listed"),
             ({"metrics": []}, "lists no metric"),
             ({"downstream": {**raw["downstream"], "scales": [0.001]}}, "leave a run empty")]
    for change, msg in cases:
        (tmp_path / "p.yaml").write_text(yaml.safe_dump({**raw, **change}))
        with pytest.raises(DataError, match=msg):
            load_protocol(str(tmp_path / "p.yaml"))


def test_the_hash_is_the_filed_one():
    """Typed loading changed nothing a score depends on: world-v1 hashes as the filed results say."""
    from bench.scoring.protocols import current_hash

    filed = json.loads((load_protocol("world-v1").path.parents[2] / "leaderboards" / "results" / "world-v1" /
                        "real.json").read_text())
    assert current_hash(load_protocol("world-v1")) == filed["protocol"]["hash"]


def test_misspelt_options_are_one_line_naming_the_valid_ones(tmp_path):
    """A trainer's config field and a generator's option, misspelt or missing: exit 2 and one line, no traceback."""
    for args, msg in ((["train", "vae", "--option", "stpes=3"], "trainer vae has no option 'stpes'; valid: batch"),
                      (["generate", "real", "--out", str(tmp_path / "x"), "--option", "sead=1"],
                       "generator 'real' has no option 'sead'; valid: seed, split"),
                      (["generate", "synfer-tiny-relabel", "--out", str(tmp_path / "y")],
                       "needs option(s) source")):
        r = subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
