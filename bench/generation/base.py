"""The Generator interface, its registry lookups and the writer of generated sets.

A generator turns Conditions (what the protocol asks for) into Samples (an image plus the labels the
generator *claims*). Generators register in `bench.core.registry.GENERATORS`: built-ins with
`@GENERATORS.register(name, needs=...)`, other packages through the `augen.generators` entry-point group (loaded
only when asked for). What an entry `needs` the harness supplies (`world`: the protocol's world settings);
every other option is the user's, checked against the factory's signature. A folder submission is replayed by
`SampleSetGenerator`. Adding a generator: one module, one entry point, one test (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from bench.core.errors import DataError
from bench.core.registry import GENERATORS, check_options
from bench.data.conditions import Condition
from bench.data.sampleset import Sample, SampleSet, SampleSetWriter
from bench.generation import (
    controls,  # noqa: F401  (registers the controls)
    faults,  # noqa: F401  (registers world-fault, the meta-evaluation's variants)
)


class Generator(Protocol):
    name: str
    version: str
    config: dict
    image_size: tuple[int, int]
    labelled_aus: tuple[int, ...]
    # optional: `stats: dict[str, int | float]`, counters kept while generating; recorded in the manifest
    # optional: `real_data: dict`, the real data it learned from: {"labelled_images": int, "split": str, ...};
    #   recorded in the manifest and results; the downstream family trains a real-only baseline on that budget

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        """One Sample per condition, in order."""
        ...


HARNESS_SUPPLIED = ("world",)  # needs the harness fills in itself; "device" and "weights" are the user's options


def check_generator_options(name: str, options: dict) -> None:
    """Refuse an option the generator does not accept (a misspelt `--option stesp=10`), listing the valid ones."""
    needs = GENERATORS.entry(name).needs
    check_options(GENERATORS, name, options, supplied=[k for k in HARNESS_SUPPLIED if k in needs])


def generator_options_text(name: str) -> str:
    """`--list-options`: each option the generator accepts with its type, default and meaning (its factory's
    signature and options dataclass; bench.generation.options.describe_options)."""
    from bench.generation.options import describe_options, format_options

    entry = GENERATORS.entry(name)
    hidden = tuple(k for k in HARNESS_SUPPLIED if k in entry.needs)
    return format_options(f"generator {name!r}", describe_options(entry.target, hidden))


def get_generator(name: str, options: dict | None = None, world: dict | None = None) -> Generator:
    """Build a registered generator with the user's `options` (each checked against what it accepts) and what it
    needs from the harness (`world`: the protocol's world settings)."""
    options = dict(options or {})
    check_generator_options(name, options)
    supplied = {"world": world} if "world" in GENERATORS.entry(name).needs else {}
    return GENERATORS.get(name)(**options, **supplied)


class SampleSetGenerator:
    """Replays a submitted SampleSet folder as a generator (sample i answers condition i)."""

    def __init__(self, root: str | Path):
        self.set = SampleSet(root)
        m = self.set.manifest
        self.name = str(m.generator.get("name", Path(root).name))
        self.version = str(m.generator.get("version", ""))
        self.config = dict(m.generator.get("config", {}))
        self.image_size, self.labelled_aus = m.image_size, m.labelled_aus
        if m.generator.get("real_data") is not None:
            self.real_data = dict(m.generator["real_data"])

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        it = iter(self.set)
        for _ in conditions:
            s = next(it, None)
            if s is None:
                raise DataError(self.set.root, f"holds {len(self.set)} samples, the protocol asks for "
                                 f"{len(conditions)}")
            yield s


def write_generated(gen: Generator, conditions: list[Condition], out: str | Path, protocol: str | None = None,
                    progress: bool = False, overwrite: bool = False) -> Path:
    """Run a generator over conditions and write its samples as a SampleSet (atomically)."""
    from tqdm import tqdm

    attrs = ("skin_tone", "gender", "age_group")
    before = dict(getattr(gen, "stats", None) or {})
    with SampleSetWriter(out, name=f"{gen.name}-{len(conditions)}",
                         generator={"name": gen.name, "version": gen.version, "config": gen.config,
                                    **({"real_data": gen.real_data} if getattr(gen, "real_data", None) else {})},
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
