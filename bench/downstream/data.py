"""What a recognizer trains and is tested on: `LabelledImages` (images at the recognizer's input size with their
labels; the pixels in memory or, for real-data protocols, in a decoded pixel file read a batch at a time,
bench.downstream.pixels) and where they come from: world faces (`WorldSlice`, rendered only when a training needs
them; `from_world`) and SampleSets with the labels they claim (`from_sampleset`)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.errors import DataError
from bench.core.protocol import DownstreamSettings
from bench.downstream.pixels import PixelConcat, PixelFile, concat, head, store


@dataclass
class LabelledImages:
    """Images and the labels a recognizer learns from (or is tested against), in memory."""

    x: torch.Tensor | PixelFile | PixelConcat  # (N, 3, S, S) uint8 at the recognizer's input size; x[idx] reads
    aus: torch.Tensor  # (N, 17) float32 intensities 0-5, NaN = not labelled
    expression: torch.Tensor  # (N,) int64 AffectNet code, -1 = not labelled
    key: str  # content key (what was read, how, how many) for the cache
    occ: torch.Tensor | None = None  # (N, 17) float32 0/1 where only occurrence is labelled (BP4D), else NaN

    def __len__(self) -> int:
        return len(self.x)

    def take(self, n: int) -> LabelledImages:
        if n > len(self):
            raise ValueError(f"asked for {n} images, have {len(self)}")
        return LabelledImages(head(self.x, n), self.aus[:n], self.expression[:n], f"{self.key}[:{n}]",
                              None if self.occ is None else self.occ[:n])

    def rows(self, lo: int, n: int) -> LabelledImages:
        """Rows lo..lo+n-1 (in-memory pixels: a view; replicate blocks of a world set)."""
        if lo + n > len(self) or not isinstance(self.x, torch.Tensor):
            raise ValueError(f"asked for rows {lo}..{lo + n - 1} of {len(self)} (in-memory sets only)")
        return LabelledImages(self.x[lo:lo + n], self.aus[lo:lo + n], self.expression[lo:lo + n],
                              f"{self.key}[{lo}:{lo + n}]", None if self.occ is None else self.occ[lo:lo + n])

    @staticmethod
    def concat(a: LabelledImages, b: LabelledImages) -> LabelledImages:
        occ = None
        if a.occ is not None or b.occ is not None:
            occ = torch.cat([torch.full_like(d.aus, float("nan")) if d.occ is None else d.occ for d in (a, b)])
        return LabelledImages(concat(a.x, b.x), torch.cat([a.aus, b.aus]), torch.cat([a.expression,
                              b.expression]), f"{a.key}+{b.key}", occ)

    def occurrence(self, threshold: float) -> torch.Tensor:
        """(N, 17) float32 occurrence labels: intensity >= threshold where intensities are labelled, else the
        occurrence labels; NaN where neither is."""
        occ = torch.where(torch.isnan(self.aus), float("nan"), (self.aus >= threshold).float())
        return occ if self.occ is None else torch.where(torch.isnan(occ), self.occ, occ)


def resize_uint8(images: np.ndarray, size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, size, size) uint8, area interpolation (exact box filter on integer ratios)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.contiguous()
    y = F.interpolate(x.float(), size=(size, size), mode="area")
    return y.round_().clamp_(0, 255).to(torch.uint8)


@dataclass(frozen=True)
class WorldSlice:
    """World faces not rendered yet: the key and size a training's cache entry needs now, the images only when a
    training must run (`load`). A real-only baseline of 64,000 faces costs ~25 s to render, and once its trainings
    are cached no later submission needs its pixels."""

    world: dict  # {"seed", "image_size"} of the world
    split: str  # world split
    n: int  # samples start..start+n-1
    size: int  # recognizer input side (area-resized)
    start: int = 0  # first sample

    @property
    def key(self) -> str:
        return f"world:{self.world['seed']}:{self.world['image_size']}:{self.split}:{self.start}:{self.n}:{self.size}"

    def __len__(self) -> int:
        return self.n

    def load(self) -> LabelledImages:
        """The rendered faces with their true labels (in chunks of RENDER_CHUNK samples; every sample is rendered
        from its own index, so the pixels do not depend on the chunking). One process: rendering in the process
        pool measured 3x slower than here (the pixels' round trip costs more than the rendering)."""
        parts = list(self.chunks())
        return LabelledImages(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]),
                              torch.cat([p[2] for p in parts]), self.key)

    def chunks(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(images (k, 3, size, size) uint8, intensities (k, 17), expressions (k,)) of RENDER_CHUNK samples at a
        time, in order: what `load` joins, and what a pixel file of world faces is written from."""
        for lo in range(self.start, self.start + self.n, RENDER_CHUNK):
            yield _render_chunk(self.world, self.split, lo, min(self.start + self.n, lo + RENDER_CHUNK), self.size)


RENDER_CHUNK = 4096  # world samples rendered per call


def _render_chunk(world: dict, split: str, lo: int, hi: int, size: int
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """World samples lo..hi-1 of a split: (N, 3, size, size) uint8 images, (N, 17) intensities, (N,) expressions."""
    from bench.world.params import WorldConfig, sample_params
    from bench.world.render import render

    cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
    p = sample_params(cfg, split, np.arange(lo, hi))
    return (resize_uint8(render(p, cfg.image_size), size), torch.from_numpy(p.aus.astype(np.float32)),
            torch.from_numpy(p.expression.astype(np.int64)))


def from_world(world: dict, split: str, n: int, size: int, start: int = 0) -> LabelledImages:
    """True-labelled world faces of a split, rendered now."""
    return WorldSlice(world, split, n, size, start).load()


def from_sampleset(source, n: int, size: int, content_hash: str | None = None,
                   stream: bool = False) -> LabelledImages:
    """The first n samples of a SampleSet (opened, or its folder) with the labels it claims (validated while read);
    `stream`: the pixels go to a pixel file (decoded once per set content, n and size) instead of memory."""
    from bench.data.safeio import read_image
    from bench.data.sampleset import opened

    ss = opened(source)
    if len(ss) < n:
        raise DataError(ss.root, f"holds {len(ss)} samples; the downstream protocol needs {n}")
    key = f"set:{content_hash or ss.content_hash()}:{n}:{size}"
    c = ss.claims()
    aus = torch.from_numpy(c.intensity[:n].astype(np.float32))  # (n, 17)
    ex = torch.from_numpy(c.expression[:n].astype(np.int64))  # (n,)

    def decode(i: int) -> np.ndarray:
        path, where, row = ss.image_path(i)
        return read_image(path, ss.image_size, where=where, row=row)

    def chunks(start: int = 0, k: int = 512):  # (k, 3, S, S) uint8 from row `start` on
        for lo in range(start, n, k):
            yield resize_uint8(np.stack([decode(i) for i in range(lo, min(n, lo + k))]), size)

    if not stream:
        return LabelledImages(torch.cat(list(chunks())), aus, ex, key)
    # ":nchw": pixel-file batches are NCHW-contiguous, in-memory resized ones channels-last (other conv kernels,
    # numbers that differ by rounding): trainings of the two are cached apart
    return LabelledImages(store(key, n, size, chunks)[0], aus, ex, key + ":nchw")


# -- what the harness hands on: replicate blocks, packed test decisions ----------------------------------------


def replicate_blocks(synthetic: LabelledImages, s: DownstreamSettings, n1: int) -> list[LabelledImages]:
    """The set's replicate blocks: its consecutive `s.replicates` blocks of `s.block_size(n1)` rows (world-v3 on:
    each block answers its own draw of conditions with its own generation seeds), or [the whole set]."""
    if s.replicates is None:
        return [synthetic]
    m = s.block_size(n1)
    if len(synthetic) < m * s.replicates:
        raise ValueError(f"{s.replicates} replicate blocks of {m} images need {m * s.replicates}, the set has "
                         f"{len(synthetic)}")
    return [synthetic.rows(r * m, m) for r in range(s.replicates)]


def pack_predictions(per: list[list]) -> str:
    """[scale][seed] npz of test decisions -> one base64 npz: expression (S, R, N) int8 (-1: no recognizer) and au
    (S, R, N, ceil(K/8)) uint8 packed bits, for paired tests over seeds and test items."""
    buf = io.BytesIO()
    np.savez_compressed(buf, expression=np.stack([np.stack([z["expression"] for z in row]) for row in per]),
                        au=np.stack([np.stack([z["au"] for z in row]) for row in per]))
    return base64.b64encode(buf.getvalue()).decode("ascii")


def unpack_predictions(blob: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(expression (S, R, N) int, au (S, R, N, k) bool) from `pack_predictions` output."""
    z = np.load(io.BytesIO(base64.b64decode(blob)))
    return z["expression"].astype(np.int64), np.unpackbits(z["au"], axis=-1, count=k).astype(bool)
