"""A resumable training loop: checkpoints that make a killed run finish with identical weights.

Every step's randomness comes from `step_generator(seed, step)` and every step's data is a pure function
of the step index, so a run restored from the checkpoint at step k continues exactly as if it had never
stopped. Checkpoints are written atomically (temp file + rename) every `every` steps and at the end.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from bench.core.atomic import atomic_write_bytes
from bench.core.errors import on_interrupt


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """The RNG of one training step (independent of how many steps ran before in this process)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 97 + stream)


def lr_factor(step: int, total: int, warm: int = 100) -> float:
    """Linear warm-up over `warm` steps, then cosine decay to 5% at `total`."""
    if step < warm:
        return (step + 1) / warm
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, clip_params: list | None = None) -> None:
    """backward, optional gradient-norm clipping at 1.0, step, zero the gradients."""
    loss.backward()
    if clip_params is not None:
        torch.nn.utils.clip_grad_norm_(clip_params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


def save_checkpoint(path: Path, step: int, modules: dict[str, torch.nn.Module], optimizers: dict, log: list) -> None:
    state = {"step": step, "log": log, "modules": {k: m.state_dict() for k, m in modules.items()},
             "optimizers": {k: o.state_dict() for k, o in optimizers.items()}}
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict) -> tuple[int, list]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if set(state["modules"]) != set(modules):
        raise ValueError(f"{path}: checkpoint holds {sorted(state['modules'])}, this stage trains {sorted(modules)}")
    for k, m in modules.items():
        m.load_state_dict(state["modules"][k])
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    return int(state["step"]), list(state["log"])


def kept(ckpt: Path, step: int, steps: int, every: int) -> str:
    """What an interrupted training leaves: the checkpoint's step, and how to go on."""
    if step == 0:
        return f"no checkpoint yet (the first is saved at step {min(every, steps)}); the same command starts again"
    return f"{ckpt} holds step {step} of {steps}; rerun the same command to resume from it (identical weights)"


def train_resumable(ckpt: Path, steps: int, step_fn: Callable[[int], dict[str, float]],
                    modules: dict[str, torch.nn.Module], optimizers: dict, *, every: int = 100,
                    desc: str = "train", progress: bool = True, log_every: int = 50) -> list[dict]:
    """Run `step_fn(step)` for steps [k, steps), k restored from `ckpt` if it exists; returns the loss log.

    `step_fn` does one optimisation step (forward, backward, optimizer step) and returns its losses.
    """
    start, log = (load_checkpoint(ckpt, modules, optimizers) if ckpt.is_file() else (0, []))
    for m in modules.values():
        m.train()
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=desc, unit="step", disable=not progress)
    run: dict[str, float] = {}
    t0 = time.perf_counter()
    with on_interrupt(kept(ckpt, start, steps, every)) as note:  # Ctrl-C: `augen` says what the checkpoint holds
        for step in bar:
            losses = step_fn(step)
            for k, v in losses.items():
                run[k] = run.get(k, 0.0) + float(v)
            if (step + 1) % log_every == 0:
                log.append({"step": step + 1, **{k: round(v / log_every, 5) for k, v in run.items()}})
                bar.set_postfix({k: f"{v / log_every:.4f}" for k, v in run.items()})
                run = {}
            if (step + 1) % every == 0 or step + 1 == steps:
                save_checkpoint(ckpt, step + 1, modules, optimizers, log)
                note.message = kept(ckpt, step + 1, steps, every)
    if start < steps:
        log.append({"seconds_this_run": round(time.perf_counter() - t0, 1)})
    for m in modules.values():
        m.eval()
    return log
