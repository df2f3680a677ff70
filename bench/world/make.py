"""World data as SampleSets: render samples with their true labels, write them (sharded, resumable), show them.

`make_world_set` is what `augen world make` runs; `contact_sheet` is what `augen world show` draws.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing as mp
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from bench.core.errors import AlreadyExists, DataError, UsageError
from bench.core.threads import cap_torch, children_capped, thread_share
from bench.data.aus import EXPRESSIONS, format_aus
from bench.data.sampleset import Manifest, Sample, SampleSetWriter, finalize_shards
from bench.world.params import AGE_GROUPS, GENDERS, WorldConfig, sample_params
from bench.world.prompts import prompt_from_aus
from bench.world.render import render

WORLD_VERSION = "2"  # bump when rendering or sampling changes pixels or labels
ATTRIBUTES = ("skin_tone", "gender", "age_group")


def world_batches(cfg: WorldConfig, split: str, start: int, stop: int, batch_size: int = 256
                  ) -> Iterator[list[Sample]]:
    """Samples [start, stop) of a split, rendered in batches, with their exact labels."""
    for lo in range(start, stop, batch_size):
        idx = np.arange(lo, min(stop, lo + batch_size))
        p = sample_params(cfg, split, idx)
        images = render(p, cfg.image_size)
        yield [
            Sample(image=images[j], intensity=p.aus[j], expression=int(p.expression[j]),
                   prompt=prompt_from_aus(p.aus[j]), identity=f"w{int(p.identity[j])}", seed=int(i),
                   attributes={"skin_tone": int(p.skin_tone[j]), "gender": int(p.gender[j]),
                               "age_group": int(p.age_group[j])},
                   file=f"{int(i):08d}.png")
            for j, i in enumerate(idx)
        ]


def generator_info(cfg: WorldConfig, split: str) -> dict:
    """Generator entry of a world set's manifest (plain YAML types, so it compares after a round trip)."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
    return {"name": "world", "version": WORLD_VERSION, "config": {**config, "split": split}}


def _write_range(out: Path, cfg: WorldConfig, split: str, start: int, stop: int, name: str,
                 bar: tqdm | None = None) -> None:
    with SampleSetWriter(out, name=name, generator=generator_info(cfg, split),
                         image_size=(cfg.image_size, cfg.image_size), attributes=ATTRIBUTES) as w:
        for batch in world_batches(cfg, split, start, stop):
            for s in batch:
                w.add(s)
            if bar is not None:
                bar.update(len(batch))


def _shard_done(d: Path, count: int, generator: dict) -> bool:
    """A shard counts as done only if complete and written by the same world settings."""
    try:
        m = Manifest.load(d / "manifest.yaml")
    except DataError:
        return False
    return m.count == count and m.generator == generator


def _shard_job(args) -> int:
    out, cfg, split, k, start, stop, name = args
    _write_range(out / f"shard-{k:05d}", cfg, split, start, stop, f"{name}/shard-{k:05d}")
    return stop - start


def make_world_set(out: str | os.PathLike, cfg: WorldConfig, split: str, n: int, *, shard_size: int = 0,
                   workers: int = 1, progress: bool = True, overwrite: bool = False) -> Manifest:
    """Write samples 0..n-1 of `split` as a SampleSet at `out`.

    With `shard_size` > 0 (or `workers` > 1) the set is written as shards of that size; shards already
    complete are kept, so an interrupted run resumes where it stopped and ends with identical files.
    """
    out = Path(out)
    name = f"world-{split}-{n}"
    if n <= 0:
        raise UsageError(f"--n must be positive, not {n}")
    if workers > 1 and shard_size <= 0:
        shard_size = math.ceil(n / workers)
    if shard_size <= 0:
        bar = tqdm(total=n, desc=f"world {split}", unit="img", disable=not progress)
        with bar:
            _write_range(out, cfg, split, 0, n, name, bar)
        return Manifest.load(out / "manifest.yaml")
    if (out / "manifest.yaml").exists():
        if not overwrite:
            raise AlreadyExists(f"{out} already holds a complete SampleSet (pass overwrite to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, cfg, split, k, lo, min(n, lo + shard_size), name)
            for k, lo in enumerate(range(0, n, shard_size))]
    info = generator_info(cfg, split)
    todo = [j for j in jobs if not _shard_done(out / f"shard-{j[3]:05d}", j[5] - j[4], info)]
    for j in todo:  # a shard left by other settings is rebuilt
        shutil.rmtree(out / f"shard-{j[3]:05d}", ignore_errors=True)
    bar = tqdm(total=n, initial=n - sum(j[5] - j[4] for j in todo), desc=f"world {split} shards", unit="img",
               disable=not progress)
    with bar:
        if workers > 1 and len(todo) > 1:
            k = min(workers, len(todo))
            with children_capped(thread_share(k)), mp.get_context("spawn").Pool(
                    k, initializer=cap_torch, initargs=(thread_share(k),)) as pool:  # no oversubscribed cores
                for done in pool.imap_unordered(_shard_job, todo):
                    bar.update(done)
        else:
            for j in todo:
                bar.update(_shard_job(j))
    return finalize_shards(out, name=name, generator=generator_info(cfg, split))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def contact_sheet(samples: list[Sample], cols: int = 6, tile: int = 128) -> Image.Image:
    """A grid of faces, each captioned with its expression, demographics and active AUs."""
    rows = math.ceil(len(samples) / cols)
    cap_h = 64
    font = _font(11)
    sheet = Image.new("RGB", (cols * tile, rows * (tile + cap_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, s in enumerate(samples):
        x, y = (k % cols) * tile, (k // cols) * (tile + cap_h)
        sheet.paste(Image.fromarray(s.image).resize((tile, tile), Image.BICUBIC), (x, y))
        a = s.attributes
        who = (f"{GENDERS[a['gender']][:3]} {AGE_GROUPS[a['age_group']]} tone{a['skin_tone'] + 1}"
               if a else s.identity)
        expr = EXPRESSIONS[s.expression] if s.expression >= 0 else "?"
        lines = [expr, who, *textwrap.wrap("AU " + format_aus(s.intensity), width=22)[:3]]
        for i, text in enumerate(lines):
            draw.text((x + 3, y + tile + 1 + 12 * i), text, fill=(0, 0, 0), font=font)
    return sheet
