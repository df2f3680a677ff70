"""The `augen` command line: one module per group of commands, each adding its subcommands to one parser.

  world      augen world make|show|probe, augen judges train
  conditions augen conditions (a world protocol's condition suite, exported to answer it)
  generate   augen generate, train, run, merge
  imports    augen import (a generator's photographs + claimed labels -> an aligned SampleSet)
  score      augen score, table, validate, downstream
  publish    augen submit, leaderboard, report, reproduce
  study      augen study metaeval|stability|judgecheck|ablation|copyrate|blockcoverage|coverage|faces|facesdemo|
             realfaults|video|aureader|prompts
  registry   augen list generators|judges|metrics|recognizers|readers|trainers|protocols|packages
  weights    augen weights fetch face-api|photos|blendshapes (the one command that downloads: pinned, hash-checked)

Only the project's own errors (bench.core.errors.AugenError: bad input, a wrong name or option, an output that
cannot be written) are printed as one line (exit 2); Ctrl-C prints one line saying what was kept and how to resume
(exit 130); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from bench.cli import conditions, generate, imports, publish, registry, score, study, weights, world
from bench.core.errors import AugenError, UsageError, check_writable, interrupt_message

GROUPS = (world, conditions, generate, imports, score, publish, study, registry, weights)
OUTPUT_ARGS = ("out", "work", "html", "json")  # argparse destinations that name what a command writes: each is
#   checked writable before the command starts (bench.core.errors); a command names its others in set_defaults(outputs=)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="augen", description="AUGen-Bench: score generators of AU-labelled faces")
    sub = ap.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return ap


ALLOW_EMPTY = ("stability", "only")  # arguments whose default is "" (none): an explicit "" means the same


def check_not_empty(args: argparse.Namespace) -> None:
    """An empty argument ("" from a shell variable that was not set) is refused by name, before any work: as a
    path it would mean the current folder."""
    for dest, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if dest not in ALLOW_EMPTY and any(isinstance(v, str) and not v.strip() for v in values):
            raise UsageError(f"argument {dest.replace('_', '-')} is empty")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_not_empty(args)
        for dest in (*OUTPUT_ARGS, *getattr(args, "outputs", ())):
            if isinstance(getattr(args, dest, None), str):
                check_writable(getattr(args, dest), f"--{dest} output")
        return args.func(args)
    except AugenError as e:
        print(f"augen: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno != errno.ENAMETOOLONG:
            raise  # any other OSError is a bug here (user-caused ones are checked and raised as AugenError)
        name = os.fsdecode(e.filename or "")
        print(f"augen: error: {name[:40]}...: a file name too long for this system ({len(os.fsencode(name))} "
              "bytes in the path; at most 255 per name)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line saying what was kept (bench.core.errors.on_interrupt)
        print(f"augen: interrupted: {interrupt_message()}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
