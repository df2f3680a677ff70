"""The board read again: rank stability (bench.studies.stability: the re-run protocols change exactly one thing,
the re-runs regenerate and rescore every entry, refuse a generator that differs from the filed one, resume, and the
report is a pure function of the filed results) and judge independence (bench.studies.judgecheck)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main as augen
from bench.core.errors import DataError
from bench.core.results import write_results
from bench.pipeline import runner
from bench.scoring.protocols import current_hash, load_protocol
from bench.studies import stability as S
from bench.world.conditions import world_conditions

TINY = Path(__file__).parent / "fixtures" / "world-v2-tiny.yaml"
ENTRIES = (("real", "real", {}), ("noise", "noise", {}))


def test_seed_offset_changes_only_the_seeds():
    world = {"seed": 0, "image_size": 64}
    a, b = world_conditions(world, "val", 5), world_conditions(world, "val", 5, seed_offset=7)
    assert [c.seed for c in b] == [c.seed + 7 for c in a] == [7, 8, 9, 10, 11]
    assert all(x.prompt == y.prompt and np.array_equal(x.aus, y.aus) and x.identity == y.identity
               for x, y in zip(a, b))


def test_axis_protocols_change_one_setting_and_the_hash():
    proto = load_protocol(TINY)
    for axis in S.AXES:
        raw = S.axis_protocol(proto, axis)
        assert raw["id"] == f"{proto.id}-{axis}"
        changed = {k for k in raw if raw[k] != proto.raw.get(k)}
        assert changed == {"id", "description", "conditions"}
    assert S.axis_protocol(proto, "conditions")["conditions"] == {"split": "val", "n": 60, "start": 60}
    assert S.axis_protocol(proto, "seed")["conditions"] == {"split": "val", "n": 60, "seed_offset": S.SEED_OFFSET}
    with pytest.raises(Exception, match="unknown axis"):
        S.axis_protocol(proto, "judge")


def file_board(tmp_path: Path, monkeypatch) -> Path:
    """A workspace and cache under tmp_path with ENTRIES scored on TINY and filed as `augen submit` files them."""
    monkeypatch.setenv("AUGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = load_protocol(TINY)
    filed = tmp_path / "home" / "leaderboards" / "results" / proto.id
    for name, gen, options in ENTRIES:
        work = tmp_path / "cache" / "runs" / proto.id / name  # where judgecheck finds the runner's sets
        res = runner.run(runner.RunConfig(gen, str(TINY), options), work, progress=False)
        write_results(filed / f"{name}.json", json.loads(res.read_text()))
    return filed


def test_judgecheck_rereads_the_board_with_the_second_judge(tmp_path, monkeypatch):
    from bench.studies import judgecheck as J

    file_board(tmp_path, monkeypatch)
    proto = load_protocol(TINY)
    filed = [(n, json.loads((tmp_path / "home" / "leaderboards" / "results" / proto.id / f"{n}.json").read_text()))
             for n, _, _ in ENTRIES]
    got, missing = J.rescore(proto, filed, {})
    assert missing == [] and [n for n, _ in got] == ["real", "noise"]
    for (_, a), (_, r) in zip(got, filed):
        assert a["au_judge"]["id"] != r["au_judge"]["id"]  # the second judge read them
        assert a["metrics"]["downstream_training_value"] == r["metrics"]["downstream_training_value"]
        assert a["metrics"]["fd_world"]["value"] != r["metrics"]["fd_world"]["value"]  # other features
    out = tmp_path / "judge.md"
    assert augen(["study", "judgecheck", "--protocol", str(TINY), "--out", str(out)]) == 0
    text = out.read_text()
    assert "board order (gate, then training value) | 1.000 | 2 |" in text and "| noise |" in text


def test_reruns_file_a_board_per_axis_and_resume(tmp_path, monkeypatch):
    filed = file_board(tmp_path, monkeypatch)
    proto = load_protocol(TINY)
    cfg = S.StabilityConfig(str(TINY), tmp_path / "stability.md", tmp_path / "stab", entries=ENTRIES, workers=1,
                            progress=False, command="augen study stability ...")
    S.run_axes(cfg, proto)
    for axis in S.AXES:
        p = load_protocol(cfg.results / axis / "protocol.yaml")
        got = {n: json.loads((cfg.results / axis / f"{n}.json").read_text()) for n, _, _ in ENTRIES}
        assert all(r["protocol"]["hash"] == current_hash(p) != current_hash(proto) for r in got.values())
        assert all("downstream_training_value" in r["metrics"] for r in got.values())
    run_dir = Path(tmp_path / "cache" / "runs")
    first = sorted((run_dir / f"{proto.id}-conditions" / "real").rglob("*.png"))[0].name
    assert first == "00000060.png"  # the redrawn suite: val samples 60..119
    base_noise = json.loads((filed / "noise.json").read_text())["sampleset"]["content_hash"]
    seed_noise = json.loads((cfg.results / "seed" / "noise.json").read_text())["sampleset"]["content_hash"]
    assert base_noise != seed_noise  # noise draws follow the generation seed

    text = S.write_report(cfg, proto).read_text()
    real_row = next(ln for ln in text.splitlines() if ln.startswith("| real |"))
    assert real_row.count(" =") == 1  # the real control renders world samples: the seed re-run scores as filed
    noise_row = next(ln for ln in text.splitlines() if ln.startswith("| noise |"))
    assert " =" not in noise_row  # noise follows the generation seed
    assert "| real |" in text and "redrawn conditions" in text and "other generation seed" in text
    assert "board order" in text
    mtimes = {p: p.stat().st_mtime_ns for p in cfg.results.rglob("*.json")}
    S.run_axes(cfg, proto)  # everything current: nothing rescored
    assert {p: p.stat().st_mtime_ns for p in cfg.results.rglob("*.json")} == mtimes
    assert S.write_report(cfg, proto).read_text() == text

    (cfg.results / "seed" / "noise.json").unlink()  # a re-run whose generator is not the filed one is refused
    other = S.StabilityConfig(cfg.protocol, cfg.out, cfg.results, ("seed",), (("noise", "noise", {"seed": 3}),),
                              workers=1, progress=False)
    with pytest.raises(DataError, match="differs from the filed"):
        S.run_axes(other, proto)


def test_world_v3_report_counts_reruns_inside_the_filed_intervals_and_sets_unchanged_ones_apart(tmp_path):
    from bench.scoring.protocols import load_protocol
    from bench.studies.stability import StabilityConfig, task_report

    proto = load_protocol("world-v3")
    rows = [{"entry": "a", "task": "expression", "axis": "conditions", "filed": 0.3, "ci": [0.2, 0.4],
             "rerun": 0.35, "inside": True, "same": False},
            {"entry": "a", "task": "expression", "axis": "seed", "filed": 0.3, "ci": [0.2, 0.4],
             "rerun": 0.45, "inside": False, "same": False},
            {"entry": "real", "task": "expression", "axis": "seed", "filed": 0.3, "ci": [0.2, 0.4],
             "rerun": 0.3, "inside": True, "same": True}]
    text = task_report(StabilityConfig("world-v3", tmp_path / "s.md", tmp_path), proto, rows)
    assert "**1 of 2 re-runs that changed anything (50%) fall inside the filed intervals** (all rows: 2 of 3)" in text
    assert "expected to hold 91% of re-runs" in text and "| **no** |" in text and "yes = |" in text
