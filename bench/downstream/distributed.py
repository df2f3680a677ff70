"""Downstream training over several processes (DDP through `accelerate`), for the real-data protocols at full
scale:

    accelerate launch --multi_gpu --num_processes 8 -m bench.cli downstream SET --protocol affectnet-v2 \
        --data-root DIR --out results.json

Every process runs the same trainings in the same order. Each step's batch (drawn from the same seeded schedule in
every process) is split by rank, `rows[rank::N]`, so the global batch and the images seen are those of a
one-process run; gradients are averaged by DDP; batch-norm statistics are per process (no SyncBN), so numbers
differ from a one-process run's by that much, and results and their cache entries record the process count. The
first process decodes the pixel files while the others wait, evaluates each training and writes the cache and the
results; the others train only. Without `accelerate launch` (no WORLD_SIZE > 1) nothing here is used. Generation
under `accelerate launch` (bench.pipeline.runner) never turns this on: only `augen downstream` asks for it.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import lru_cache


def launched() -> bool:
    """Started by `accelerate launch` / torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@lru_cache(maxsize=1)
def accelerator():
    """The process group's Accelerator (NCCL on GPUs, gloo on CPUs), made once per process."""
    import torch
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision="no")  # float32, as one process trains


def ddp_or_none():
    """The Accelerator when launched with several processes, else None (one process: nothing changes)."""
    return accelerator() if launched() else None


def main_first(ddp):
    """A block the first process runs before the others (decoding pixel files), or no-op without DDP."""
    return ddp.main_process_first() if ddp is not None else nullcontext()


def is_main(ddp) -> bool:
    return ddp is None or ddp.is_main_process


def device_label(device: str, ddp) -> str:
    """What a training's numbers depend on: the device, and under DDP its type and the process count."""
    return device if ddp is None else f"{ddp.device.type}:ddp{ddp.num_processes}"
