"""Where things live. Package data (protocols, paper tables, the world judge's weights) is found next to the
code, so a plain `pip install .` works; what a user writes (results, leaderboards, reports) goes under the
workspace; caches go under AUGEN_CACHE (~/.cache/augen).

The workspace rule (one for every command): $AUGEN_HOME when set, else the nearest folder holding `leaderboards/`
from the current folder upward (as git finds `.git`; a clone's root holds it). The first command of a process that
reads or writes there prints `augen: workspace DIR (...)` on stderr; a command that finds none stops with one line
saying how to name one, instead of reading nothing and writing an empty board. Commands given --results-dir or
--out paths use those and need no workspace.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.core.errors import UsageError

PACKAGE = Path(__file__).resolve().parent.parent  # the installed `bench` package
PROTOCOLS = PACKAGE / "protocols"  # <id>.yaml, shipped with the package
PAPER_TABLES = PACKAGE / "publish" / "paper_tables"  # <id>.yaml: published rows and which of our results stand beside


def cache_root() -> Path:
    """Features, judges, downstream trainings and runs: $AUGEN_CACHE, else ~/.cache/augen."""
    return Path(os.environ.get("AUGEN_CACHE", Path.home() / ".cache" / "augen"))


WORKSPACE_MARK = "leaderboards"  # the folder whose presence makes its parent a workspace


def find_workspace(start: Path | None = None) -> tuple[Path, str] | None:
    """(workspace, how it was found) by the rule above, or None when there is none; AUGEN_HOME must be a folder."""
    home = os.environ.get("AUGEN_HOME")
    if home:
        if not Path(home).is_dir():
            raise UsageError(f"AUGEN_HOME={home} is not a folder: create it (with a leaderboards/ folder inside) "
                             "or unset AUGEN_HOME")
        return Path(home), "AUGEN_HOME"
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_MARK).is_dir():
            return folder, "the nearest folder holding leaderboards/" + ("" if folder == here else " above here")
    return None


_ANNOUNCED: set[Path] = set()


def workspace() -> Path:
    """Where results, leaderboards and reports are filed (module docstring), announced once per process."""
    found = find_workspace()
    if found is None:
        raise UsageError(f"no workspace: no folder from here ({Path.cwd().name or '/'}) upward holds "
                         f"{WORKSPACE_MARK}/; run inside a clone of AUGen-Bench, set AUGEN_HOME=DIR, or `mkdir "
                         f"{WORKSPACE_MARK}` to make this folder one")
    folder, how = found
    if folder.resolve() not in _ANNOUNCED:
        _ANNOUNCED.add(folder.resolve())
        print(f"augen: workspace {folder.resolve()} ({how})", file=sys.stderr)
    return folder


def results_root() -> Path:
    """Filed results: <workspace>/leaderboards/results/<protocol>/<name>.json."""
    return workspace() / "leaderboards" / "results"


def result_roots() -> tuple[Path, Path]:
    """Where paper tables look for our results: the leaderboard's, then the reports' (e.g. ablation rows)."""
    return results_root(), workspace() / "reports" / "results"
