"""Loading protocols: a protocol file -> a typed `Protocol` (bench.core.protocol) whose every name is checked
against the registries, and the hash results scored now under it carry.

    load_protocol("world-v1")             # an id: bench/protocols/<id>.yaml, shipped with the package
    load_protocol("path/to/my-proto.yaml")

Refused with one `DataError` naming the file: missing/unknown settings or wrong types (bench.core.protocol), an
unknown metric (the error lists the known ones), a judge kind, recognizer, dataset reader or AU subset that is not
registered, a metric the protocol's judge cannot read, and a file name that differs from its id.

Loading checks names, never builds what they name: registries hold "module:attr" entries resolved on first use
and the downstream settings are checked by bench.downstream.spec, so loading a protocol imports neither the
downstream harness nor torch's recognizers (tests/test_protocol_hashes.py checks it in a fresh process).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from bench import judges
from bench.core.errors import DataError, UsageError
from bench.core.hashparts import hash_text
from bench.core.paths import PROTOCOLS
from bench.core.protocol import Protocol, parse_protocol, protocol_hash
from bench.core.registry import AU_READINGS, JUDGES, READERS, metric_spec
from bench.data.aus import AUS, SUBSETS
from bench.downstream import spec as downstream_spec
from bench.scoring import alignment, control, diversity, memorization, realism  # noqa: F401  (register metrics)


def known_protocols() -> list[str]:
    return sorted(p.stem for p in PROTOCOLS.glob("*.yaml"))


def protocol_path(name: str | os.PathLike) -> Path:
    """The file of a protocol id (shipped) or path."""
    path = Path(name)
    if not path.suffix:
        path = PROTOCOLS / f"{name}.yaml"
    if not path.is_file():
        raise DataError(path, f"no such protocol (known: {', '.join(known_protocols())})")
    return path


def load_protocol(name: str | os.PathLike | Protocol) -> Protocol:
    """A protocol by id or path, parsed, checked and with each metric's family and direction filled in."""
    if isinstance(name, Protocol):
        return name
    path = protocol_path(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(path, f"not valid YAML ({e})") from None
    proto = parse_protocol(raw, path)
    if path.parent == PROTOCOLS and path.stem != proto.id:
        raise DataError(path, f"file name {path.stem!r} differs from id {proto.id!r}")
    if proto.aus is not None and proto.aus not in SUBSETS:
        raise DataError(path, f"aus {proto.aus!r} is not a named AU subset ({', '.join(SUBSETS)})")
    if proto.judge is not None and proto.judge.kind not in JUDGES:
        raise DataError(path, f"judge kind {proto.judge.kind!r} is not registered ({', '.join(JUDGES.names())})")
    if proto.au_readings is not None and proto.au_readings.kind not in AU_READINGS:
        raise DataError(path, f"au_readings kind {proto.au_readings.kind!r} is not registered "
                              f"({', '.join(AU_READINGS.names())})")
    if proto.au_reader is not None:
        r = proto.au_reader
        if proto.kind != "faces" or not judges.reads_images(r.kind):
            raise DataError(path, f"au_reader {r.kind!r}: a faces protocol's au_reader is a registered AU reader of "
                                  f"the set's own images ({', '.join(judges.image_au_readers())})")
        if r.aus not in SUBSETS:
            raise DataError(path, f"au_reader.aus {r.aus!r} is not a named AU subset ({', '.join(SUBSETS)})")
    if proto.au_gate is not None and (not proto.au_gate or set(proto.au_gate) - set(AUS)):
        raise DataError(path, f"au_gate must list canonical AU numbers ({', '.join(map(str, AUS))})")
    if proto.data is not None:
        if proto.data.reader not in READERS:
            raise DataError(path, f"data.reader {proto.data.reader!r} is not registered ({', '.join(READERS.names())})")
        downstream_spec.check_data_settings(proto.data, path)
    names = list(proto.metrics)
    if proto.kind == "world" and not names:
        raise DataError(path, "metrics lists no metric")
    listed_downstream = [m for m in names if m.startswith("downstream_")]
    if listed_downstream:
        raise DataError(path, f"{', '.join(listed_downstream)}: downstream metrics are not listed; they come from the "
                              "downstream section (one per scale, mixed, slope)")
    if proto.downstream is not None:
        downstream_spec.check_settings(proto.downstream, path)
        downstream_spec.check_tasks(proto.downstream, path)
        s = proto.downstream
        if s.replicates is not None:  # blocks of the scored set: a world protocol's suite must hold them all
            need = s.replicates * s.block_size(s.real_train.n or 0)
            if proto.kind != "world" or proto.conditions is None or proto.conditions.n < need:
                raise DataError(path, f"downstream replicates need a world protocol whose conditions hold "
                                      f"{s.replicates} blocks of {s.block_size(s.real_train.n or 0)} ({need})")
        names += downstream_spec.metric_names(proto.downstream) + downstream_spec.task_metric_names(proto.downstream)
    info = {}
    readings = getattr(JUDGES.get(proto.judge.kind), "readings", None) if proto.judge else None
    if readings is not None and (proto.au_readings or proto.au_reader):  # an AU tool supplies the AU readings
        readings = (*readings, "au_intensity", "au_prob")
    for name_ in names:
        try:
            spec = metric_spec(name_)
        except UsageError as e:
            raise DataError(path, str(e)) from None
        if readings is not None and set(spec["reads"]) - set(readings):
            raise DataError(path, f"metric {name_!r} reads {', '.join(spec['reads'])}; judge {proto.judge.kind!r} "
                                  f"gives {', '.join(readings)}")
        info[name_] = {"family": spec["family"], "higher_is_better": spec["higher_is_better"]}
    if proto.headline is not None:
        h = proto.headline
        if (h.downstream is not None) != (proto.kind == "faces"):
            raise DataError(path, "headline.downstream (the real-data protocol whose training value ranks) belongs to "
                                  "faces protocols, and a faces protocol's headline needs one")
        if h.downstream is not None:  # the downstream metrics come from that protocol (bench.scoring.faces)
            real = load_protocol(h.downstream)
            if real.kind != "real":
                raise DataError(path, f"headline.downstream {h.downstream!r} is a {real.kind} protocol, not a "
                                      "real-data one (kind: real)")
            info = {**info, **{k: v for k, v in real.metric_info.items() if k == h.rank_by}}
        if h.rank_by == "tasks":  # world-v3 on: one ranking per task, each gated by its kind's kappa
            if proto.downstream is None or proto.downstream.tasks is None:
                raise DataError(path, "headline.rank_by: tasks needs downstream.tasks")
            missing = {downstream_spec.TASK_KINDS[t.kind].gate for t in proto.downstream.tasks} - set(h.gate)
            if missing:
                raise DataError(path, f"headline.gate must list the tasks' gates: {', '.join(sorted(missing))}")
            if h.copy_max_share is None or "real_copy_share" not in info or proto.real_budget is None:
                raise DataError(path, "headline.rank_by: tasks needs headline.copy_max_share, the metric "
                                      "real_copy_share listed and a real_budget")
        elif h.rank_by not in info or info[h.rank_by]["family"] != "downstream":
            raise DataError(path, f"headline.rank_by {h.rank_by!r} is not a downstream metric this protocol produces "
                                  "(the board ranks by what the data trains)")
        bad = [g for g in h.gate if g not in info]
        if bad or not h.gate:
            raise DataError(path, f"headline.gate must name listed metrics; not listed: {', '.join(bad) or '(none)'}")
    if proto.real_budget is not None and proto.real_budget.max_images < 0:
        raise DataError(path, "real_budget.max_images must be >= 0")
    versions = {"downstream_harness": downstream_spec.VERSION} if proto.downstream and proto.downstream.tasks else {}
    return dataclasses.replace(proto, metric_info=info, versions=versions)


def with_judge(proto: Protocol, kind: str, config: dict) -> Protocol:
    """The protocol read by another judge (settings and hash follow: the judge's config and weights enter the
    hash), for checks of judge independence; a metric the judge cannot read is refused as at load."""
    from bench.core.protocol import JudgeRef

    if kind not in JUDGES:
        raise UsageError(f"judge kind {kind!r} is not registered ({', '.join(JUDGES.names())})")
    raw = {**proto.raw, "judge": {"kind": kind, "config": dict(config)}}
    return dataclasses.replace(proto, judge=JudgeRef(kind, dict(config)), raw=raw)


def current_hash(proto: Protocol, data_root: str | os.PathLike | None = None) -> str:
    """The protocol hash results scored now carry: a world protocol's with its judge's weights (the judge is
    loaded, never trained here), a real one's with the sha256 of the label files under `data_root` (and of its
    pretrained backbone's file)."""
    if proto.kind == "real":
        if data_root is None:
            raise UsageError(f"{proto.id} is a real-data protocol: pass --data-root (its hash includes the label "
                             "files)")
        from bench.downstream import realdata  # the dataset's label files: only for a real protocol's hash

        return protocol_hash(proto, hash_text(realdata.hash_parts(proto, data_root)))
    judge = judges.build_judge(proto.judge.kind, proto.judge.config, train_if_missing=False)
    return protocol_hash(proto, judge.sha256)
