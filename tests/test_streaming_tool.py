"""The streaming measurement (bench.devtools.streaming) at a tiny size: both modes run in their own process on the
same file, the file is removed after, and the table is rendered from the JSON."""

from __future__ import annotations

from bench.devtools import streaming


def test_streaming_measurement_runs_both_modes_and_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    res = streaming.measure([300], steps=3)
    assert [(r["n"], r["mode"]) for r in res["runs"]] == [(300, "stream"), (300, "memory")]
    assert all(r["peak_rss_mib"] > 50 and r["images_per_s"] > 0 for r in res["runs"])
    assert list((tmp_path / "cache" / "pixels").iterdir()) == []  # the measurement's file is gone
    md = streaming.markdown(res)
    assert "| 300 | 0.00 |" in md and md.count("\n| 300 |") == 1
    assert 0 < streaming.peak_mib()
