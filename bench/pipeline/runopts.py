"""The command-line arguments of `augen run` and of its --workers helper processes, and the shard spec; kept
apart from the runner so building the `augen` parser imports nothing heavy."""

from __future__ import annotations

import argparse
import os
import re

from bench.core.errors import UsageError
from bench.core.protocol import DEFAULT_PROTOCOL


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", text or "")
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise UsageError(f"--shard must be i/N with 0 <= i < N, not {text!r}")
    return int(m.group(1)), int(m.group(2))


def launcher_shard() -> tuple[int, int]:
    """(rank, world size) from a launcher's environment (accelerate launch / torchrun), else (0, 1)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("generator", help="registered generator name")
    ap.add_argument("--work", required=True, help="run folder (sets, results; reused to resume)")
    ap.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="generator setting")
    ap.add_argument("--n", type=int, default=None, help="first n conditions only")
    ap.add_argument("--shard", help="i/N: generate (and judge) only shards j with j %% N == i, then stop; a run "
                                    "without --shard then merges and scores (default: the launcher's rank)")
    ap.add_argument("--shard-size", type=int, default=250)
    ap.add_argument("--workers", type=int, default=1, help="generation processes on this machine (each takes "
                                                          "cores/N threads; ignored under --shard or a launcher)")
    ap.add_argument("--no-downstream", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--options-json", help=argparse.SUPPRESS)  # how --workers hands its options to the helpers
