"""Adding a generator is one module + one entry point + one test. This is that test, for the template package in
tests/plugin/augen_example: an `augen.generators` entry point (what `pip install` of a plugin writes, made here
as a .dist-info folder) makes `example-flat` a generator like any built-in one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import UsageError
from bench.core.registry import GENERATORS

PLUGIN = Path(__file__).resolve().parent / "plugin"


@pytest.fixture
def installed(tmp_path, monkeypatch) -> Path:
    """A site folder holding the plugin's entry point, on sys.path (and PYTHONPATH for subprocesses)."""
    site = tmp_path / "site"
    dist = site / "augen_example-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: augen-example\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[augen.generators]\nexample-flat = augen_example.generator:FlatGenerator\n")
    for p in (str(PLUGIN), str(site)):
        monkeypatch.syspath_prepend(p)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGIN), str(site), os.environ.get("PYTHONPATH", "")]))
    yield site
    GENERATORS._entries.pop("example-flat", None)  # registered by this test only


def test_a_plugin_generator_runs_through_the_harness(installed, tmp_path, monkeypatch):
    from bench.pipeline.runner import RunConfig, run
    from tests.helpers.protocols import mini_protocol

    assert "example-flat" in GENERATORS.names()
    with pytest.raises(UsageError, match=r"no option 'shdae'; valid: shade, size"):
        from bench.generation.base import get_generator
        get_generator("example-flat", {"shdae": 0.5})
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = mini_protocol(tmp_path, 40)
    out = run(RunConfig("example-flat", proto, {"shade": 0.5}, shard_size=20, downstream=False), tmp_path / "run",
              progress=False)
    res = json.loads(out.read_text())
    assert res["generator"] == {"name": "example-flat", "version": "1", "config": {"shade": 0.5, "size": 64}}
    m = res["metrics"]
    assert m["vendi"]["value"] == pytest.approx(1.0, abs=1e-6)  # one image, forty times
    # it claims exactly what was requested: claimed-vs-judge and request-vs-judge agree to the last bit
    assert m["au_f1"]["value"] == m["au_f1_condition"]["value"] and np.isfinite(m["au_f1"]["value"])
    # the command line finds it too, and names the valid options of a misspelt one
    r = subprocess.run([sys.executable, "-m", "bench.cli", "generate", "example-flat", "--protocol", proto, "--n", "3",
                        "--out", str(tmp_path / "cli"), "--option", "shdae=0.5"], capture_output=True, text=True)
    assert r.returncode == 2 and "no option 'shdae'; valid: shade, size" in r.stderr
    r = subprocess.run([sys.executable, "-m", "bench.cli", "list", "generators"], capture_output=True, text=True)
    assert r.returncode == 0 and "example-flat" in r.stdout
