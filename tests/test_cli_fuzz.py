"""Fuzz the command line: every subcommand with missing, misspelt, empty, non-ASCII, huge and unwritable arguments.
No user error may end in a traceback: `augen` must return (0 or 2, argparse's own usage errors included) and never
raise. A bug keeps its traceback; this test lists each one.

The cases are built from the parser itself (every subcommand, every argument), so a new command is fuzzed too."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from bench.cli import ALLOW_EMPTY, OUTPUT_ARGS, build_parser, main
from bench.core import errors as E

HUGE = "x" * 5000  # one path component far over the 255-byte limit
NON_ASCII = "ñandú-面孔-😀"
VALUES = {"empty": "", "missing": "nope/missing", "non-ascii": NON_ASCII, "huge": HUGE}


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(words, subparser) of every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sp in subs[0].choices.items():
        yield from commands(sp, (*prefix, name))


def _arguments(sp: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in sp._actions if not isinstance(a, (argparse._HelpAction, argparse._StoreTrueAction,
                                                         argparse._StoreFalseAction, argparse._VersionAction))]


def _set(argv: list[str], action: argparse.Action, value: str) -> list[str]:
    """argv with `action` given `value` (replacing the base's value for it)."""
    if not action.option_strings:
        return [value if i == argv.index(f"<{action.dest}>") else a for i, a in enumerate(argv)]
    flag = action.option_strings[-1]
    if flag in argv:
        i = argv.index(flag)
        return [*argv[:i + 1], value, *argv[i + 2:]]
    return [*argv, flag, value]


def cases() -> list[tuple[str, list[str], bool]]:
    """(case id, argv, may run: the value may be valid for the command (every argument of it optional, or "" where
    "" is the default), so the case would start real work and is listed but not run)."""
    out = []
    for words, sp in commands(build_parser()):
        args = _arguments(sp)
        base = [*words] + [f"<{a.dest}>" for a in args if not a.option_strings]
        for a in args:
            if a.option_strings and a.required:
                base += [a.option_strings[-1], "nope"]
        name = " ".join(words)
        optional = not any(a.required or not a.option_strings for a in args)
        fill = lambda argv: ["nope" if x.startswith("<") else x for x in argv]  # noqa: E731
        if not optional:
            out.append((f"{name}: nothing", [*words], False))
        out.append((f"{name}: misspelt option", [*fill(base), "--no-such-option", "1"], False))
        for a in args:
            label = a.option_strings[-1] if a.option_strings else a.dest
            output = a.dest in (*OUTPUT_ARGS, *(sp.get_default("outputs") or ()))
            for kind, value in VALUES.items():
                if output and kind in ("missing", "non-ascii"):
                    continue  # a new path is a valid output: the command would run
                valid = (optional and kind != "empty") or (kind == "empty" and a.dest in ALLOW_EMPTY)
                out.append((f"{name} {label}: {kind}", fill(_set(base, a, value)), valid))
            if output:
                out.append((f"{name} {label}: unwritable", fill(_set(base, a, "ro/out")), False))
    return out


CASES = cases()


def run_case(argv: list[str]) -> tuple[int | None, str]:
    """(exit status, stderr) of `augen ARGV` in-process; status None: it raised (the exception instead). No timer
    stops a case: an exception raised asynchronously inside torch's DataLoader can deadlock its shutdown, so a case
    that could be a valid run is not run at all (`cases`), and one that starts work on a bad argument shows as a
    slow test."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse's usage errors and --help
                code = e.code if isinstance(e.code, int) else 2
    except Exception as e:  # noqa: BLE001 - a traceback is what this test looks for
        return None, f"{type(e).__name__}: {e}"[:300]
    return code, err.getvalue()


def test_every_subcommand_is_fuzzed():
    words = {" ".join(w) for w, _ in commands(build_parser())}
    assert len(words) >= 30
    assert all(sum(c[0].startswith(f"{w}:") or c[0].startswith(f"{w} ") for c in CASES) >= 2 for w in words)
    assert len(CASES) > 500


@pytest.mark.slow
def test_no_user_error_ends_in_a_traceback(tmp_path, monkeypatch):
    """Every case returns 0 or 2; an error is one `augen: error:` line or argparse's usage message. The failures
    are listed together (case, argv head, what happened)."""
    (tmp_path / "ro").mkdir()
    (tmp_path / "leaderboards").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    monkeypatch.setattr(E, "_read_only_mount", lambda folder: Path(folder).name == "ro")
    bad = []
    for case, argv, may_run in CASES:
        if may_run:
            continue  # every argument of the command is optional: this value may make a valid (long) run
        code, err = run_case(argv)
        lines = [x for x in err.splitlines() if x.strip() and not x.startswith("augen: workspace ")]
        if code is None:
            bad.append(f"{case}: {err}")
        elif code not in (0, 2):
            bad.append(f"{case}: exit {code}: {err[-200:]}")
        elif code == 2 and lines and not (lines[-1].startswith("augen: error: ") or
                                          lines[-1].startswith("augen ") and ": error: " in lines[-1]):
            bad.append(f"{case}: exit 2 without an error line: {lines[-1][:200]}")
        elif code == 2 and sum(x.startswith("augen: error: ") for x in lines) > 1:
            bad.append(f"{case}: more than one error line")
    assert not bad, f"{len(bad)} of {len(CASES)} cases:\n" + "\n".join(bad)
