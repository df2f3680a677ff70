"""Scoring throughput, each against a baseline in the same run.

- judging a folder: our streamed SampleSet path vs clean-fid's `get_folder_features` with the same network
  (the world judge's trunk) on the same 64 px PNGs (clean-fid's resize replaced by a pass-through)
- scoring 10k world images end to end (cold feature cache): images/s
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.devtools.baselines import import_cleanfid
from bench.generation.base import get_generator, write_generated
from bench.judges.cache import stream_batches
from bench.judges.world import load_world_judge, predict
from bench.scoring.score import score_sampleset
from bench.world.conditions import world_conditions

WORLD = {"seed": 0, "image_size": 64}


@pytest.fixture(scope="module")
def judge():
    return load_world_judge(train_if_missing=False)[0]


def _real_set(tmp_path_factory, n: int):
    out = tmp_path_factory.mktemp(f"real{n}") / "set"
    return write_generated(get_generator("real", world=WORLD), world_conditions(WORLD, "val", n), out)


@pytest.fixture(scope="module")
def real_2k(tmp_path_factory):
    return _real_set(tmp_path_factory, 2000)


@pytest.mark.benchmark(group="judge-folder")
def test_judge_folder_ours(benchmark, judge, real_2k):
    def run():
        return np.concatenate([predict(judge, b)["features"] for b in stream_batches(real_2k, 256, workers=1)])
    benchmark.extra_info.update(items=2000, unit="img", baseline="test_judge_folder_cleanfid")
    feats = benchmark.pedantic(run, rounds=1, warmup_rounds=1)
    assert feats.shape == (2000, 256)


@pytest.mark.benchmark(group="judge-folder")
def test_judge_folder_cleanfid(benchmark, judge, real_2k):
    fid = import_cleanfid()

    class Trunk(torch.nn.Module):  # clean-fid hands the model float batches in [0, 255]
        def forward(self, x):
            return judge(x / 255.0)["features"]

    model = Trunk().eval()

    def run():
        with torch.no_grad():
            return fid.get_folder_features(str(real_2k / "images"), model=model, num_workers=1, batch_size=256,
                                           device=torch.device("cpu"), mode="clean", verbose=False,
                                           custom_fn_resize=lambda x: x.astype(np.float32))
    benchmark.extra_info.update(items=2000, unit="img")
    feats = benchmark.pedantic(run, rounds=1, warmup_rounds=1)
    assert feats.shape == (2000, 256)


@pytest.mark.benchmark(group="score-10k")
def test_score_10k_end_to_end(benchmark, judge, tmp_path_factory, monkeypatch):
    root = _real_set(tmp_path_factory, 10_000)
    rounds = iter(range(100))

    def run():
        monkeypatch.setenv("AUGEN_CACHE", str(tmp_path_factory.mktemp(f"cache{next(rounds)}")))  # cold cache
        return score_sampleset(root, "world-v1")
    benchmark.extra_info.update(items=10_000, unit="img")
    res = benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    benchmark.extra_info["stage_seconds"] = res["stage_seconds"]
    assert res["sampleset"]["n"] == 10_000
