"""`augen score`: a SampleSet x a protocol -> the results JSON (bench.core.results).

Stages (each timed): validate -> build the protocol's judge (bench.judges registry) -> judge the set (streamed,
cached by content hash) -> judge the protocol's reference and train-reference images (cached) -> every metric the
protocol lists, family by family (each metric is declared once in its family module with `register_metric`)
-> downstream, when asked for.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from bench import judges
from bench.core.errors import DataError, UsageError
from bench.core.protocol import DEFAULT_PROTOCOL, FAMILIES, Protocol, protocol_hash
from bench.core.registry import AU_READINGS, METRICS
from bench.core.results import environment, metric, new_results
from bench.data.safeio import contained_path
from bench.data.sampleset import SampleSet
from bench.judges.cache import cached, judge_sharded
from bench.scoring.context import NotApplicable, ScoreInputs
from bench.scoring.downstream import run_protocol_downstream
from bench.scoring.protocols import load_protocol
from bench.world.conditions import suite_conditions
from bench.world.make import WORLD_VERSION
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render


class Stages:
    """Wall time per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


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


def _claimed(ss: SampleSet) -> tuple[np.ndarray, np.ndarray, list[str]]:
    inten, expr, files = [], [], []
    for s in ss.rows():
        inten.append(s.intensity)
        expr.append(s.expression)
        files.append(s.file)
    return np.stack(inten), np.array(expr), files


def _requested(proto: Protocol, ss: SampleSet, files: list[str]) -> list | None:
    """The conditions behind each row, when the set answers this protocol's suite (row i = `{start + i:08d}.png`)."""
    c = proto.conditions
    n, start = len(files), c.start or 0
    if ss.manifest.protocol != proto.id or n > c.n or files != [f"{start + i:08d}.png" for i in range(n)]:
        return None
    return suite_conditions(proto, n)


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
            must_exist: bool = True) -> tuple[str, Path, dict] | None:
    """(AU_READINGS kind, where, the reader's keyword arguments) from `--au-readings KIND:WHERE` (a LibreFace CSV
    whose key column is not `file`: `libreface:FILE.csv:KEYCOLUMN`), else from the protocol's `au_readings`
    (resolved inside the set's folder; with `must_exist` false, None when the set holds no such file), else None."""
    if au_readings:
        kind, _, where = au_readings.partition(":")
        if kind not in AU_READINGS or not where:
            raise UsageError(f"--au-readings must be KIND:WHERE with KIND one of {', '.join(AU_READINGS.names())} "
                             f"(libreface:FILE.csv[:KEYCOLUMN], openface:FOLDER), not {au_readings!r}")
        head, sep, key = where.rpartition(":")
        if kind == "libreface" and sep and head and key and not key.lower().endswith(".csv") and "/" not in key:
            return kind, Path(head), {"key_column": key}
        return kind, Path(where), {}
    if proto.au_readings is None:
        return None
    path = contained_path(root, proto.au_readings.path, proto.path)
    return (proto.au_readings.kind, path, {}) if must_exist or path.exists() else None


def score_sampleset(root: str | Path, protocol: str | Protocol = DEFAULT_PROTOCOL, *, cache: Path | None = None,
                    progress: bool = False, au_readings: str | None = None, downstream: bool = False,
                    per_image: dict | None = None) -> dict:
    """Score a SampleSet under a world protocol; returns the results dict (see bench.core.results).

    `au_readings` ('libreface:FILE.csv' or 'openface:FOLDER', a `bench.core.registry.AU_READINGS` kind) replaces
    the judge's AU readings in the alignment family by an external tool's (NaN where the tool reads nothing); without
    it, the protocol's `au_readings` (a path inside the set's folder) does, when the protocol names one.
    `downstream` also trains the protocol's recognizers on the set (bench.downstream; minutes, cached per training).
    A `per_image` dict is filled with what the metrics read per image: files, claimed_intensity,
    claimed_expression, readings (the judge's, after `au_readings`); bench.scoring.samples turns it into the
    per-sample table.
    """
    st = Stages()
    proto = load_protocol(protocol)
    if proto.kind != "world":
        raise DataError(proto.path, f"is a {proto.kind}-data protocol; score sets under it with `augen downstream`")
    world = proto.world.as_dict()
    with st("validate"):
        ss = SampleSet(root)
        size = (proto.world.image_size, proto.world.image_size)
        if ss.image_size != size:
            raise DataError(root, f"images are {ss.image_size}, protocol {proto.id} scores {size}")
        if len(ss) < 20:
            raise DataError(root, f"{len(ss)} samples; at least 20 are needed to score")
    with st("load_judge"):
        judge = judges.build_judge(proto.judge.kind, proto.judge.config, progress=progress)
    with st("judge_generated"):
        content_hash = ss.content_hash()
        gen = judge_sharded(root, judge, judge.id, folder=cache, content_hash=content_hash)
    with st("judge_reference"):
        ref = judge_world_split(judge, world, proto.reference.split, proto.reference.n, cache)
        trn = judge_world_split(judge, world, proto.train_reference.split, proto.train_reference.n, cache)
        facts = {}
        if "real_copy_share" in proto.metrics:  # the real images of the conditions themselves: a copy pool
            c = proto.conditions
            facts["conditions_real"] = judge_world_split(judge, world, c.split, c.n, cache, c.start or 0)
    au_judge = {"id": judge.id, "sha256": judge.sha256}
    tool = au_tool(au_readings, proto, root)
    if tool is not None:
        ext, ext_id = AU_READINGS.get(tool[0])(ss, tool[1], **tool[2])
        gen = {**gen, **ext}
        au_judge = {"id": ext_id, "sha256": ext_id.rsplit("-", 1)[-1]}
    claimed_int, claimed_expr, files = _claimed(ss)
    x = ScoreInputs(proto, gen, ref, trn, claimed_int, claimed_expr, _requested(proto, ss, files), au_judge["id"],
                    facts=facts)
    if per_image is not None:
        per_image.update(files=files, claimed_intensity=claimed_int, claimed_expression=claimed_expr,
                         readings=gen)
    out, skipped = compute_metrics(x, st)
    if downstream and proto.downstream is not None:
        with st("downstream"):
            out.update(run_protocol_downstream(proto, root, content_hash, cache, progress, ss.manifest.generator))
    missing = [k for k, info in proto.metric_info.items()
               if k not in out and k not in skipped and (downstream or info["family"] != "downstream")]
    if missing:  # every listed name has registered code, so this is a bug, not bad input
        raise RuntimeError(f"{proto.id}: listed metrics not produced: {', '.join(missing)}")
    extra = {"not_applicable": skipped} if skipped else {}  # e.g. the control family of a set outside the suite
    m = ss.manifest
    judged = st.seconds.get("judge_generated", 0.0)
    n = len(ss)
    return new_results(  # an external AU judge makes the scores a different (unrankable-together) set
        protocol={"id": proto.id, "hash": protocol_hash(proto, judge.sha256 + ("|" + au_judge["id"] if tool
                                                                               else ""))},
        generator={k: m.generator[k] for k in ("name", "version", "config", "stats", "real_data")
                   if k in m.generator},
        sampleset={"folder": Path(root).resolve().name, "content_hash": content_hash, "n": n,  # no machine paths
                   "labels_sha256": m.labels_sha256},
        metrics=out,
        au_judge=au_judge,
        judges={judge.id: {"sha256": judge.sha256, "ceiling": getattr(judge, "ceiling", {}), "config": judge.config}},
        seeds={"bootstrap": proto.bootstrap.seed, "world": proto.world.seed},
        stage_seconds={k: round(v, 3) for k, v in st.seconds.items()},
        throughput_images_per_s=round(n / judged, 1) if judged > 0 else None,
        **extra,
        **environment(),
    )
