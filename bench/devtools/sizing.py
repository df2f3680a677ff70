"""How long and how much memory a full-scale real-data protocol takes: per-step costs measured on this machine's
device, turned into hours at 1x and 5x on 1 and k devices.

    python -m bench.devtools.sizing --protocol affectnet-v2 [--device cuda] [--gpus 1 8] [--steps 5] \
        [--json reports/results/sizing/<device>.json] [--md reports/sizing.md]

It times optimizer steps (forward, backward, AdamW; after warm-up steps) of the protocol's recognizer at its input
size on random uint8 batches, at the protocol's batch and at the per-device batch of each device count (batch / k,
what each DDP process computes, bench.downstream.distributed), and records peak memory (CUDA: the allocator's
peak; CPU: the process's VmHWM). Hours = steps of one training x seconds per step; for k devices the per-device
step at batch / k is the estimate (the gradient all-reduce is not measured on one device: an optimistic bound).
A submission runs seeds x (scales + mixed) trainings; the real-only ones run once per protocol and dataset. Reading
batches from pixel files is measured apart (reports/streaming.md). The markdown holds every JSON filed under
reports/results/sizing/, one table per device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.core.atomic import atomic_write_text

DEFAULT_JSON_DIR = Path("reports/results/sizing")


def _peak_mib(device: str) -> float:
    import torch

    from bench.devtools.streaming import peak_mib

    return torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.startswith("cuda") else peak_mib()


def time_steps(recognizer: str, width: int, size: int, batch: int, steps: int, device: str, warmup: int = 2,
               pretrained_layout: bool = False) -> dict:
    """Seconds per optimizer step and peak memory of one recognizer on random (batch, 3, size, size) images."""
    import torch
    import torch.nn.functional as F

    from bench.downstream.recognizers import build_recognizer

    torch.manual_seed(0)
    net = build_recognizer(recognizer, width=width).to(device).train()
    net.normalize = pretrained_layout
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    y = torch.randint(0, 8, (batch,), device=device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        out = net(x.float().div_(255.0))
        loss = F.cross_entropy(out["expression"], y) + 0.0 * (out["au_logit"].sum() + out["au_int"].sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    return {"batch": batch, "s_per_step": (time.perf_counter() - t) / steps, "peak_mib": _peak_mib(device)}


def plan(proto, gpus: list[int], measured: dict[int, dict]) -> list[dict]:
    """Rows of the sizing table: scale x device count -> steps, s/step, hours per training and per submission."""
    s = proto.downstream
    n1 = s.real_train.n
    runs = len(s.seeds) * (len(s.scales) + 1)  # a submission's trainings: each scale and the mixed run, per seed
    rows = []
    for scale in s.scales:
        n = int(round(scale * n1))
        steps = s.steps_for(n)
        for k in gpus:
            m = measured[k]
            hours = steps * m["s_per_step"] / 3600
            rows.append({"scale": scale, "images": n, "devices": k, "per_device_batch": m["batch"], "steps": steps,
                         "s_per_step": m["s_per_step"], "hours_per_training": hours, "peak_mib": m["peak_mib"],
                         "trainings_per_submission": runs})
    return rows


def measure(protocol: str, device: str, gpus: list[int], steps: int) -> dict:
    import torch

    from bench.scoring.protocols import load_protocol

    proto = load_protocol(protocol)
    s = proto.downstream
    measured = {k: time_steps(s.recognizer, s.width, s.input_size, -(-s.batch_size // k), steps, device,
                              pretrained_layout=s.pretrained is not None)
                for k in sorted(gpus, reverse=True)}  # small batches first: a CPU peak (VmHWM) only grows
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu"
    mixed = s.steps_for(n := s.real_train.n + int(round(s.mixed_scale * s.real_train.n)))
    return {"protocol": proto.id, "device": device, "device_name": name, "recognizer": s.recognizer,
            "input_size": s.input_size, "batch_size": s.batch_size, "timed_steps": steps,
            "seeds": len(s.seeds), "mixed": {"images": n, "steps": mixed},
            "rows": plan(proto, gpus, measured)}


def markdown(results: list[dict]) -> str:
    lines = ["# Sizing of full-scale real-data protocols (`python -m bench.devtools.sizing`)", "",
             "Per-step costs measured on each device (forward, backward and AdamW of the protocol's recognizer on "
             "random batches); hours = steps of one training x seconds per step. With k devices each DDP process "
             "computes batch / k, timed here on one device: the all-reduce is not included, so k-device hours are a "
             "lower bound. A submission trains every scale and the mixed run once per seed.", ""]
    for r in results:
        lines += [f"## {r['protocol']} on {r['device_name']} ({r['device']})", "",
                  f"{r['recognizer']} at {r['input_size']} px, global batch {r['batch_size']}, {r['timed_steps']} "
                  f"timed steps after warm-up; {r['seeds']} seeds; the mixed run trains on {r['mixed']['images']:,} "
                  f"images ({r['mixed']['steps']:,} steps).", "",
                  "| scale | images | devices | batch per device | steps | s / step | hours per training | "
                  "hours for all seeds | peak memory per device MiB |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for w in r["rows"]:
            lines.append(f"| {w['scale']:g}x | {w['images']:,} | {w['devices']} | {w['per_device_batch']} | "
                         f"{w['steps']:,} | {w['s_per_step']:.3f} | {w['hours_per_training']:,.1f} | "
                         f"{w['hours_per_training'] * r['seeds']:,.1f} | {w['peak_mib']:,.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.devtools.sizing", description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="affectnet-v2", help="a real-data protocol id or YAML path")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    ap.add_argument("--gpus", type=int, nargs="+", default=[1, 8], help="device counts to size for")
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps per measurement")
    ap.add_argument("--json", help="where the measurement goes (default reports/results/sizing/<device>.json)")
    ap.add_argument("--md", default="reports/sizing.md", help="the table of every filed sizing JSON")
    a = ap.parse_args(argv)
    res = measure(a.protocol, a.device, a.gpus, a.steps)
    out = Path(a.json or DEFAULT_JSON_DIR / f"{res['protocol']}-{a.device.replace(':', '')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(res, indent=1) + "\n")
    filed = [json.loads(p.read_text()) for p in sorted(out.parent.glob("*.json"))]
    atomic_write_text(a.md, markdown(filed))
    print(markdown([res]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
