"""The sizing tool (bench.devtools.sizing): per-step timing runs, hours follow steps x seconds, the table renders
every filed measurement."""

from __future__ import annotations

import json

import pytest

from bench.devtools import sizing
from bench.scoring.protocols import load_protocol


def test_time_steps_measures_a_step_and_memory():
    m = sizing.time_steps("small-cnn", 8, 16, batch=4, steps=1, device="cpu", warmup=1)
    assert m["batch"] == 4 and m["s_per_step"] > 0 and m["peak_mib"] > 50


def test_plan_turns_per_step_costs_into_hours():
    proto = load_protocol("affectnet-v2")
    measured = {1: {"batch": 256, "s_per_step": 2.0, "peak_mib": 900.0},
                8: {"batch": 32, "s_per_step": 0.25, "peak_mib": 300.0}}
    rows = sizing.plan(proto, [1, 8], measured)
    assert [(r["scale"], r["devices"]) for r in rows] == [(1, 1), (1, 8), (5, 1), (5, 8)]
    one = rows[0]  # 10 epochs of 285,651 images at batch 256
    assert one["steps"] == -(-10 * 285651 // 256) and one["hours_per_training"] == pytest.approx(one["steps"] * 2 / 3600)
    assert rows[2]["images"] == 5 * 285651 and rows[3]["hours_per_training"] == pytest.approx(rows[2]["steps"] * 0.25 / 3600)
    assert one["trainings_per_submission"] == 3 * 3  # 3 seeds x (2 scales + mixed)


def test_main_files_the_json_and_renders_every_filed_one(tmp_path, monkeypatch):
    monkeypatch.setattr(sizing, "time_steps", lambda *a, **k: {"batch": a[3], "s_per_step": 1.0, "peak_mib": 10.0})
    other = {"protocol": "affectnet-v2", "device": "cuda", "device_name": "GPU X", "recognizer": "resnet18",
             "input_size": 112, "batch_size": 256, "timed_steps": 20, "seeds": 3,
             "mixed": {"images": 571302, "steps": 22317}, "rows": []}
    (tmp_path / "affectnet-v2-cuda.json").write_text(json.dumps(other))
    md = tmp_path / "sizing.md"
    assert sizing.main(["--json", str(tmp_path / "affectnet-v2-cpu.json"), "--md", str(md)]) == 0
    text = md.read_text()
    assert "## affectnet-v2 on GPU X (cuda)" in text and "## affectnet-v2 on cpu (cpu)" in text
    assert "| 5x | 1,428,255 | 8 | 32 | 55,792 | 1.000 | 15.5 |" in text
