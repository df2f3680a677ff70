"""Protocols: versioned YAML files (leaderboards/protocols/<id>.yaml) that fix every setting of a score.

`load_protocol(id_or_path)` validates a protocol and returns it with its hash: the sha256 of the
canonical JSON of every setting (and of the judge weights' sha256 once known), so two results are
comparable only when their hashes match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.data.aus import SUBSETS
from bench.data.safeio import DataError

PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "leaderboards" / "protocols"
REQUIRED = ("id", "world", "conditions", "reference", "train_reference", "judge", "aus", "metrics", "bootstrap")
REQUIRED_REAL = ("id", "kind", "data", "downstream")  # `kind: real`: downstream on a local dataset (bench.realdata)
FAMILIES = ("realism", "diversity", "alignment", "control", "memorization", "downstream")


@dataclass(frozen=True)
class Protocol:
    id: str  # e.g. "world-v1"
    settings: dict  # the parsed YAML
    path: Path  # where it was read from

    def hash(self, judge_sha256: str = "") -> str:
        """sha256 of every setting (+ the judge weights' hash): equal hashes = comparable scores."""
        blob = json.dumps({"settings": self.settings, "judge_sha256": judge_sha256}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def metrics(self) -> dict[str, dict]:
        return self.settings["metrics"]

    def __getitem__(self, key: str):
        return self.settings[key]


def load_protocol(name: str) -> Protocol:
    """A protocol by id (looked up in leaderboards/protocols/) or by path to a YAML file."""
    path = Path(name)
    if not path.suffix:
        path = PROTOCOL_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml")))
        raise DataError(path, f"no such protocol (known: {known})")
    try:
        s = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(path, f"not valid YAML ({e})") from None
    real = isinstance(s, dict) and s.get("kind") == "real"
    if not isinstance(s, dict) or (missing := [k for k in (REQUIRED_REAL if real else REQUIRED) if k not in s]):
        raise DataError(path, f"missing settings: {missing if isinstance(s, dict) else 'all'}")
    if s.get("kind", "world") not in ("world", "real"):
        raise DataError(path, f"kind {s['kind']!r} is neither world nor real")
    if real:
        from bench.realdata import check_data_settings

        check_data_settings(s["data"], path)
        s.setdefault("metrics", {})
    elif s["aus"] not in SUBSETS:
        raise DataError(path, f"aus {s['aus']!r} is not a named AU subset ({', '.join(SUBSETS)})")
    for name_, m in s["metrics"].items():
        ok = isinstance(m, dict) and m.get("family") in FAMILIES and isinstance(m.get("higher_is_better"), bool)
        if not ok:
            raise DataError(path, f"metric {name_!r} needs a family ({', '.join(FAMILIES)}) and higher_is_better")
    if "downstream" in s:  # its metrics are named from its settings (one per scale and kind)
        from bench.downstream import check_settings, metric_names

        check_settings(s["downstream"], path)
        for name_, hib in metric_names(s["downstream"]).items():
            s["metrics"].setdefault(name_, {"family": "downstream", "higher_is_better": hib})
    if path.stem != s["id"] and path.parent == PROTOCOL_DIR:
        raise DataError(path, f"file name {path.stem!r} differs from id {s['id']!r}")
    return Protocol(id=s["id"], settings=s, path=path)
