"""Peak memory of downstream training streamed from a pixel file against the same training from memory, at growing
numbers of world images (issue 16: memory flat from 20k to 300k), with the images trained per second of each.

    python -m bench.devtools.streaming [--n 20000 100000 300000] [--steps 300] \
        [--json reports/results/streaming.json] [--out reports/streaming.md]

For each n, world train faces are rendered in chunks straight into a pixel file (bench.downstream.pixels.store,
under a temporary folder of the cache, removed after), then two fresh processes each train the same recognizer
for the same steps on the same batches: one reads batches from the file (what real-data protocols do), one first
reads the whole file into a tensor (the in-memory harness, the baseline of the same run). Each process reports its
peak resident memory (VmHWM) and its training time. The markdown is rendered from the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core.atomic import atomic_write_text

STEPS = 300  # optimizer steps per training (equal at every n: memory is the question, not accuracy)
SIZE = 64  # recognizer input side: the world's own 64 px (12 KiB a face), no resize


def _settings(steps: int):
    from bench.scoring.protocols import load_protocol

    s = load_protocol("world-v2").downstream
    return dataclasses.replace(s, input_size=SIZE, steps=steps, epochs=None, max_steps=None)


def write_world_file(n: int, where: Path):
    """World train faces 0..n-1 at SIZE px in a pixel file under `where` (rendered a chunk at a time)."""
    from bench.downstream.data import WorldSlice
    from bench.downstream.pixels import store

    w = WorldSlice({"seed": 0, "image_size": 64}, "train", n, SIZE)
    labels = []

    def chunks(start: int = 0):
        assert start == 0, "the measurement's file is new"
        for x, aus, ex in w.chunks():
            labels.append((aus, ex))
            yield x

    f, _ = store(w.key, n, SIZE, chunks, where)
    return f, labels


def _one(path: str, n: int, steps: int, mode: str) -> dict:
    """Train once in this process (a fresh one per measurement): from the file, or from memory."""
    import torch

    from bench.downstream import data as DD
    from bench.downstream import harness as DS
    from bench.downstream.pixels import PixelFile

    torch.set_num_threads(1)  # as the harness trains
    f = PixelFile(path, n, SIZE)
    labels = torch.load(Path(path).with_suffix(".labels.pt"))
    x = f
    if mode == "memory":  # (n, 3, S, S) uint8 all in memory, read a chunk at a time (no second copy)
        x = torch.empty(n, 3, SIZE, SIZE, dtype=torch.uint8)
        for lo in range(0, n, 4096):
            x[lo:lo + 4096] = f[lo:min(n, lo + 4096)]
    data = DD.LabelledImages(x, labels["aus"], labels["expression"], f"world-file:{n}")
    s = _settings(steps)
    t = time.perf_counter()
    DS.train(data, s, seed=0)
    secs = time.perf_counter() - t
    return {"n": n, "mode": mode, "steps": steps, "batch_size": s.batch_size, "train_s": secs,
            "images_per_s": steps * s.batch_size / secs, "peak_rss_mib": peak_mib()}


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM; not ru_maxrss, which Linux carries over from the parent that
    forked this process before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def measure(ns: list[int], steps: int) -> dict:
    import torch

    from bench.core.paths import cache_root

    base = cache_root() / "pixels"
    base.mkdir(parents=True, exist_ok=True)
    runs = []
    for n in ns:
        work = Path(tempfile.mkdtemp(prefix="streaming-", dir=base))
        try:
            t = time.perf_counter()
            f, labels = write_world_file(n, work)
            write_s = time.perf_counter() - t
            torch.save({"aus": torch.cat([a for a, _ in labels]), "expression": torch.cat([e for _, e in labels])},
                       Path(f.path).with_suffix(".labels.pt"))
            for mode in ("stream", "memory"):
                out = subprocess.run([sys.executable, "-m", "bench.devtools.streaming", "--one", f.path, str(n),
                                      str(steps), mode], capture_output=True, text=True)
                if out.returncode:
                    raise RuntimeError(f"the {mode} measurement at n={n} failed:\n{out.stderr[-2000:]}")
                runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "file_gib": n * 3 * SIZE ** 2 / 2 ** 30,
                             "write_s": write_s})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return {"size": SIZE, "steps": steps, "runs": runs}


def markdown(res: dict) -> str:
    lines = ["# Streaming downstream: peak memory and throughput (`python -m bench.devtools.streaming`)", "",
             f"World train faces at {res['size']} px rendered into a pixel file, then one recognizer trained for "
             f"{res['steps']} steps on the same batches in a fresh process each: from the file (what real-data "
             "protocols do, bench.downstream.pixels) and from memory (the whole file read into a tensor first: the "
             "baseline of the same run). Peak memory is the training process's VmHWM (peak resident set).", "",
             "| images | pixel file GiB | decode+write s | from file: peak MiB | from memory: peak MiB | "
             "from file img/s | from memory img/s | file / memory speed |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by = {(r["n"], r["mode"]): r for r in res["runs"]}
    for n in sorted({r["n"] for r in res["runs"]}):
        s, m = by[(n, "stream")], by[(n, "memory")]
        lines.append(f"| {n:,} | {s['file_gib']:.2f} | {s['write_s']:.0f} | {s['peak_rss_mib']:,.0f} | "
                     f"{m['peak_rss_mib']:,.0f} | {s['images_per_s']:,.0f} | {m['images_per_s']:,.0f} | "
                     f"{s['images_per_s'] / m['images_per_s']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--one"]:
        path, n, steps, mode = argv[1:5]
        print(json.dumps(_one(path, int(n), int(steps), mode)))
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.devtools.streaming", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[20000, 100000, 300000], help="world images per measurement")
    ap.add_argument("--steps", type=int, default=STEPS, help="optimizer steps per training")
    ap.add_argument("--json", default="reports/results/streaming.json", help="where the measurements go")
    ap.add_argument("--out", default="reports/streaming.md", help="the markdown rendered from them")
    a = ap.parse_args(argv)
    res = measure(a.n, a.steps)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.json, json.dumps(res, indent=1) + "\n")
    atomic_write_text(a.out, markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
