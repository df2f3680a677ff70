"""Where things live. Package data (protocols, paper tables, the world judge's weights) is found next to the
code, so a plain `pip install .` works; what a user writes (results, leaderboards, reports) goes under the
workspace, the current folder unless AUGEN_HOME names another; caches go under AUGEN_CACHE (~/.cache/augen).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # the installed `bench` package
PROTOCOLS = PACKAGE / "protocols"  # <id>.yaml, shipped with the package
PAPER_TABLES = PACKAGE / "publish" / "paper_tables"  # <id>.yaml: published rows and which of our results stand beside


def cache_root() -> Path:
    """Features, judges, downstream trainings and runs: $AUGEN_CACHE, else ~/.cache/augen."""
    return Path(os.environ.get("AUGEN_CACHE", Path.home() / ".cache" / "augen"))


def workspace() -> Path:
    """Where results, leaderboards and reports are filed: $AUGEN_HOME, else the current folder (a clone's root)."""
    return Path(os.environ.get("AUGEN_HOME", "."))


def results_root() -> Path:
    """Filed results: <workspace>/leaderboards/results/<protocol>/<name>.json."""
    return workspace() / "leaderboards" / "results"


def result_roots() -> tuple[Path, Path]:
    """Where paper tables look for our results: the leaderboard's, then the reports' (e.g. ablation rows)."""
    return results_root(), workspace() / "reports" / "results"
