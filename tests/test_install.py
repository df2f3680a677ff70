"""A plain (not editable) install finds everything it ships: `pip install .` into a fresh folder, then, from a
folder outside the clone, `augen world make` and `augen score` run on a world set with the packaged protocol and
the packaged world judge weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.pip
def test_non_editable_install_makes_and_scores_a_world_set(tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(site), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (site / "bench" / "protocols" / "world-v1.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(site), "AUGEN_CACHE": str(tmp_path / "cache")}
    env.pop("AUGEN_HOME", None)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def augen(*args):
        return subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    r = subprocess.run([sys.executable, "-c", "import bench; print(bench.__file__)"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert Path(r.stdout.strip()).is_relative_to(site), r.stdout  # the installed copy, not the clone
    r = augen("world", "make", "--split", "val", "--n", "40", "--out", "set", "--quiet")
    assert r.returncode == 0, r.stderr
    r = augen("score", "set", "--protocol", "world-v1", "--out", "res.json", "--quiet")
    assert r.returncode == 0, r.stderr
    res = json.loads((work / "res.json").read_text())
    assert res["protocol"]["id"] == "world-v1" and res["sampleset"]["n"] == 40
    assert res["metrics"]["fd_world"]["value"] > 0 and "au_f1" in res["metrics"]
