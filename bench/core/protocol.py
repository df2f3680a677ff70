"""Typed protocols: one dataclass per section of a protocol file, parsed and checked here, and the one hash.

A protocol file (`bench/protocols/<id>.yaml`) fixes every setting of a score. `parse_protocol` turns its YAML
mapping into a `Protocol` and refuses, with one `DataError` naming the file, any missing or unknown key and any
value of the wrong type. Names that registries define (metrics, judge kinds, recognizers, dataset readers, AU
subsets) are checked by `bench.scoring.protocols.load_protocol`, which sees the registries complete.

`protocol_hash` is the only place a protocol hash is computed: sha256 of the canonical JSON of the file's
settings as parsed, each metric expanded to its family and direction, plus what the scores also depend on (the
judge's weights, an external AU tool, a real dataset's label files). Two results are comparable only when their
hashes match.

A protocol's `description` is prose, outside the hash: correcting it never turns filed results stale (as
lm-evaluation-harness keeps a task's metadata.version apart from its text). Protocols filed while the description
was still hashed keep that text verbatim as `hashed_description`, which the hash reads in its place, so their
hashes stay what they were (docs/architecture.md, "A protocol").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import DataError

DEFAULT_PROTOCOL = "world-v2"  # what augen scores, ranks and reports when no --protocol is given
KINDS = ("world", "real", "faces")  # world: scored on the embedded world; real: downstream on a local dataset;
#                                    faces: photographs scored against a real face set the user imports
FAMILIES = ("realism", "diversity", "alignment", "control", "memorization", "downstream")


def plain(obj) -> dict:
    """A settings dataclass as JSON-able values with unset (None) fields left out, recursively (for cache keys)."""
    def drop(v):
        if isinstance(v, dict):
            return {k: drop(x) for k, x in v.items() if x is not None}
        return [drop(x) for x in v] if isinstance(v, list | tuple) else v
    return drop(json.loads(json.dumps(dataclasses.asdict(obj))))


@dataclass(frozen=True)
class WorldSettings:
    seed: int  # world seed (identities, draws)
    image_size: int  # side of the world faces in pixels

    def as_dict(self) -> dict:
        """{seed, image_size}: how generators and the world's functions take it (and record it in configs)."""
        return {"seed": self.seed, "image_size": self.image_size}


@dataclass(frozen=True)
class SplitRef:
    split: str  # world split: train, val or test
    n: int  # samples start..start+n-1 of that split
    start: int | None = None  # first index (default 0): a redrawn condition suite reads another range
    seed_offset: int | None = None  # conditions: sample i is generated with seed i + seed_offset (default i)


@dataclass(frozen=True)
class JudgeRef:
    kind: str  # a bench.core.registry.JUDGES name (bench/judges/__init__.py lists them)
    config: dict = field(default_factory=dict)  # the judge's own settings (world: WorldJudgeConfig fields)


@dataclass(frozen=True)
class AuReadingsRef:
    kind: str  # a bench.core.registry.AU_READINGS name: an external AU tool's output format (libreface, openface)
    path: str  # where the tool's output lies, relative to the scored SampleSet's folder (a CSV file or a folder)


@dataclass(frozen=True)
class AuReaderRef:
    kind: str  # an AU_READINGS name that reads the set's own images (blendshapes: bench.judges.blendshapes)
    aus: str  # the AU subset scored when it reads the AUs (bench.data.aus.SUBSETS): only AUs it can read


@dataclass(frozen=True)
class RealismSettings:
    k_pr: int  # neighbours for precision/recall (Kynkaanniemi et al.: 3)
    k_dc: int  # neighbours for density/coverage (Naeem et al.: 5)
    kid_subsets: int  # KID subsets (clean-fid: 100)
    kid_subset_size: int  # rows per KID subset, at most (clean-fid: 1000)


@dataclass(frozen=True)
class MemorizationSettings:
    near_copy_quantile: float  # a sample is a near copy when closer to train than this quantile of held-out faces


@dataclass(frozen=True)
class BootstrapSettings:
    n: int  # resamples
    seed: int  # rng seed
    alpha: float  # 1 - coverage (0.05: 95% intervals)


@dataclass(frozen=True)
class Selection:
    """Which rows of a split a downstream run reads (world: split + n; real: n drawn with seed, or per_class)."""

    split: str | None = None  # world split name
    n: int | None = None  # how many rows
    start: int | None = None  # world: first index read (default 0), so a split can hold disjoint parts
    seed: int | None = None  # draw seed for real data
    per_class: int | None = None  # AffectNet test: the first k rows of each class


@dataclass(frozen=True)
class TaskSpec:
    """One verdict of a protocol (world-v3 on): what recognizers trained on a set's claimed labels are scored on."""

    kind: str  # expression | au_occurrence | au_intensity (bench.downstream.tasks.TASK_KINDS), one task per kind
    aus: str | None = None  # AU tasks: the named AU subset scored (bench.data.aus.SUBSETS); each entry is scored
    #                         on the AUs of it that it labels


@dataclass(frozen=True)
class DownstreamSettings:
    recognizer: str  # a RECOGNIZERS name (small-cnn, resnet18)
    width: int  # recognizer width
    input_size: int  # images area-resized to this side
    real_train: Selection  # the real training set; its size is "1x"
    test: Selection  # the real test set
    scales: tuple[float, ...]  # synthetic sizes as multiples of 1x
    mixed_scale: float  # real 1x + synthetic at this scale
    seeds: tuple[int, ...]  # one training per seed and size
    batch_size: int  # images per step
    lr: float  # AdamW peak learning rate (warm-up 5%, cosine to 0)
    weight_decay: float  # AdamW weight decay
    au_f1: str  # AU subset for mean occurrence F1
    au_icc: str  # AU subset for mean intensity ICC(3,1)
    steps: int | None = None  # optimizer steps per training, equal at every size (world-v1); or:
    epochs: float | None = None  # passes over the training set, so training length follows data size (world-v2)
    max_steps: int | None = None  # with epochs: at most this many steps (so at most max_steps * batch_size images)
    pretrained: str | None = None  # a backbone name (bench.downstream.backbones): fine-tune from its local ImageNet
    #                                weights; unset: train from scratch
    val: Selection | None = None  # real validation split: per-AU decision thresholds, chance-corrected kinds
    replicates: int | None = None  # world-v3 on: the set's rows split into this many consecutive blocks (each its
    #                                own condition draw and generation seeds); block r trains with seeds[r] at every
    #                                scale, so intervals over blocks resample what a regeneration changes
    real_curve: tuple[int, ...] | None = None  # real-only training sizes (first n of real_train's split): the
    #                                             curve a set's value is inverted through (real-image equivalent)
    tasks: tuple[TaskSpec, ...] | None = None  # the verdicts (world-v3 on): one ranking per task; labels a set does
    #                                            not claim are never scored

    def steps_for(self, n: int) -> int:
        """Optimizer steps of one training on `n` images: `steps`, or `epochs` passes capped at `max_steps`."""
        if self.steps is not None:
            return self.steps
        k = math.ceil(self.epochs * n / min(self.batch_size, n))
        return max(1, min(k, self.max_steps) if self.max_steps else k)

    def image_cap(self) -> int | None:
        """The most distinct images one training can see (epochs with max_steps), else None (no cap)."""
        return self.max_steps * self.batch_size if self.epochs is not None and self.max_steps else None

    def key(self) -> dict:
        """Every setting as plain JSON-able values, unset ones left out (for cache keys)."""
        return plain(self)

    def largest_synthetic(self, n1: int) -> int:
        """Synthetic images the largest run reads (the largest scale, or the mixed one) when 1x is `n1` images;
        with replicates, the images of every block."""
        return int(round(max(*self.scales, self.mixed_scale) * n1)) * (self.replicates or 1)

    def block_size(self, n1: int) -> int:
        """Rows of one replicate block (the largest run of one replicate)."""
        return int(round(max(*self.scales, self.mixed_scale) * n1))


@dataclass(frozen=True)
class RealBudget:
    """The real labelled data a generator may learn from (DESIGN: fair real-data budgets)."""

    split: str  # world split a generator may train on
    max_images: int  # distinct labelled images of it; a generator that declares more is marked over budget


@dataclass(frozen=True)
class Headline:
    """How the leaderboard ranks (bench.publish.leaderboard): by training value, gated by label validity."""

    rank_by: str  # the metric entries are ranked by (a downstream metric: what the data trains), or `tasks`: one
    #               ranking per downstream task (world-v3 on), each gated by the claimed-vs-judge kappa of its kind
    gate: tuple[str, ...]  # label-validity metrics: each one a set claims must have its lower 95% bound above
    gate_min: float  # ... this value (0: labels agree with the judge beyond chance)
    copy_max_share: float | None = None  # a set whose `real_copy_share` (near copies of any real data the
    #                                      protocol touches) exceeds this is listed, not ranked
    downstream: str | None = None  # faces protocols: the real-data protocol (kind: real, e.g. affectnet-v1) whose
    #                                training value ranks; its data root is given when scoring (--data-root)


@dataclass(frozen=True)
class DataFiles:
    labels: str  # label file (or folder) under the data root
    images: str  # image folder under the data root


@dataclass(frozen=True)
class FoldSplit:
    folds: int  # subjects sorted, subject i in fold i % folds
    test_fold: int  # the fold tested


@dataclass(frozen=True)
class DataSettings:
    reader: str  # a READERS name (affectnet, bp4d)
    train: DataFiles  # training split files
    test: DataFiles  # test split files
    crop_face: bool = True  # affectnet: crop to the CSV's face box
    split: FoldSplit | None = None  # bp4d: subject-exclusive folds
    frame_stride: int = 1  # bp4d: every k-th labelled frame
    image_template: str | None = None  # bp4d: image path template, if not the reader's default


@dataclass(frozen=True)
class Protocol:
    """A parsed protocol. World protocols fill world...bootstrap; real ones fill data and downstream."""

    id: str  # e.g. world-v1 (equals the file's stem)
    path: Path  # where it was read from
    raw: dict = field(repr=False)  # the file's settings as parsed (hashed)
    kind: str = "world"  # one of KINDS
    description: str = ""  # what it measures, in words; free prose, not hashed
    hashed_description: str | None = None  # protocols filed before descriptions left the hash: their description
    #                                        of then, verbatim, hashed in its place (never edit it)
    world: WorldSettings | None = None
    conditions: SplitRef | None = None  # what generators are asked for (labels of these world samples)
    reference: SplitRef | None = None  # real images realism is measured against
    train_reference: SplitRef | None = None  # images memorization is measured against
    judge: JudgeRef | None = None  # the judge that reads every image
    au_readings: AuReadingsRef | None = None  # AU readings from an external tool's output shipped with the set: they
    #                                           replace the judge's AU readings in alignment (as --au-readings does)
    au_reader: AuReaderRef | None = None  # faces: what reads the AUs when no AU tool's readings are given (neither
    #                                       --au-readings nor au_readings' file in the set), scored on its own subset
    au_gate: tuple[int, ...] | None = None  # AUs the gate's AU metric (au_kappa_gate) reads: the AU reader's
    #                                         validated AUs (faces-v1: bench.judges.blendshapes.mapping.VALIDATED_AUS)
    aus: str | None = None  # AU subset scored for alignment
    occurrence_threshold: float = 1.0  # intensity >= this is "present"
    realism: RealismSettings | None = None
    memorization: MemorizationSettings | None = None
    bootstrap: BootstrapSettings | None = None
    target_demographics: str = "uniform"  # what demographic KL is measured against
    downstream: DownstreamSettings | None = None
    real_budget: RealBudget | None = None  # what a generator may learn from (world-v2 on)
    headline: Headline | None = None  # how the board ranks (world-v2 on; older protocols: mean win rate)
    data: DataSettings | None = None  # real protocols: where the dataset's files lie under --data-root
    metrics: tuple[str, ...] = ()  # metric names listed by the file (downstream ones come from its section)
    metric_info: dict[str, dict] = field(default_factory=dict, repr=False)  # name -> {family, higher_is_better}
    versions: dict[str, str] = field(default_factory=dict)  # code versions the scores depend on (world-v3 on: the
    #                                                          downstream harness), filled by the loader and hashed


REQUIRED = {"world": ("world", "conditions", "reference", "train_reference", "judge", "aus", "realism",
                      "memorization", "bootstrap", "metrics"),
            "real": ("data", "downstream"),
            "faces": ("judge", "aus", "realism", "memorization", "bootstrap", "metrics")}


def _convert(tp: Any, value: Any, where: Path, name: str) -> Any:
    """`value` as type `tp` (dataclasses, Optional, tuples, scalars), or a DataError naming the setting."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, where, name)
    if dataclasses.is_dataclass(tp):
        return section(tp, value, where, name)
    if origin is tuple:
        if not isinstance(value, list):
            raise DataError(where, f"{name} must be a list, not {value!r}")
        return tuple(_convert(args[0], v, where, f"{name}[{i}]") for i, v in enumerate(value))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise DataError(where, f"{name} must be a mapping, not {value!r}")
        return dict(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise DataError(where, f"{name} must be {tp.__name__}, not {value!r}")
    return value


def section(cls: type, value: Any, where: Path, name: str):
    """A mapping -> dataclass `cls`: every required field present, no unknown key, each value of its type."""
    if not isinstance(value, dict):
        raise DataError(where, f"{name} must be a mapping of settings, not {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise DataError(where, f"{name}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    kw = {}
    for k, f in fields.items():
        if k in value:
            kw[k] = _convert(hints[k], value[k], where, f"{name}.{k}" if name else k)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DataError(where, f"{name}: missing setting {k!r}" if name else f"missing setting {k!r}")
    return cls(**kw)


def parse_protocol(raw: Any, path: Path) -> Protocol:
    """The YAML mapping of a protocol file -> Protocol (structure and types checked; names are checked by the
    loader in bench.scoring.protocols)."""
    if not isinstance(raw, dict):
        raise DataError(path, "a protocol file must be a mapping of settings")
    kind = raw.get("kind", "world")
    if kind not in KINDS:
        raise DataError(path, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    missing = [k for k in ("id", *REQUIRED[kind]) if k not in raw]
    if missing:
        raise DataError(path, f"missing settings: {', '.join(missing)}")
    if kind == "real" and any(k in raw for k in ("world", "judge", "metrics")):
        raise DataError(path, "a real-data protocol names no world, judge or metrics (its metrics come from "
                              "its downstream section)")
    if kind == "faces" and any(k in raw for k in ("world", "conditions", "reference", "train_reference", "data")):
        raise DataError(path, "a faces protocol names no world, conditions, reference or data: its reference is the "
                              "real face set given when scoring (--reference), hashed by content into the results")
    body = {k: v for k, v in raw.items() if k not in ("path", "raw", "metric_info")}
    metrics = body.pop("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise DataError(path, "metrics must be a list of metric names")
    if len(set(metrics)) != len(metrics):
        raise DataError(path, "metrics lists a name twice")
    hints = typing.get_type_hints(Protocol)
    fields = {f.name for f in dataclasses.fields(Protocol)} - {"path", "raw", "metrics", "metric_info", "versions"}
    unknown = sorted(set(body) - fields)
    if unknown:
        raise DataError(path, f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
    kw = {k: _convert(hints[k], v, path, k) for k, v in body.items()}
    return Protocol(path=path, raw=raw, metrics=tuple(metrics), **kw)


def protocol_hash(proto: Protocol, judge_sha256: str = "") -> str:
    """THE protocol hash: settings (metrics with family and direction) + `judge_sha256` (the judge's weights, with
    `|<tool id>` for external AU readings, or `data:<label files' sha256>` for a real dataset)."""
    if not proto.metric_info or set(proto.metrics) - proto.metric_info.keys():
        raise ValueError(f"{proto.id}: metrics not expanded; load protocols with bench.scoring.protocols")
    settings = {k: v for k, v in proto.raw.items() if k not in ("description", "hashed_description")}
    if "hashed_description" in proto.raw:  # filed before descriptions left the hash: the text of then, verbatim
        settings["description"] = proto.raw["hashed_description"]
    settings["metrics"] = proto.metric_info
    if proto.versions:  # world-v3 on: results of another harness version are another protocol hash
        settings["versions"] = proto.versions
    blob = json.dumps({"settings": settings, "judge_sha256": judge_sha256}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
