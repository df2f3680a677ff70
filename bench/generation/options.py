"""`--option KEY=VALUE` pairs -> generator keyword options (values read as YAML scalars: 25 -> int, 3.0 -> float,
true -> bool). Which keys a generator accepts is checked where it is built (bench.generation.base)."""

from __future__ import annotations

import yaml

from bench.core.errors import UsageError


def parse_options(pairs: list[str] | None) -> dict:
    out = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or not k.isidentifier():
            raise UsageError(f"--option wants KEY=VALUE, got {p!r}")
        out[k] = yaml.safe_load(v)
    return out
