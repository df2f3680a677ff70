"""The `augen` command line: one module per group of commands, each adding its subcommands to one parser.

  world      augen world make|show|probe, augen judges train
  conditions augen conditions (a world protocol's condition suite, exported to answer it)
  generate   augen generate, train, run, merge
  imports    augen import (a generator's photographs + claimed labels -> an aligned SampleSet)
  score      augen score, table, validate, downstream
  publish    augen submit, leaderboard, report, reproduce
  study      augen study metaeval|stability|judgecheck|ablation|copyrate|blockcoverage|coverage|faces|facesdemo
  registry   augen list generators|judges|metrics|recognizers|readers|trainers|protocols|packages
  weights    augen weights fetch face-api|photos (the one command that downloads: pinned, hash-checked)

Only the project's own errors (bench.core.errors.AugenError: bad input, a wrong name or option, an output that
cannot be written) are printed as one line (exit 2); Ctrl-C prints one line saying what was kept and how to resume
(exit 130); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from bench.cli import conditions, generate, imports, publish, registry, score, study, weights, world
from bench.core.errors import AugenError, check_writable, interrupt_message

GROUPS = (world, conditions, generate, imports, score, publish, study, registry, weights)
OUTPUT_ARGS = ("out", "work", "html", "json")  # argparse destinations that name what a command writes: each is
#                                                 checked writable before the command starts (bench.core.errors)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="augen", description="AUGen-Bench: score generators of AU-labelled faces")
    sub = ap.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for dest in OUTPUT_ARGS:
            if isinstance(getattr(args, dest, None), str):
                check_writable(getattr(args, dest), f"--{dest} output")
        return args.func(args)
    except AugenError as e:
        print(f"augen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line saying what was kept (bench.core.errors.on_interrupt)
        print(f"augen: interrupted: {interrupt_message()}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
