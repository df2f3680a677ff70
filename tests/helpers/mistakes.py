"""One row of docs/errors.md's tables run as a test: (the command as typed, how its folder was prepared, what it
printed before, the one line it prints now). Exit 2, exactly that line on stderr, and nothing written."""

from __future__ import annotations

from pathlib import Path

from bench.cli import main

UNSET = '"$UNSET"'  # in a command as typed: an empty argument (a shell variable that was never set)


def argv_of(command: str) -> list[str]:
    """The arguments of `augen ARGS  # comment` ("$UNSET" becomes an empty argument)."""
    words = command.split("#")[0].strip().split(" ")[1:]
    return ["" if w == UNSET else w for w in words]


def run_row(work: Path, capsys, command: str, setup, expected: str) -> None:
    """Prepare `work` (the current folder), run the command, check its one line and that nothing was written."""
    if setup is not None:
        setup(work)
    files = sorted(p.relative_to(work) for p in work.rglob("*"))
    assert main(argv_of(command)) == 2
    assert capsys.readouterr().err.strip() == expected
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == files  # refused before any work
