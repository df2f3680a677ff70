"""Fuzz the command line: every subcommand with missing, misspelt, empty, non-ASCII, huge and unwritable arguments.
No user error may end in a traceback: `augen` must return (0 or 2, argparse's own usage errors included), never
raise, and never start minutes of work on a bad argument. A bug keeps its traceback; this test lists each one.

The cases are built from the parser itself (every subcommand, every argument), so a new command is fuzzed too."""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
from pathlib import Path

import pytest

from bench.cli import ALLOW_EMPTY, OUTPUT_ARGS, build_parser, main
from bench.core import errors as E

HUGE = "x" * 5000  # one path component far over the 255-byte limit
NON_ASCII = "ñandú-面孔-😀"
VALUES = {"empty": "", "missing": "nope/missing", "non-ascii": NON_ASCII, "huge": HUGE}
SECONDS = 3  # a case running longer than this started work on a bad argument (a case that may be a valid run of a
#               command whose arguments are all optional, a new output folder say, is stopped after 1 s and passes)


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
    """(case id, argv, may run: every argument of the command is optional, so the case can be a valid run)."""
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


class _TooLong(BaseException):
    pass


def _alarm(signum, frame):
    raise _TooLong


def run_case(argv: list[str], seconds: int = SECONDS) -> tuple[int | None, str]:
    """(exit status, stderr) of `augen ARGV` in-process; status None: it raised (the traceback text instead)."""
    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse's usage errors and --help
                code = e.code if isinstance(e.code, int) else 2
    except _TooLong:
        return None, f"ran over {seconds} s (started work on a bad argument)"
    except Exception as e:  # noqa: BLE001 - a traceback is what this test looks for
        return None, f"{type(e).__name__}: {e}"[:300]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
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
    import bench.pipeline.runner  # noqa: F401 - imported before the clock runs (torch, diffusers: seconds)
    import bench.publish.report  # noqa: F401

    for case, argv, may_run in CASES:
        code, err = run_case(argv, seconds=1 if may_run else SECONDS)
        if code is None and may_run and err.startswith("ran over"):
            continue  # a valid run of a command whose arguments are all optional: nothing to refuse
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
