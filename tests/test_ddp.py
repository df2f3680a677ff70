"""Downstream training over two processes (bench.downstream.distributed): `augen downstream` started as two ranks
(the environment `accelerate launch` / torchrun gives each process) trains every recognizer in both, with gloo on
this CPU; the first process writes the results, which record the process count and differ from a one-process
run's cache entries."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from bench.generation.base import get_generator, write_generated
from bench.world.conditions import world_conditions
from tests.helpers.realdata import affectnet_folder, tiny_real_protocol


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.multiprocess
def test_two_processes_train_each_recognizer_and_the_first_writes(tmp_path):
    root = affectnet_folder(tmp_path / "affectnet", n_train=120, per_class=4)
    syn = write_generated(get_generator("real", world={"seed": 0, "image_size": 64}),
                          world_conditions({"seed": 0, "image_size": 64}, "val", 80), tmp_path / "set")
    proto = tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 40, "seed": 0}, test={"per_class": 4},
                               val={"n": 16}, steps=4, batch_size=8)
    port, out = _free_port(), tmp_path / "res.json"
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "AUGEN_CACHE": str(tmp_path / "cache"), "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.cli", "downstream", str(syn), "--protocol", proto,
                                       "--data-root", str(root), "--out", str(out), "--quiet"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert "expression_accuracy" in outs[0][0] and outs[1][0] == ""  # only the first process prints
    res = json.loads(out.read_text())
    assert res["data"]["processes"] == 2 and res["data"]["training_device"] == "cpu:ddp2"
    acc = res["metrics"]["downstream_expression_accuracy_1x"]
    assert 0 <= acc["value"] <= 1
    entries = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "downstream").glob("*.json")]
    assert len(entries) == 4  # 0.5x, 1x, mixed, real; one seed: each written once



def test_a_batch_the_processes_cannot_share_evenly_is_refused():
    from types import SimpleNamespace

    import pytest
    import torch

    from bench.core.errors import UsageError
    from bench.downstream import data as DD
    from bench.downstream import harness as DS
    from tests.test_downstream import FAST_D, WORLD, ds

    data = DD.from_world(WORLD, "train", 16, 32)
    three = SimpleNamespace(process_index=0, num_processes=3, device=torch.device("cpu"))  # 16 rows / 3 processes
    with pytest.raises(UsageError, match="batch size 16 is not a multiple of the 3 processes"):
        DS.train(data, ds({**FAST_D, "steps": 1}), seed=0, ddp=three)
