"""The Generator interface and registry.

A generator turns Conditions (what the protocol asks for) into Samples (an image plus the labels the
generator *claims*). Generators register by name here, or from other packages through the
`augen.generators` entry-point group; a folder submission is replayed by `SampleSetGenerator`.
Adding a generator is one class with `name`, `version`, `config` and `generate`, plus one registry line.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from bench.data.sampleset import Sample, SampleSet, SampleSetWriter


@dataclass(frozen=True)
class Condition:
    """One request of a protocol's condition suite."""

    index: int  # position in the suite (also names the output file)
    seed: int  # seed the generator should use for this sample
    prompt: str  # text description (MAUGen-style caption of the AU vector)
    aus: np.ndarray  # (17,) float32 target AU intensities 0-5 (NaN = unconstrained)
    expression: int  # target AffectNet code 0-7 (-1 = unconstrained)
    identity: str = ""  # optional identity key to reproduce
    demographics: dict[str, int] = field(default_factory=dict)  # optional demographic targets


class Generator(Protocol):
    name: str
    version: str
    config: dict
    image_size: tuple[int, int]
    labelled_aus: tuple[int, ...]
    # optional: `stats: dict[str, int | float]`, counters kept while generating; recorded in the manifest

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        """One Sample per condition, in order."""
        ...


_REGISTRY: dict[str, Callable[..., Generator]] = {}


def register(name: str) -> Callable:
    """Class/factory decorator: `@register("real")`."""
    def deco(factory):
        _REGISTRY[name] = factory
        return factory
    return deco


def available() -> list[str]:
    import bench.controls  # noqa: F401

    _load_entry_points()
    return sorted(_REGISTRY)


def generator_class(name: str) -> Callable[..., Generator]:
    """The registered factory for `name` (built-ins, controls, then only the entry point of that name: loading
    every plugin would import diffusers and each reference for a control)."""
    import bench.controls  # noqa: F401  (registers the controls)

    if name not in _REGISTRY:
        _load_entry_points(name)
    if name not in _REGISTRY:
        raise KeyError(f"unknown generator {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name]


def get_generator(name: str, **kwargs) -> Generator:
    """Instantiate a registered generator by name (built-ins, controls, entry points)."""
    return generator_class(name)(**kwargs)


def _load_entry_points(only: str | None = None) -> None:
    for ep in importlib.metadata.entry_points(group="augen.generators"):
        if ep.name not in _REGISTRY and only in (None, ep.name):
            _REGISTRY[ep.name] = ep.load()


class SampleSetGenerator:
    """Replays a submitted SampleSet folder as a generator (sample i answers condition i)."""

    def __init__(self, root: str | Path):
        self.set = SampleSet(root)
        m = self.set.manifest
        self.name = str(m.generator.get("name", Path(root).name))
        self.version = str(m.generator.get("version", ""))
        self.config = dict(m.generator.get("config", {}))
        self.image_size, self.labelled_aus = m.image_size, m.labelled_aus

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        it = iter(self.set)
        for _ in conditions:
            s = next(it, None)
            if s is None:
                raise ValueError(f"{self.set.root}: holds {len(self.set)} samples, the protocol asks for "
                                 f"{len(conditions)}")
            yield s


def write_generated(gen: Generator, conditions: list[Condition], out: str | Path, protocol: str | None = None,
                    progress: bool = False, overwrite: bool = False) -> Path:
    """Run a generator over conditions and write its samples as a SampleSet (atomically)."""
    from tqdm import tqdm

    attrs = ("skin_tone", "gender", "age_group")
    before = dict(getattr(gen, "stats", None) or {})
    with SampleSetWriter(out, name=f"{gen.name}-{len(conditions)}",
                         generator={"name": gen.name, "version": gen.version, "config": gen.config},
                         image_size=gen.image_size, labelled_aus=gen.labelled_aus, protocol=protocol,
                         expression_labelled=getattr(gen, "expression_labelled", True),
                         attributes=attrs, overwrite=overwrite) as w:
        for c, s in tqdm(zip(conditions, gen.generate(conditions)), total=len(conditions), desc=gen.name,
                         unit="img", disable=not progress):
            s.file = f"{c.index:08d}.png"
            s.seed = c.seed if s.seed < 0 else s.seed
            s.attributes = {k: v for k, v in s.attributes.items() if k in attrs}
            w.add(s)
        if getattr(gen, "stats", None):  # counters kept while generating this set (e.g. SynFER's relabelled)
            w.manifest_fields["generator"]["stats"] = {k: v - before.get(k, 0) for k, v in gen.stats.items()}
    return Path(out)



def read_condition_file(path: str | Path, labelled_aus: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
                        ) -> list[Condition]:
    """Conditions from a JSON list (or JSON-lines) of `{"prompt": str, "intensity": [12 numbers 0-5]}` entries,
    the format of MAUGen's sample file (intensities of the DISFA12 AUs, in that order); optional "seed" (int).

    Every entry is checked; the first bad one raises DataError naming the file and entry (1-based).
    """
    import json
    import math

    from bench.data.aus import AU_INDEX, N_AUS
    from bench.data.safeio import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such condition file")
    if path.stat().st_size > 64 << 20:
        raise DataError(path, "condition file is over 64 MiB")
    text = path.read_text(encoding="utf-8")
    try:
        entries = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise DataError(path, f"not JSON or JSON lines: {e.msg}", e.lineno) from None
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or not isinstance(e.get("prompt"), str):
            raise DataError(path, "entry needs a string 'prompt'", i)
        v = e.get("intensity")
        if (not isinstance(v, list) or len(v) != len(labelled_aus)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            raise DataError(path, f"'intensity' must be a list of {len(labelled_aus)} numbers", i)
        if any(math.isnan(x) or not 0 <= x <= 5 for x in v):
            raise DataError(path, f"intensities must be in [0, 5], got {v}", i)
        seed = e.get("seed", i - 1)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise DataError(path, f"'seed' must be a non-negative integer, got {seed!r}", i)
        aus = np.full(N_AUS, np.nan, dtype=np.float32)
        aus[[AU_INDEX[a] for a in labelled_aus]] = v
        out.append(Condition(index=i - 1, seed=seed, prompt=e["prompt"], aus=aus, expression=-1))
    if not out:
        raise DataError(path, "no conditions")
    return out
