"""Run one command and record how long it took: the timings README.md quotes for `tox -e bench`.

    python -m bench.devtools.timed LABEL [--file PATH] -- CMD ARGS...

runs CMD (its stdin, stdout and stderr are this process's), exits with its exit status, and when it succeeds
records its wall time in seconds as `{LABEL: seconds}` in `reports/bench_timing.json` under the workspace
(`--file` names another file). The file is read, updated and written back atomically under a lock on its folder,
so other labels already recorded stay. A failed command records nothing: a partial run's time is not the time
of the command. `python -m bench.devtools.readme` turns the file into README's timing line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.paths import workspace

TIMING_FILE = Path("reports") / "bench_timing.json"  # under the workspace
USAGE = "usage: python -m bench.devtools.timed LABEL [--file PATH] -- CMD ARGS..."


def timing_path() -> Path:
    """Where timings are recorded by default: <workspace>/reports/bench_timing.json."""
    return workspace() / TIMING_FILE


def parse(argv: list[str]) -> tuple[str, Path | None, list[str]]:
    """(label, file or None, command) from `LABEL [--file PATH] -- CMD ARGS...`; UsageError if malformed."""
    if "--" not in argv:
        raise UsageError(f"no `--` before the command; {USAGE}")
    cut = argv.index("--")
    head, cmd = argv[:cut], argv[cut + 1:]
    path = None
    if len(head) == 3 and head[1] == "--file":
        path = Path(head[2])
        head = head[:1]
    if len(head) != 1 or not head[0].strip() or head[0].startswith("-"):
        raise UsageError(f"want exactly one LABEL before `--`, got {head!r}; {USAGE}")
    if not cmd:
        raise UsageError(f"no command after `--`; {USAGE}")
    return head[0], path, cmd


def read_timings(path: Path) -> dict[str, float]:
    """{label: seconds} recorded in `path` ({} if it does not exist); DataError if it is not such a mapping."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, int | float) and not
                                             isinstance(v, bool) for k, v in data.items()):
        raise DataError(path, "want a mapping {label: seconds}")
    return {k: float(v) for k, v in data.items()}


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` (flock on its descriptor): one read-modify-write at a time, no lock file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def record(path: Path, label: str, seconds: float) -> dict[str, float]:
    """Set `label` to `seconds` (rounded to 0.1 s) in the timing file, keeping the other labels; returns the
    mapping written (labels sorted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(path.parent):
        data = read_timings(path)
        data[label] = round(float(seconds), 1)
        data = dict(sorted(data.items()))
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return data


def run(cmd: list[str]) -> tuple[int, float]:
    """Run `cmd` with this process's stdio; (exit status, wall seconds). A command killed by signal k exits
    128 + k, as a shell reports it; one that cannot be started exits 127."""
    t0 = time.perf_counter()
    try:
        rc = subprocess.call(cmd)
    except FileNotFoundError:
        print(f"timed: command not found: {cmd[0]}", file=sys.stderr)
        return 127, time.perf_counter() - t0
    except KeyboardInterrupt:
        return 128 + signal.SIGINT, time.perf_counter() - t0
    return (128 - rc if rc < 0 else rc), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    try:
        label, path, cmd = parse(list(sys.argv[1:] if argv is None else argv))
    except UsageError as e:
        print(f"timed: {e}", file=sys.stderr)
        return 2
    rc, seconds = run(cmd)
    if rc != 0:
        print(f"timed: {label}: exit status {rc} after {seconds:.1f} s (not recorded)", file=sys.stderr)
        return rc
    path = path or timing_path()
    try:
        record(path, label, seconds)
    except DataError as e:
        print(f"timed: {e}", file=sys.stderr)
        return 2
    print(f"timed: {label}: {seconds:.1f} s (recorded in {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
