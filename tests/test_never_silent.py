"""Issue 29's rules outside `augen import`: one workspace rule, outputs checked writable before work, Ctrl-C in one
line, and `augen score`/`augen submit` saying the headline and the rank the board would give."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_world

from bench.cli import main
from bench.core import errors as E
from bench.core.paths import find_workspace, workspace
from bench.publish.leaderboard import board, load_filed
from bench.publish.standing import standing
from bench.scoring.protocols import current_hash, load_protocol
from bench.world.params import WorldConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A folder outside any workspace, AUGEN_HOME unset."""
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------------------------- workspace


def test_no_workspace_is_one_line_and_writes_nothing(elsewhere, capsys):
    assert find_workspace() is None
    assert main(["leaderboard", "--protocol", "world-v3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("augen: error: no workspace: no folder from ") and "\n" not in err
    assert "AUGEN_HOME=DIR" in err and "mkdir leaderboards" in err
    assert list(elsewhere.iterdir()) == []  # no empty board written


def test_workspace_is_found_upward_and_announced_once(elsewhere, capsys, monkeypatch):
    (elsewhere / "leaderboards").mkdir()
    deep = elsewhere / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setattr("bench.core.paths._ANNOUNCED", set())
    assert find_workspace()[0] == elsewhere.resolve()
    assert workspace() == workspace() == elsewhere.resolve()
    err = capsys.readouterr().err
    assert err.count("augen: workspace ") == 1 and "above here" in err


def test_augen_home_wins_and_must_be_a_folder(elsewhere, monkeypatch):
    (elsewhere / "leaderboards").mkdir()
    home = elsewhere / "home"
    home.mkdir()
    monkeypatch.setenv("AUGEN_HOME", str(home))
    assert find_workspace() == (home, "AUGEN_HOME")
    monkeypatch.setenv("AUGEN_HOME", str(elsewhere / "missing"))
    with pytest.raises(E.UsageError, match="is not a folder"):
        find_workspace()


# --------------------------------------------------------------------------------------- writable outputs


@pytest.fixture
def read_only(monkeypatch):
    """Folders named `ro` behave as on a read-only mount (the tests run as root, whom permissions do not stop)."""
    monkeypatch.setattr(E, "_read_only_mount", lambda folder: Path(folder).name == "ro")


def test_unwritable_outputs_are_refused_before_work(elsewhere, capsys, read_only):
    (elsewhere / "ro").mkdir()
    (elsewhere / "afile").write_text("x")
    assert main(["conditions", "--protocol", "world-v1", "--out", "ro/c.jsonl"]) == 2
    assert capsys.readouterr().err.strip() == ("augen: error: ro/c.jsonl: cannot write the --out output: ro is not "
                                               "writable; choose another folder")
    assert main(["world", "make", "--split", "val", "--n", "2", "--out", "afile/set"]) == 2
    assert capsys.readouterr().err.strip() == ("augen: error: afile/set: cannot write the --out output: afile is a "
                                               "file, not a folder")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["afile", "ro"]


def test_score_refuses_a_set_in_a_read_only_folder_before_scoring(elsewhere, capsys, read_only, monkeypatch):
    write_world(elsewhere / "ro", n=24, cfg=WorldConfig(image_size=64), split="val")
    monkeypatch.setattr("bench.scoring.samples.score_with_samples", lambda *a, **k: pytest.fail("scored"))
    assert main(["score", "ro", "--protocol", "world-v1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("augen: error: ro/results-world-v1.json: cannot write the results (inside the set; give --out "
                   "FILE to write elsewhere): ro is not writable; choose another folder")


# ------------------------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_is_one_line_with_what_was_kept(elsewhere, capsys, monkeypatch):
    def interrupted(args):
        with E.on_interrupt("kept 3 of 5 shards in out.partial; rerun the same command to resume") as note:
            note.message = "kept 4 of 5 shards in out.partial; rerun the same command to resume"
            raise KeyboardInterrupt

    monkeypatch.setattr("bench.cli.registry.cmd_list", interrupted)
    assert main(["list", "protocols"]) == 130
    assert capsys.readouterr().err == ("augen: interrupted: kept 4 of 5 shards in out.partial; rerun the same "
                                       "command to resume\n")
    monkeypatch.setattr("bench.cli.registry.cmd_list", lambda args: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["list", "protocols"]) == 130
    assert capsys.readouterr().err == "augen: interrupted: nothing was written\n"


# -------------------------------------------------------------------------------------------- standing


@pytest.mark.parametrize("protocol", ["world-v1", "world-v2"])
def test_standing_gives_each_filed_entry_its_board_rank(protocol):
    """Independent of standing(): the board's own rows over the filed results."""
    proto = load_protocol(protocol)
    filed = load_filed(ROOT / "leaderboards" / "results" / protocol)
    rows = board(proto, filed, current_hash(proto))[0]
    checked = 0
    for row in rows:
        res = dict(filed)[row["name"]]
        lines = standing(proto, row["name"], res, [(n, r) for n, r in filed if n != row["name"]])
        if row.get("role", "ranked") == "ranked":
            assert f"rank {row['rank']} of" in lines[-1] or lines[-1].startswith(f"rank: {row['rank']} of")
            checked += 1
    assert checked >= 3


def test_standing_says_why_the_headline_is_missing_per_task():
    proto = load_protocol("world-v3")
    filed = load_filed(ROOT / "leaderboards" / "results" / "world-v3")
    res = json.loads(json.dumps(dict(filed)["real"]))
    for k in [k for k in res["metrics"] if k.startswith("task_")]:
        del res["metrics"][k]
    lines = standing(proto, "mine", res, filed)
    assert lines[0].startswith("headline: training value:")
    assert sum("not scored: no downstream result (score with --downstream)" in x for x in lines) == 3
    assert standing(proto, "mine", res, None)[-1].endswith("not compared: no workspace (set AUGEN_HOME or run "
                                                           "inside a clone)")


def test_score_prints_headline_and_rank(elsewhere, capsys, monkeypatch):
    shutil.copytree(ROOT / "leaderboards" / "results" / "world-v1", elsewhere / "leaderboards" / "results" /
                    "world-v1")
    write_world(elsewhere / "set", n=24, cfg=WorldConfig(image_size=64), split="val")
    assert main(["score", "set", "--protocol", "world-v1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "headline: world-v1 declares no headline" in out and "among 7 filed results" in out
