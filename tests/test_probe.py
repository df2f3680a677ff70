"""`augen world probe`: the judge network on a tiny budget writes a difficulty report (JSON + markdown)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_probe_cli_smoke(tmp_path):
    out = tmp_path / "difficulty"
    r = subprocess.run([sys.executable, "-m", "bench.cli", "world", "probe", "--size", "32", "--n-train", "256",
                        "--n-test", "128", "--epochs", "1", "--quiet", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.with_suffix(".json").read_text())
    assert 0.0 <= res["expression_accuracy"] <= 1.0 and len(res["au_f1"]) == 17
    assert len(res["expression_per_class"]) == 8 and len(res["au_base_rate"]) == 17
    text = out.with_suffix(".md").read_text()
    assert "difficulty probe" in text and "| AU01 |" in text and "| contempt |" in text
