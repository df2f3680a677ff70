"""What every protocol kind's scoring recipe shares (bench.scoring.score): the options a caller may give, the stage
timer, the base recipe holding the opened set and protocol, the metric families' loop and the AU-tool resolution.

A recipe (`WorldScore`, `FacesScore`, `RealScore`) is a short `__call__` listing its stages in order, in the manner of
a diffusers pipeline; each stage is a method, timed under its name (the results' `stage_seconds`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, fields
from pathlib import Path

from bench.core.errors import UsageError
from bench.core.protocol import FAMILIES, Protocol
from bench.core.registry import AU_READINGS, METRICS
from bench.core.results import metric
from bench.data.safeio import contained_path
from bench.data.sampleset import SampleSet, opened
from bench.scoring.context import NotApplicable, ScoreInputs


@dataclass(frozen=True)
class ScoreOptions:
    """What a caller adds to a protocol when scoring one set; a field its protocol kind does not read is refused."""

    cache: Path | None = None  # feature/downstream cache folder (default: the user cache)
    progress: bool = False  # progress bars and training logs
    au_readings: str | None = None  # world, faces: KIND:WHERE external AU readings replacing the judge's
    downstream: bool = False  # world: also train the protocol's recognizers on the set (minutes, cached)
    per_image: dict | None = None  # world: filled with files, claims and the judge's readings (per-sample table)
    reference: SampleSet | str | Path | None = None  # faces: the real face set scored against
    train: SampleSet | str | Path | None = None  # faces: the generator's declared training faces (memorization)
    feature_judges: dict[str, str] | None = None  # faces: {judge kind: local weights} adding FD in their features
    data_root: str | Path | None = None  # faces (headline), real: the real dataset's local folder
    downstream_results: str | Path | None = None  # faces: the headline read from that protocol's results file
    device: str = "cpu"  # faces (headline), real: where recognizers train


#: The options each protocol kind reads (beside cache and progress, which every kind reads).
KIND_OPTIONS = {"world": {"au_readings", "downstream", "per_image"},
                "faces": {"au_readings", "reference", "train", "feature_judges", "data_root", "downstream_results",
                          "device"},
                "real": {"data_root", "device"}}


def check_options(proto: Protocol, opts: ScoreOptions) -> None:
    """UsageError naming any option given that `proto`'s kind does not read."""
    allowed = KIND_OPTIONS[proto.kind] | {"cache", "progress"}
    given = [f.name for f in fields(opts) if getattr(opts, f.name) is not None and getattr(opts, f.name) != f.default
             and not (f.name == "feature_judges" and not getattr(opts, f.name))]
    wrong = [g for g in given if g not in allowed]
    if wrong:
        raise UsageError(f"{proto.id} is a {proto.kind} protocol: {', '.join(wrong)} "
                         f"{'does' if len(wrong) == 1 else 'do'} not apply to it")


class Stages:
    """Wall time per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


class Recipe:
    """The state one score passes between its stages: the protocol (parsed once), the opened set, the options,
    the stage timer, and what the stages fill in (metrics, skipped metrics' reasons, hash parts)."""

    def __init__(self, proto: Protocol, source: SampleSet | str | Path, opts: ScoreOptions):
        self.proto, self.opts = proto, opts
        self._source, self._ss = source, None
        self.st = Stages()
        self.metrics: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}

    @property
    def ss(self) -> SampleSet:
        """The scored set, opened on first use (a recipe may check cheaper things first) and then kept."""
        if self._ss is None:
            self._ss = opened(self._source)
        return self._ss

    def load_judge(self) -> None:
        """The protocol's judge (built once per process), which reads the AUs until an AU tool replaces it."""
        from bench import judges

        with self.st("load_judge"):
            self.judge = judges.build_judge(self.proto.judge.kind, self.proto.judge.config,
                                            progress=self.opts.progress)
        self.au_judge = {"id": self.judge.id, "sha256": self.judge.sha256}

    def use_au_tool(self, tool: tuple[str, Path | None, dict]) -> str:
        """An AU tool's readings of the set replace the judge's (`au_tool`'s answer); returns the tool's id. A reader
        of the set's own images (blendshapes) records what it is in `au_judge` (reader, proxy)."""
        ext, ext_id = read_au_tool(tool, self.ss, self.opts.cache)
        self.gen = {**self.gen, **ext}
        self.au_judge = au_judge_record(tool[0], ext_id)
        return ext_id

    def extra(self) -> dict:
        """`not_applicable`: the reasons of the metrics that were skipped (none: absent)."""
        return {"not_applicable": self.skipped} if self.skipped else {}


def au_judge_record(kind: str, tool_id: str) -> dict:
    """The results' `au_judge` for an AU tool's readings: {id, sha256 (the id's last part)}, and for a reader that
    declares itself a proxy (blendshapes) `reader`, `proxy: true` and what it is, which the boards print."""
    from bench.judges import au_reader_meta

    record = {"id": tool_id, "sha256": tool_id.rsplit("-", 1)[-1]}
    if proxy := au_reader_meta(kind).get("proxy"):
        record.update(reader=kind, proxy=True, what=proxy)
    return record


def compute_metrics(x: ScoreInputs, st: Stages) -> tuple[dict[str, dict], dict[str, str]]:
    """Every metric the protocol lists but downstream, family by family (a stage each): (results entries, reasons
    of the metrics that do not apply to this set)."""
    out: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    listed = set(x.proto.metrics)
    for family in FAMILIES:
        entries = [e for e in METRICS.entries() if e.name in listed and e.meta["family"] == family]
        if not entries:
            continue
        with st(family):
            for e in entries:
                try:
                    v = e.target(x)
                except NotApplicable as why:
                    skipped[e.name] = str(why)
                    continue
                out[e.name] = metric(v.value, v.n, e.meta["higher_is_better"], family, v.ci, **v.extra)
    return out, skipped


def au_tool(au_readings: str | None, proto: Protocol, root: str | Path,
            must_exist: bool = True) -> tuple[str, Path | None, dict] | None:
    """(AU_READINGS kind, where, the reader's keyword arguments) from `--au-readings KIND:WHERE` (a LibreFace CSV
    whose key column is not `file`: `libreface:FILE.csv:KEYCOLUMN`; a reader of the set's own images, `blendshapes`,
    takes no WHERE), else from the protocol's `au_readings` (resolved inside the set's folder; with `must_exist`
    false, None when the set holds no such file), else None."""
    from bench.judges import reads_images

    if au_readings:
        kind, _, where = au_readings.partition(":")
        if kind in AU_READINGS and reads_images(kind) and not where:
            return kind, None, {}
        if kind not in AU_READINGS or not where or reads_images(kind):
            raise UsageError(f"--au-readings must be KIND:WHERE with KIND one of {', '.join(AU_READINGS.names())} "
                             f"(libreface:FILE.csv[:KEYCOLUMN], openface:FOLDER; blendshapes reads the set's own "
                             f"images and takes no WHERE), not {au_readings!r}")
        head, sep, key = where.rpartition(":")
        if kind == "libreface" and sep and head and key and not key.lower().endswith(".csv") and "/" not in key:
            return kind, Path(head), {"key_column": key}
        return kind, Path(where), {}
    if proto.au_readings is None:
        return None
    path = contained_path(root, proto.au_readings.path, proto.path)
    return (proto.au_readings.kind, path, {}) if must_exist or path.exists() else None


def read_au_tool(tool: tuple[str, Path | None, dict], ss: SampleSet, cache: Path | None = None) -> tuple[dict, str]:
    """(the tool's readings of `ss`, row-aligned; its id) for an `au_tool` answer; a reader of the set's own images
    keeps its raw readings in the feature cache `cache` (default: the user cache)."""
    from bench.judges import reads_images

    extra = {"cache": cache} if reads_images(tool[0]) else {}
    return AU_READINGS.get(tool[0])(ss, tool[1], **tool[2], **extra)
