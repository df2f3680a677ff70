"""docs/getting-started.md works as written: every block marked `<!-- test: file NAME -->` is written to NAME and
every block marked `<!-- test: session -->` runs in bash (`set -euo pipefail`) in one scratch folder outside the
clone, in order, with the installed `augen` on PATH, the repository as the workspace (AUGEN_HOME, as the page says
to set it; its filed results, as on a fresh clone) and an empty cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE = REPO_ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"<!-- test: (session|file [\w.-]+) -->\n```\w*\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str]]:
    """(kind, text) of the page's tested blocks, in order: kind 'session' or 'file NAME'."""
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_the_three_paths():
    sessions = [t for k, t in blocks() if k == "session"]
    assert len(sessions) == 3
    assert "augen score" in sessions[0] and "augen submit" in sessions[1] and "augen reproduce" in sessions[2]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The scratch folder after every block has run (the sessions' combined output on failure)."""
    work = tmp_path_factory.mktemp("getting-started")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "AUGEN_HOME": str(REPO_ROOT), "AUGEN_CACHE": str(work / "cache")}  # a fresh clone's empty cache
    for kind, text in blocks():
        if kind.startswith("file "):
            (work / kind.split()[1]).write_text(text, encoding="utf-8")
            continue
        r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + text], cwd=work, env=env, capture_output=True,
                           text=True)
        assert r.returncode == 0, f"session failed:\n{text}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    return work


def test_path_1_scores_the_images_made_against_the_suite(scratch):
    import json

    res = json.loads((scratch / "my-set-results.json").read_text())
    assert res["sampleset"]["n"] == 40 and res["protocol"]["id"] == "world-v2"
    assert "au_f1_condition" in res["metrics"]  # the set answers the suite: the control family ran
    assert (scratch / "suite.jsonl").read_text().count("\n") == 40


def test_path_2_files_a_result_and_lists_it(scratch):
    board = (scratch / "board.md").read_text()
    assert (scratch / "results" / "world-v2" / "my-shuffled.json").is_file()
    assert "| ref | *my-shuffled* |" in board  # a control: a reference row, never ranked


def test_path_3_reproduces_a_table_and_a_report(scratch):
    assert "67.23" in (scratch / "synfer_scaling.md").read_text()  # SynFER's AffectNet accuracy at 1x beside ours
    assert (scratch / "report-world-v2" / "report.md").is_file()
