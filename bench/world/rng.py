"""Counter-based random numbers: each value is a pure function of (seed, stream name, counter).

No generator state is carried between calls, so sample `i` of a split is the same whether it is drawn
alone, in a batch, or in another process, and adding a new named stream never shifts the others.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64) + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _key(seed: int, name: str) -> np.uint64:
    base = np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
    return mix64(mix64(base) ^ np.uint64(zlib.crc32(name.encode("utf-8"))))[0]


class Draws:
    """Named streams of uniforms for a vector of counters (sample indices or identity ids)."""

    def __init__(self, seed: int, scope: str, counters: np.ndarray):
        self.seed, self.scope = int(seed), scope
        self.counters = np.asarray(counters, dtype=np.uint64)

    def bits(self, name: str) -> np.ndarray:
        """(n,) uint64 hash bits of stream `name`."""
        return mix64(self.counters ^ _key(self.seed, f"{self.scope}/{name}"))

    def uniform(self, name: str, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """(n,) float64 uniforms in [low, high)."""
        u = (self.bits(name) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        return low + (high - low) * u

    def integers(self, name: str, n: int) -> np.ndarray:
        """(n,) int64 uniform in [0, n)."""
        return np.minimum((self.uniform(name) * n).astype(np.int64), n - 1)

    def bernoulli(self, name: str, p: float | np.ndarray) -> np.ndarray:
        """(n,) bool, True with probability p."""
        return self.uniform(name) < p

    def normal(self, name: str) -> np.ndarray:
        """(n,) standard normals (Box-Muller on two streams)."""
        u1 = self.uniform(name + "#1")
        u2 = self.uniform(name + "#2")
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def seeds(self, name: str) -> np.ndarray:
        """(n,) int64 non-negative seeds (for torch generators)."""
        return (self.bits(name) >> np.uint64(1)).astype(np.int64)
