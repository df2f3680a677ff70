"""`score()`: one SampleSet x one protocol -> the results JSON (bench.core.results), for every protocol kind.

    score(SET, "world-v3", downstream=True)                       the world: judge, metric families, recognizers
    score(SET, "faces-v1", reference=REF, data_root=AFFECTNET)    photographs against a real face set
    score(SET, "affectnet-v1", data_root=AFFECTNET)               recognizers on a real dataset

The set is opened once (`bench.data.sampleset.SampleSet`, or pass an opened one) and handed to every stage; the
protocol is parsed once (pass a `Protocol` or an id); judges are built once per process (bench.judges.build_judge).
Each kind is a recipe of timed stages (`WorldScore` here, `FacesScore` in bench.scoring.faces, `RealScore` in
bench.scoring.realdata); every recipe files its results through one builder (bench.scoring.record).

World stages: validate -> load_judge -> judge_generated (streamed, cached by content hash) -> judge_reference (the
protocol's reference and train-reference splits, cached) -> every metric the protocol lists, family by family (each
declared once in its family module with `register_metric`) -> downstream, when asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.hashparts import au_tool_part, judge_part
from bench.core.protocol import DEFAULT_PROTOCOL, Protocol
from bench.data.sampleset import SampleSet
from bench.judges.cache import cached, judge_sharded
from bench.scoring.context import ScoreInputs
from bench.scoring.downstream import run_protocol_downstream
from bench.scoring.faces import FacesScore
from bench.scoring.protocols import load_protocol
from bench.scoring.realdata import RealScore
from bench.scoring.record import build_results
from bench.scoring.stages import Recipe, ScoreOptions, au_tool, check_options, compute_metrics
from bench.world.conditions import suite_conditions
from bench.world.make import WORLD_VERSION
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

MIN_WORLD_SET = 20  # fewer samples than this and no world statistic means anything


def score(source: SampleSet | str | Path, protocol: str | Protocol = DEFAULT_PROTOCOL, **options) -> dict:
    """Score one set under one protocol of any kind; `options` are `ScoreOptions` fields (one the protocol's kind
    does not read is a UsageError)."""
    proto = load_protocol(protocol)
    opts = ScoreOptions(**options)
    check_options(proto, opts)
    recipe = {"world": WorldScore, "faces": FacesScore, "real": RealScore}[proto.kind]
    return recipe(proto, source, opts)()


def judge_world_split(judge, world: dict, split: str, n: int, folder: Path | None = None, start: int = 0) -> dict:
    """Judge readings of world samples start..start+n-1 of a split (rendered on the fly, cached per judge)."""
    cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
    key = f"world{WORLD_VERSION}-s{cfg.seed}-{cfg.image_size}px-{split}-{start}-{n}"

    def compute() -> dict[str, np.ndarray]:
        parts: dict[str, list] = {}
        for lo in range(start, start + n, 512):
            p = sample_params(cfg, split, np.arange(lo, min(start + n, lo + 512)))
            for k, v in judge(render(p, cfg.image_size)).items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}

    return cached(key, judge.id, compute, folder)


def requested_conditions(proto: Protocol, ss: SampleSet) -> list | None:
    """The conditions behind each row, when the set answers this protocol's suite (row i = `{start + i:08d}.png`)."""
    c = proto.conditions
    files = ss.claims().files
    n, start = len(files), c.start or 0
    if ss.manifest.protocol != proto.id or n > c.n or list(files) != [f"{start + i:08d}.png" for i in range(n)]:
        return None
    return suite_conditions(proto, n)


class WorldScore(Recipe):
    """A SampleSet under a world protocol (module docstring)."""

    def __call__(self) -> dict:
        self.validate()
        self.load_judge()
        self.judge_generated()
        self.judge_reference()
        self.read_au_tool()
        self.compute_metrics()
        self.run_downstream()
        return self.results()

    def validate(self) -> None:
        with self.st("validate"):
            p, ss = self.proto, self.ss
            size = (p.world.image_size, p.world.image_size)
            if ss.image_size != size:
                raise DataError(ss.root, f"images are {ss.image_size}, protocol {p.id} scores {size}")
            if len(ss) < MIN_WORLD_SET:
                raise DataError(ss.root, f"{len(ss)} samples; at least {MIN_WORLD_SET} are needed to score")

    def load_judge(self) -> None:
        super().load_judge()
        self.parts = [judge_part(self.judge.sha256)]

    def judge_generated(self) -> None:
        with self.st("judge_generated"):
            self.ss.content_hash()  # timed here, as before: the first full read of an unverified set
            self.gen = judge_sharded(self.ss, self.judge, self.judge.id, folder=self.opts.cache)

    def judge_reference(self) -> None:
        p, cache, world = self.proto, self.opts.cache, self.proto.world.as_dict()
        with self.st("judge_reference"):
            self.ref = judge_world_split(self.judge, world, p.reference.split, p.reference.n, cache)
            self.trn = judge_world_split(self.judge, world, p.train_reference.split, p.train_reference.n, cache)
            self.facts = {}
            if "real_copy_share" in p.metrics:  # the real images of the conditions themselves: a copy pool
                c = p.conditions
                self.facts["conditions_real"] = judge_world_split(self.judge, world, c.split, c.n, cache,
                                                                  c.start or 0)

    def read_au_tool(self) -> None:
        tool = au_tool(self.opts.au_readings, self.proto, self.ss.root)
        if tool is not None:  # scores by another AU reader never rank with the judge's
            self.parts.append(au_tool_part(self.use_au_tool(tool)))

    def compute_metrics(self) -> None:
        c = self.ss.claims()
        x = ScoreInputs(self.proto, self.gen, self.ref, self.trn, c.intensity, c.expression,
                        requested_conditions(self.proto, self.ss), self.au_judge["id"], facts=self.facts)
        if self.opts.per_image is not None:
            self.opts.per_image.update(files=list(c.files), claimed_intensity=c.intensity,
                                       claimed_expression=c.expression, readings=self.gen)
        self.metrics, self.skipped = compute_metrics(x, self.st)

    def run_downstream(self) -> None:
        p, o = self.proto, self.opts
        if o.downstream and p.downstream is not None:
            with self.st("downstream"):
                self.metrics.update(run_protocol_downstream(p, self.ss, self.ss.content_hash(), o.cache, o.progress,
                                                            self.ss.manifest.generator))
        missing = [k for k, info in p.metric_info.items() if k not in self.metrics and k not in self.skipped
                   and (o.downstream or info["family"] != "downstream")]
        if missing:  # every listed name has registered code, so this is a bug, not bad input
            raise RuntimeError(f"{p.id}: listed metrics not produced: {', '.join(missing)}")

    def results(self) -> dict:
        j = self.judge
        judged = self.st.seconds.get("judge_generated", 0.0)
        n = len(self.ss)
        return build_results(
            self.proto, self.parts, self.ss, self.metrics, stage_seconds=self.st.seconds,
            au_judge=self.au_judge,
            judges={j.id: {"sha256": j.sha256, "ceiling": getattr(j, "ceiling", {}), "config": j.config}},
            seeds={"bootstrap": self.proto.bootstrap.seed, "world": self.proto.world.seed},
            throughput_images_per_s=round(n / judged, 1) if judged > 0 else None,
            **self.extra())
