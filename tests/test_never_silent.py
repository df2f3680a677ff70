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
from tests.helpers.mistakes import run_row

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A folder outside any workspace, AUGEN_HOME unset."""
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------------- the docs/errors.md rows


def _world_set(folder: Path) -> None:
    write_world(folder, n=24, cfg=WorldConfig(image_size=64), split="val")


def _photos(work: Path) -> None:
    (work / "photos").mkdir()
    (work / "photos" / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff")


def _edited_labels(work: Path) -> None:
    _world_set(work / "set")
    labels = work / "set" / "labels.csv"
    head, first, *rest = labels.read_text().split("\n")
    labels.write_text("\n".join([head, first.replace("00000000.png,0.0,", "00000000.png,3.0,", 1), *rest]))


# (what the user typed, how the folder was prepared, what it printed before, the one line it prints now); each runs
# in a folder `elsewhere` outside any workspace, where a folder named `ro` behaves as a read-only mount
SILENT_MISTAKES = [
    ("augen leaderboard --protocol world-v3  # outside a clone", None,
     "wrote an empty board to ./leaderboards/ and exited 0",
     "augen: error: no workspace: no folder from here (elsewhere) upward holds leaderboards/; run inside a clone of "
     "AUGen-Bench, set AUGEN_HOME=DIR, or `mkdir leaderboards` to make this folder one"),
    ("augen reproduce synfer_scaling  # outside a clone", None,
     "a table with every filed row marked \"(not run)\"",
     "augen: error: no workspace: no folder from here (elsewhere) upward holds leaderboards/; run inside a clone of "
     "AUGen-Bench, set AUGEN_HOME=DIR, or `mkdir leaderboards` to make this folder one"),
    ("augen report --protocol world-v2 --out rep  # outside a clone", None,
     "augen: error: no results of the current world-v2 hash",
     "augen: error: no workspace: no folder from here (elsewhere) upward holds leaderboards/; run inside a clone of "
     "AUGen-Bench, set AUGEN_HOME=DIR, or `mkdir leaderboards` to make this folder one"),
    ("augen conditions --protocol world-v1 --out ro/c.jsonl  # ro: a read-only mount", None,
     "an `OSError: [Errno 30] Read-only file system` traceback",
     "augen: error: ro/c.jsonl: cannot write the --out output: ro is not writable; choose another folder"),
    ("augen score ro/set --protocol world-v1  # a set inside a read-only folder", lambda w: _world_set(w / "ro" / "set"),
     "the whole scoring, then an `OSError: [Errno 30]` traceback at the write",
     "augen: error: ro/set/results-world-v1.json: cannot write the results (inside the set; give --out FILE to write "
     "elsewhere): ro/set is not writable; choose another folder"),
    ("augen score photos  # a folder of photographs", _photos,
     "augen: error: photos/manifest.yaml: manifest.yaml is missing: not a SampleSet, or an incomplete one",
     "augen: error: photos/manifest.yaml: manifest.yaml is missing: not a SampleSet (a folder of images and a label "
     "file becomes one with `augen import IMAGES --labels FILE --out SET`), or an incomplete one"),
    ("augen validate set  # labels.csv edited by hand", _edited_labels,
     "augen: error: set/manifest.yaml: labels_sha256 ... does not match labels.csv (...)",
     "augen: error: set/manifest.yaml: labels_sha256 {old}... does not match labels.csv ({new}...): labels.csv "
     "changed after the set was written (this hash seals it); restore the file, or write a new set with the edited "
     "labels (photographs: `augen import IMAGES --labels EDITED.csv --out NEW`; generated sets: generate again)"),
    ("augen world make --split val --n 2 --out \"$UNSET\"  # an empty argument", None,
     "made the set in the current folder's parent... or a traceback, by command",
     "augen: error: argument out is empty"),
    ("augen validate " + "x" * 300 + "  # a name over 255 bytes", None,
     "an `OSError: [Errno 36] File name too long` traceback",
     "augen: error: " + "x" * 40 + "...: a file name too long for this system (300 bytes in the path; at most 255 "
     "per name)"),
]


def _expected(after: str, work: Path) -> str:
    """The row's line with the digests of this run's set filled in (the edited-labels row)."""
    if "{old}" not in after:
        return after
    import yaml

    from bench.core.pinned import sha256_file

    old = yaml.safe_load((work / "set" / "manifest.yaml").read_text())["labels_sha256"][:12]
    return after.format(old=old, new=sha256_file(work / "set" / "labels.csv")[:12])


@pytest.fixture
def outside(tmp_path, monkeypatch):
    work = tmp_path / "elsewhere"
    (work / "ro").mkdir(parents=True)
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    monkeypatch.chdir(work)
    inside_ro = lambda folder: Path(folder).is_relative_to(work / "ro")  # noqa: E731 - a mount: its subfolders too
    monkeypatch.setattr(E, "_read_only_mount", inside_ro)
    return work


@pytest.mark.parametrize("command, setup, before, after", SILENT_MISTAKES, ids=[m[0][:60] for m in SILENT_MISTAKES])
def test_each_silent_mistake_is_one_line(outside, capsys, command, setup, before, after):
    if setup is not None:
        setup(outside)
    run_row(outside, capsys, command, None, _expected(after, outside))


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


def test_ctrl_c_during_a_run_says_the_run_folder_resumes(elsewhere, capsys, monkeypatch):
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bench.pipeline.runner.generate_shards", stopped)
    assert main(["run", "real", "--work", "w", "--protocol", "world-v1", "--n", "4", "--quiet"]) == 130
    assert capsys.readouterr().err == ("augen: interrupted: w keeps every finished shard, judged shard and downstream "
                                       "training; rerun the same command to resume from there\n")


def test_ctrl_c_during_training_names_the_checkpoint(tmp_path):
    """A resumable training (reference.common.loop) stopped by Ctrl-C: the line names the last saved step."""
    import torch

    from reference.common.loop import train_resumable

    lin = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)

    def step(i):
        if i == 5:
            raise KeyboardInterrupt
        opt.zero_grad()
        loss = lin(torch.ones(1, 2)).pow(2).sum()
        loss.backward()
        opt.step()
        return {"loss": float(loss)}

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt) as stopped:
        train_resumable(ckpt, 10, step, {"lin": lin}, {"opt": opt}, every=2, progress=False)
    assert stopped.value.augen_kept == (f"{ckpt} holds step 4 of 10; rerun the same command to resume from it "
                                        "(identical weights)")
    ckpt.unlink()
    with pytest.raises(KeyboardInterrupt) as stopped:
        train_resumable(ckpt, 10, step, {"lin": lin}, {"opt": opt}, every=8, progress=False)
    assert stopped.value.augen_kept.startswith("no checkpoint yet (the first is saved at step 8)")


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
