"""GPU check of a reference pipeline at SD-1.5 size with random weights: images/s and peak memory, sampling or
(`--train`) training.

    python -m reference.gpucheck maugen --size 512 --steps 30 --batch 4 --out reports/maugen_gpu.json
    python -m reference.gpucheck synfer --size 512 --steps 50 --batch 4 --out reports/synfer_gpu.json  # guided
    python -m reference.gpucheck maugen --train --size 512 --steps 20 --batch 4 --out reports/maugen_train_gpu.json
    python -m reference.gpucheck synfer --train --size 512 --steps 10 --batch 4 --out reports/synfer_train_gpu.json

`--train` runs the sd15 trainer itself (`augen train MODEL --config sd15`'s code: bf16 autocast, gradient
checkpointing, AdamW) for `--steps` optimiser steps of `--batch` faces on random SD-1.5-size weights and a small
world SampleSet upsampled to `--size`, timing every step after the first (TRAIN_CHECKS: one function per model).

Runs on CUDA in bf16 (SDPA attention, channels-last UNet); refuses to run on CPU unless --allow-cpu (used
by a smoke test at a tiny size). Random weights give the real shapes, so speed and memory are those of the
real model; the images are noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def build(model: str):
    if model == "maugen":
        from reference.maugen.config import build_sd15_random

        return build_sd15_random()
    if model == "synfer":
        from reference.synfer.config import build_sd15_random  # noqa: F401  (issue 5)

        return build_sd15_random()
    raise ValueError(f"unknown model {model!r}")


def run_check(model: str, size: int, steps: int, batch: int, device: str, dtype: torch.dtype, repeats: int = 2,
              call_kwargs: dict | None = None) -> dict:
    torch.manual_seed(0)
    pipe = build(model).to(device, dtype)
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.set_progress_bar_config(disable=True)
    kw = dict(prompt=["a face with clearly raised cheeks"] * batch, height=size, width=size,
              num_inference_steps=steps, guidance_scale=7.5, **(call_kwargs or {}))
    if model == "maugen":
        kw["au_intensity"] = torch.full((batch, 12), 2.0)
    if model == "synfer":  # AU adapter on, semantic guidance over the last 70% of steps, pseudo-labels on
        kw.update(au_intensity=torch.full((batch, 17), 2.0), expression=[1] * batch, semantic_guidance_scale=0.1,
                  guidance_start=int(steps * 0.3), pseudo_label=True, **(call_kwargs or {}))
    pipe(**{**kw, "num_inference_steps": 2, "guidance_start": 0} if model == "synfer" else
         {**kw, "num_inference_steps": 2})  # warm-up (kernels, allocator)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pipe(**kw)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"model": model, "size": size, "steps": steps, "batch": batch, "device": device,
            "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu", "dtype": str(dtype),
            "seconds_per_batch": round(best, 3), "images_per_s": round(batch / best, 3),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
            "unet_params_m": round(sum(p.numel() for p in pipe.unet.parameters()) / 1e6, 1),
            "torch": torch.__version__}


def _timed_steps(stamps: list[float], device: str):
    """A stand-in for sd15train.train_resumable that records when each optimiser step ends."""
    import reference.common.sd15train as sd

    real = sd.train_resumable

    def timed(ckpt, steps, step_fn, *a, **kw):
        def fn(step):
            out = step_fn(step)
            if device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
            return out
        return real(ckpt, steps, fn, *a, **kw)
    return timed


def _world_faces(root: Path, n: int) -> Path:
    """n world-train faces at 128 px with their labels and world-grammar captions (the trainers upsample)."""
    from bench.world.make import make_world_set
    from bench.world.params import WorldConfig

    make_world_set(root, WorldConfig(seed=0, image_size=128), "train", n, progress=False)
    return root


def train_check_maugen(size: int, steps: int, batch: int, device: str, pipe=None) -> dict:
    """MAUGen's sd15 trainer (published variant, random rectangles: the head masks' landmark reading is data
    preparation, cached once per set) for `steps` optimiser steps of `batch` faces at `size` px; `pipe`: the
    pipeline to train (default: random SD-1.5-inpainting-size weights, `build_sd15_random`)."""
    import tempfile
    from unittest import mock

    import reference.common.sd15train as sd
    from reference.maugen.train import MAUGenSD15Config, train_sd15_maugen

    torch.manual_seed(0)
    pipe = pipe if pipe is not None else build("maugen")
    pipe.unet.register_to_config(sample_size=size // pipe.vae_scale_factor)  # the trainer's image size
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = _world_faces(Path(tmp) / "faces", 4 * batch)
        cfg = MAUGenSD15Config(steps=steps, batch=batch, grad_accum=1, checkpoint_every=steps + 1, masks="random",
                               out=str(Path(tmp) / "out"))
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with mock.patch.object(sd, "train_resumable", _timed_steps(stamps, device)):
            train_sd15_maugen(Path("random-sd15-weights"), data, cfg, progress=False, pipe=pipe)
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]  # the first step (warm-up) is left out
    sec = float(np.median(per_step)) if per_step else float("nan")
    return {"model": "maugen", "mode": "train", "size": size, "steps": steps, "batch": batch, "grad_accum": 1,
            "device": device, "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "precision": "bf16 autocast" if device == "cuda" else "fp32", "gradient_checkpointing": True,
            "seconds_per_step": round(sec, 3), "steps_per_s": round(1 / sec, 4) if per_step else None,
            "images_per_s": round(batch / sec, 4) if per_step else None,
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
            "unet_params_m": round(sum(p.numel() for p in pipe.unet.parameters()) / 1e6, 1),
            "torch": torch.__version__}


SYNFER_TRAIN_STAGES = ("text", "text-full", "adapter", "fer", "labeller")  # text = LoRA (the default), then full


def train_check_synfer(size: int, steps: int, batch: int, device: str, pipe=None) -> dict:
    """Every SynFER sd15 stage (reference/synfer/train_sd15.py: text with LoRA, text with full fine-tuning, adapter,
    fer, labeller) for `steps` optimiser steps of `batch` faces at `size` px, each timed after its first step, with
    its peak memory; `pipe`: the SD-1.5 pipeline the stages start from (SynFERPipeline without SynFER modules;
    default: random SD-1.5-size weights). Each stage gets the modules its input folder would hold (the labeller an
    AU adapter)."""
    import shutil
    import tempfile
    from unittest import mock

    import reference.common.sd15train as sd
    from reference.synfer.config import sd15_heads
    from reference.synfer.train_sd15 import SynFERSD15Config, train_sd15_synfer

    torch.manual_seed(0)
    if pipe is None:
        from reference.common.parts import eval_mode, sd15_text_encoder, sd15_unet, sd15_vae, sd_scheduler
        from reference.common.text import world_tokenizer
        from reference.synfer.pipeline_synfer import SynFERPipeline

        tok = world_tokenizer()
        pipe = eval_mode(SynFERPipeline(vae=sd15_vae(), text_encoder=sd15_text_encoder(tok), tokenizer=tok,
                                        unet=sd15_unet(4), scheduler=sd_scheduler()))
    pipe.unet.register_to_config(sample_size=size // pipe.vae_scale_factor)  # the trainer's image size
    stages = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = _world_faces(Path(tmp) / "faces", 4 * batch)
        for name in SYNFER_TRAIN_STAGES:
            stage = name.split("-")[0]
            heads = sd15_heads(pipe.unet, pipe.tokenizer.model_max_length, ("au_adapter",)) if stage == "labeller" \
                else {}
            start = type(pipe)(**{**pipe.components, **heads})
            cfg = SynFERSD15Config(stage=stage, tuning="full" if name == "text-full" else "lora", steps=steps,
                                   batch=batch, grad_accum=1, checkpoint_every=steps + 1, out=str(Path(tmp) / name))
            stamps: list[float] = []
            if device == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            with mock.patch.object(sd, "train_resumable", _timed_steps(stamps, device)):
                out = train_sd15_synfer(Path("random-sd15-weights"), data, cfg, progress=False, pipe=start)
            shutil.rmtree(out)  # gigabytes at SD size: one stage's folder and checkpoint at a time
            out.with_name(out.name + ".ckpt").unlink()
            per_step = [b - a for a, b in zip(stamps, stamps[1:])]  # the first step (warm-up) is left out
            sec = float(np.median(per_step)) if per_step else float("nan")
            stages[name] = {
                "seconds_per_step": round(sec, 3), "steps_per_s": round(1 / sec, 4) if per_step else None,
                "images_per_s": round(batch / sec, 4) if per_step else None,
                "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
                "lr": cfg.lr, "gradient_checkpointing": stage == "text"}
    return {"model": "synfer", "mode": "train", "size": size, "steps": steps, "batch": batch, "grad_accum": 1,
            "device": device, "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "precision": "bf16 autocast" if device == "cuda" else "fp32", "stages": stages,
            "unet_params_m": round(sum(p.numel() for p in pipe.unet.parameters()) / 1e6, 1),
            "torch": torch.__version__}


#: --train: one function per model, (size, steps, batch, device) -> the result JSON
TRAIN_CHECKS = {"maugen": train_check_maugen, "synfer": train_check_synfer}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=("maugen", "synfer"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--out", help="JSON file to write")
    ap.add_argument("--allow-cpu", action="store_true", help="run on CPU in float32 (smoke test only)")
    ap.add_argument("--train", action="store_true", help="time training steps of the sd15 trainer, not sampling")
    a = ap.parse_args(argv)
    if torch.cuda.is_available():
        device, dtype = "cuda", torch.bfloat16
    elif a.allow_cpu:
        device, dtype = "cpu", torch.float32
    else:
        print("gpucheck: no CUDA device (pass --allow-cpu for a CPU smoke run)", file=sys.stderr)
        return 2
    if a.train and a.model not in TRAIN_CHECKS:
        print(f"gpucheck: no --train check for {a.model} yet", file=sys.stderr)
        return 2
    res = (TRAIN_CHECKS[a.model](a.size, a.steps, a.batch, device) if a.train else
           run_check(a.model, a.size, a.steps, a.batch, device, dtype, repeats=1 if device == "cpu" else 2))
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        from bench.core.atomic import atomic_write_text

        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(a.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
