"""Downstream training throughput (images/s through one recognizer training) against a bare PyTorch loop over
the same network, steps and batches (same run): the harness's masking, flips and schedule are the difference.
`test_downstream_training_streamed` trains from a pixel file (bench.downstream.pixels: how real-data protocols read
their images, a batch at a time) instead of memory."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream.recognizers import build_recognizer
from bench.scoring.protocols import load_protocol

STEPS = 200


@pytest.fixture(scope="module")
def setup():
    s = dataclasses.replace(load_protocol("world-v1").downstream, steps=STEPS)
    data = DD.from_world({"seed": 0, "image_size": 64}, "train", 2000, s.input_size)
    return s, data


@pytest.mark.benchmark(group="downstream-training")
def test_downstream_training(benchmark, setup):
    s, data = setup
    benchmark.extra_info.update(items=STEPS * s.batch_size, unit="img", baseline="test_bare_training_loop")
    benchmark.pedantic(lambda: DS.train(data, s, 0), rounds=2, warmup_rounds=0)


@pytest.mark.benchmark(group="downstream-training")
def test_downstream_training_streamed(benchmark, setup, tmp_path_factory):
    from bench.downstream.pixels import store

    s, data = setup
    f, _ = store(data.key, len(data), s.input_size, lambda start: iter(data.x[start:].contiguous().split(512)),
                 tmp_path_factory.mktemp("pixels"))
    streamed = DD.LabelledImages(f, data.aus, data.expression, data.key)
    benchmark.extra_info.update(items=STEPS * s.batch_size, unit="img",
                                baseline="test_bare_training_loop")
    benchmark.pedantic(lambda: DS.train(streamed, s, 0), rounds=2, warmup_rounds=0)


@pytest.mark.benchmark(group="downstream-training")
def test_bare_training_loop(benchmark, setup):
    s, data = setup
    benchmark.extra_info.update(items=STEPS * s.batch_size, unit="img")

    def bare():
        torch.manual_seed(0)
        net = build_recognizer(s.recognizer, width=s.width)
        opt = torch.optim.AdamW(net.parameters(), lr=s.lr)
        y = data.expression
        for k in range(STEPS):
            idx = torch.arange(k * s.batch_size, (k + 1) * s.batch_size) % len(data)
            loss = F.cross_entropy(net(data.x[idx].float() / 255)["expression"], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    benchmark.pedantic(bare, rounds=2, warmup_rounds=0)
