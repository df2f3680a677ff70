"""Scoring throughput, each against a baseline in the same run.

- judging a folder: our streamed SampleSet path vs clean-fid's `get_folder_features` with the same network
  (the world judge's trunk) on the same 64 px PNGs (clean-fid's resize replaced by a pass-through)
- scoring 10k world images end to end (cold feature cache) vs the bare minimum of that work in the same run:
  decode the 10k PNGs, render the reference faces the protocol reads (test for realism, train for memorization),
  one judge forward pass over all, FD from the features
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.devtools.baselines import import_cleanfid
from bench.generation.base import get_generator, write_generated
from bench.judges.cache import stream_batches
from bench.judges.world import load_world_judge, predict
from bench.scoring.score import score
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


@pytest.fixture(scope="module")
def real_10k(tmp_path_factory):
    return _real_set(tmp_path_factory, 10_000)


@pytest.mark.benchmark(group="score-10k")
def test_score_10k_bare_minimum(benchmark, judge, real_10k):
    """What any scorer of this set under world-v1 must do with a cold cache, and nothing else: decode its PNGs,
    render the images the protocol reads beside them (the test reference for realism, the train reference for
    memorization), one judge forward pass over all three, FD between the set's and the reference's features. The
    train reference's share is recorded apart (`train_reference_s`), so the ratio without it can be read too."""
    import time

    from PIL import Image

    from bench.metrics.realism import fd_from_features
    from bench.scoring.protocols import load_protocol
    from bench.world.params import WorldConfig, sample_params
    from bench.world.render import render

    p = load_protocol("world-v1")
    cfg = WorldConfig(seed=p.world.seed, image_size=p.world.image_size)
    files = sorted((real_10k / "images").iterdir())
    train_s = []

    def features(part) -> np.ndarray:
        return predict(judge, render(sample_params(cfg, part.split, np.arange(part.n)), cfg.image_size))["features"]

    def run():
        images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])  # (10000, 64, 64, 3)
        fg, fr = predict(judge, images)["features"], features(p.reference)
        t = time.perf_counter()
        features(p.train_reference)
        train_s.append(time.perf_counter() - t)
        return fd_from_features(fr, fg)
    benchmark.extra_info.update(items=10_000, unit="img")
    assert np.isfinite(benchmark.pedantic(run, rounds=1, warmup_rounds=0))
    benchmark.extra_info["train_reference_s"] = round(train_s[-1], 3)


@pytest.mark.benchmark(group="score-10k")
def test_score_10k_end_to_end(benchmark, judge, real_10k, tmp_path_factory, monkeypatch):
    root = real_10k
    rounds = iter(range(100))

    def run():
        monkeypatch.setenv("AUGEN_CACHE", str(tmp_path_factory.mktemp(f"cache{next(rounds)}")))  # cold cache
        return score(root, "world-v1")
    benchmark.extra_info.update(items=10_000, unit="img", baseline="test_score_10k_bare_minimum")
    res = benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    benchmark.extra_info["stage_seconds"] = res["stage_seconds"]
    assert res["sampleset"]["n"] == 10_000
