"""Downstream harness: the statistics against independent computations, the recognizers, and validity on
the world (true labels must train better recognizers than shuffled labels; more data must not hurt)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.core.errors import DataError
from bench.core.protocol import DownstreamSettings, section
from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream import spec
from bench.downstream.recognizers import ResNet18, SmallCNN
from bench.scoring.protocols import load_protocol

WORLD = {"seed": 0, "image_size": 64}
FAST_D = dict(recognizer="small-cnn", width=16, input_size=32, real_train={"split": "train", "n": 200},
            test={"split": "test", "n": 600}, scales=[0.5, 1, 2], mixed_scale=1, seeds=[0, 1], steps=200,
            batch_size=64, lr=3e-3, weight_decay=5e-4, au_f1="BP4D12", au_icc="FERA5")
FAST = section(DownstreamSettings, FAST_D, Path("test"), "downstream")


def ds(d: dict) -> DownstreamSettings:
    return section(DownstreamSettings, d, Path("test"), "downstream")


def test_loglinear_fit_recovers_a_known_line():
    scales = [0.5, 1, 2, 5]
    vals = [[0.5 + 0.1 * math.log2(c)] * 3 for c in scales]
    fit = DS.loglinear_fit(scales, vals)
    assert fit["slope_per_doubling"] == pytest.approx(0.1) and fit["at_1x"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0)
    assert math.isnan(DS.loglinear_fit(scales, [[float("nan")]] * 4)["slope_per_doubling"])


def test_seed_ci_matches_a_hand_computed_t_interval():
    v = [0.61, 0.64, 0.58]
    m, (lo, hi) = DS.seed_ci(v)
    half = 4.302652729911275 * statistics.stdev(v) / math.sqrt(3)  # t(0.975, 2) from tables
    assert m == pytest.approx(statistics.mean(v)) and (lo, hi) == pytest.approx((m - half, m + half))
    assert DS.seed_ci([0.5])[1] is None


def test_area_resize_is_the_block_mean():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    want = img.reshape(3, 32, 2, 32, 2, 3).astype(np.float64).mean((2, 4))
    got = DD.resize_uint8(img, 32).permute(0, 2, 3, 1).numpy()
    assert np.abs(got.astype(np.float64) - want).max() <= 0.5 + 1e-9
    assert torch.equal(DD.resize_uint8(img, 64), torch.from_numpy(img).permute(0, 3, 1, 2))


def test_evaluate_known_values():
    test = DD.from_world(WORLD, "test", 300, 32)
    occ = (test.aus.numpy() >= 1.0)
    perfect = {"au_logit": np.where(occ, 5.0, -5.0), "au_int": test.aus.numpy(),
               "expression": np.eye(8)[test.expression.numpy()]}
    all_aus = np.ones(17, bool)
    r = DS.evaluate(perfect, test, all_aus, True, FAST)
    assert r["au_f1"] == pytest.approx(1.0) and r["au_icc"] == pytest.approx(1.0)
    assert r["expression_accuracy"] == 1.0 and r["expression_mca"] == 1.0
    none = DS.evaluate(perfect, test, np.zeros(17, bool), False, FAST)  # nothing was ever labelled
    assert none["au_f1"] == 0.0 and math.isnan(none["expression_accuracy"])


def test_recognizers_shapes():
    for net, size in ((SmallCNN(8), 32), (ResNet18(8), 64)):
        out = net(torch.rand(2, 3, size, size))
        assert {k: tuple(v.shape) for k, v in out.items()} == {"expression": (2, 8), "au_logit": (2, 17),
                                                               "au_int": (2, 17)}
    names = {n for n, _ in ResNet18().named_parameters()}
    assert {"conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.bias", "layer2.0.downsample.0.weight"} <= names


def _shuffled(d: DD.LabelledImages, seed: int = 0) -> DD.LabelledImages:
    p = torch.randperm(len(d), generator=torch.Generator().manual_seed(seed))
    return DD.LabelledImages(d.x, d.aus[p], d.expression[p], d.key + ":shuffled")


def test_true_labels_beat_shuffled_labels_and_trainings_are_cached_and_deterministic(tmp_path):
    real = DD.from_world(WORLD, "train", 400, 32)
    test = DD.from_world(WORLD, "test", 600, 32)
    good = DS.run_one(real, test, FAST, 0, cache=tmp_path)
    bad = DS.run_one(_shuffled(real), test, FAST, 0, cache=tmp_path)
    assert good["expression_accuracy"] > bad["expression_accuracy"] + 0.1
    assert good["au_f1"] > bad["au_f1"] and good["au_icc"] > bad["au_icc"] + 0.05
    assert len(list(tmp_path.glob("*.json"))) == 2
    again = DS.run_one(real, test, FAST, 0, cache=tmp_path / "fresh")  # retrained, not read back
    assert again == good


def test_run_downstream_and_metrics(tmp_path):
    s = ds({**FAST_D, "width": 8, "steps": 100, "scales": [0.25, 2]})
    syn = DD.from_world(WORLD, "val", 400, 32)
    real = DD.from_world(WORLD, "train", 200, 32)
    test = DD.from_world(WORLD, "test", 600, 32)
    raw = DS.run_downstream(syn, real, test, s, cache=tmp_path)
    assert set(raw) == {"real", "synthetic", "mixed", "trivial"} and set(raw["synthetic"]) == {"0.25x", "2x"}
    m = DS.downstream_metrics(raw, s)
    assert set(m) == set(spec.metric_names(s))
    acc = [m[f"downstream_expression_accuracy_{c}"]["value"] for c in ("0.25x", "2x")]
    assert acc[1] > acc[0]  # 4x the data, same steps: better
    e = m["downstream_expression_accuracy_2x"]
    assert e["ci95"][0] <= e["value"] <= e["ci95"][1] and len(e["per_seed"]) == 2
    assert m["downstream_expression_accuracy_mixed"]["real_only"] == pytest.approx(np.mean(raw["real"][
        "expression_accuracy"]))


def test_accelerator_path_runs_in_process_and_caches_apart(tmp_path):
    """A `device` other than "cpu" trains one job after another in this process, with this process's threads
    (the path a GPU takes; "cpu:0" stands in), and caches apart from the single-threaded CPU trainings."""
    s = ds({**FAST_D, "width": 8, "steps": 30, "seeds": [0]})
    real = DD.from_world(WORLD, "train", 64, 32)
    test = DD.from_world(WORLD, "test", 64, 32)
    DS._run_jobs([(real, test, s, 0, 1.0, tmp_path)], 1, None, ["a"])
    dev = DS._run_jobs([(real, test, s, 0, 1.0, tmp_path)], 1, None, ["a"], device="cpu:0")
    direct = DS.run_one(real, test, s, 0, 1.0, tmp_path / "direct")  # same process, same threads
    assert json.dumps(dev) == json.dumps([direct])
    assert DS.cache_path(real, test, s, 0, 1.0, tmp_path) != DS.cache_path(real, test, s, 0, 1.0, tmp_path, "cpu:0")
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_protocol_downstream_settings_are_checked(tmp_path):
    p = load_protocol("world-v1")
    assert p.metric_info["downstream_au_f1_5x"] == {"family": "downstream", "higher_is_better": True}
    import yaml

    s = yaml.safe_load(p.path.read_text())
    for bad, msg in (({"scales": []}, "positive"), ({"seeds": [0, 0]}, "distinct"), ({"recognizer": "vgg"}, "unknown"),
                     ({"au_f1": "BP5"}, "named AU subset")):
        f = tmp_path / "p.yaml"
        f.write_text(yaml.safe_dump({**s, "downstream": {**s["downstream"], **bad}}))
        with pytest.raises(DataError, match=msg):
            load_protocol(str(f))
    del s["downstream"]["steps"]
    f.write_text(yaml.safe_dump(s))
    with pytest.raises(DataError, match="exactly one of steps"):
        load_protocol(str(f))
    f.write_text(yaml.safe_dump({**s, "downstream": {**s["downstream"], "steps": 10, "epochs": 3}}))
    with pytest.raises(DataError, match="exactly one of steps"):
        load_protocol(str(f))
    f.write_text(yaml.safe_dump({**s, "downstream": {**s["downstream"], "steps": 10, "max_steps": 3}}))
    with pytest.raises(DataError, match="max_steps"):
        load_protocol(str(f))


def test_world_slices_render_the_same_faces_in_any_chunks_and_only_when_a_training_needs_them(tmp_path,
                                                                                               monkeypatch):
    """A WorldSlice keys the cache like the rendered faces; its pixels do not depend on chunking; a baseline whose
    trainings are cached is never rendered."""
    ws = DD.WorldSlice(WORLD, "train", 300, 32, start=50)
    one = ws.load()
    from bench.downstream import data as D

    monkeypatch.setattr(D, "RENDER_CHUNK", 64)
    pooled = ws.load()  # 5 chunks
    assert one.key == pooled.key == ws.key and len(ws) == 300
    assert torch.equal(one.x, pooled.x) and torch.equal(one.aus, pooled.aus)
    assert torch.equal(one.expression, pooled.expression)
    ref = DD.from_world(WORLD, "train", 350, 32)  # the same samples, rendered from index 0
    assert torch.equal(ref.x[50:], one.x) and torch.equal(ref.aus[50:], one.aus)

    s = ds({**FAST_D, "width": 8, "steps": 20, "seeds": [0]})
    real, test = DD.from_world(WORLD, "train", 32, 32), DD.from_world(WORLD, "test", 64, 32)
    first = DS.run_downstream(None, real, test, s, cache=tmp_path, workers=1, baselines={"big": ws})
    monkeypatch.setattr(DD.WorldSlice, "load", lambda self: pytest.fail("rendered a cached baseline"))
    again = DS.run_downstream(None, real, test, s, cache=tmp_path, workers=1, baselines={"big": ws})
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True) and first["baselines"]["big"][
        "n"] == 300
