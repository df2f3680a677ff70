"""What the tests need of the machine beyond Python, checked, and fetched where this user may: `tox -e test`'s set-up.

    python -m bench.devtools.machine           # tox -e test (commands_pre): Node + npm, face-api's packages, chromium
    python -m bench.devtools.machine --node    # tox -e bench: Node + npm and face-api's packages only

The machine must have Python 3.11, Node 20 with npm, and Debian's chromium or the right to install it (README.md,
"Quick start", says so once). Each need is met, fetched or refused with one line naming what to install:

- Node and npm on PATH (not installed here: one line, exit 1).
- face-api's Node packages in `tools/faceapi-node/node_modules` (the reference of the parity tests) at the versions
  `package-lock.json` pins; when any differs or is missing, `npm ci --prefix tools/faceapi-node --ignore-scripts`
  (`bench.judges.faceapi.node.INSTALL_COMMAND`) installs them; nothing runs when they are current.
- chromium (the browser test of the HTML leaderboard, tests/test_browser.py): on PATH -> ok; absent and this user is
  root with apt-get -> `apt-get install chromium` (what .ci/run did before); absent otherwise, or the install fails ->
  one line and exit 1, so that the tests stop before a test skips and hides a missing install step.
  `AUGEN_NO_BROWSER=1` is the explicit opt-out: nothing is installed and the browser test skips saying so.

`chromium_plan` and `stale_packages` are pure (fakes test them, tests/test_machine.py); `main` acts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tools" / "faceapi-node"
#: The names a chromium goes by on PATH (Debian's package installs `chromium`).
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
#: The explicit opt-out of the browser test (nothing installed; tests/test_browser.py skips saying so).
NO_BROWSER = "AUGEN_NO_BROWSER"
APT_INSTALL = (("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", "chromium"))  # as .ci/run did
NPM_CI = ["npm", "ci", "--prefix", "tools/faceapi-node", "--ignore-scripts", "--no-audit", "--no-fund", "--silent"]
NODE_MIN = 18  # face-api 1.7.15 with tfjs 4.22 (README asks for 20, what CI runs)
HOW_NODE = "install Node.js 20 with npm (Debian: apt-get install nodejs npm; or https://nodejs.org)"


@dataclass(frozen=True)
class Plan:
    """What to do about chromium: `action` is ok (found at `path`), opt-out, install (run `commands`) or missing
    (`message`: the one line that stops the tests)."""
    action: str
    path: str | None = None
    commands: tuple[tuple[str, ...], ...] = ()
    message: str = ""


def find_browser(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The first chromium on PATH, or None."""
    return next((p for p in map(which, BROWSERS) if p), None)


def chromium_plan(which: Callable[[str], str | None], is_root: bool, env: dict[str, str]) -> Plan:
    """The decision about chromium from what is on PATH, whether this user is root, and the environment."""
    found = find_browser(which)
    if found:
        return Plan("ok", path=found)
    if env.get(NO_BROWSER) == "1":
        return Plan("opt-out", message=f"{NO_BROWSER}=1: no chromium wanted; the browser test of the HTML leaderboard "
                                       f"skips")
    if is_root and which("apt-get"):
        return Plan("install", commands=APT_INSTALL)
    return Plan("missing", message="chromium is not installed and this user cannot install it: install Debian's "
                                   "chromium (sudo apt-get install chromium), or set AUGEN_NO_BROWSER=1 to run without "
                                   "the browser test")


def stale_packages(node_dir: Path) -> list[str]:
    """The packages `package-lock.json` pins that `node_modules` lacks or holds at another version ([] = current).
    Platform-specific optional packages npm may leave out are not required."""
    lock = json.loads((node_dir / "package-lock.json").read_text())
    out = []
    for where, entry in lock.get("packages", {}).items():
        if not where or entry.get("optional") or entry.get("link"):
            continue
        meta = node_dir / where / "package.json"
        try:
            version = json.loads(meta.read_text()).get("version")
        except (OSError, ValueError):
            version = None
        if version != entry.get("version"):
            out.append(where.removeprefix("node_modules/"))
    return out


def node_version(node: str) -> int | None:
    """Node's major version, or None when it does not answer."""
    try:
        text = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        return int(text.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _run(cmd: list[str] | tuple[str, ...], cwd: Path | None = None) -> tuple[bool, str]:
    """Run a command quietly: (succeeded, the last line it wrote to stderr)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode == 0, last


def ensure_node(repo: Path = REPO) -> str | None:
    """Node + npm present and face-api's packages current (installed with npm ci when not): None, or the line that
    stops the tests."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return f"{'node' if node is None else 'npm'} is not on PATH: {HOW_NODE}"
    major = node_version(node)
    if major is None or major < NODE_MIN:
        return f"node {major or '?'} is too old for face-api's Node reference (needs {NODE_MIN}+): {HOW_NODE}"
    stale = stale_packages(repo / "tools" / "faceapi-node")
    if stale:
        print(f"machine: face-api's Node packages missing or not as pinned ({len(stale)}, e.g. {stale[0]}): "
              f"{' '.join(NPM_CI)}", flush=True)
        ok, last = _run([npm, *NPM_CI[1:]], cwd=repo)
        if not ok or stale_packages(repo / "tools" / "faceapi-node"):
            return (f"`{' '.join(NPM_CI[:5])}` failed ({last or 'packages still not as pinned'}): run it by hand in "
                    f"the repository root (it needs the npm registry or npm's cache)")
    print(f"machine: node {major} and face-api's pinned Node packages ok", flush=True)
    return None


def ensure_chromium() -> str | None:
    """chromium on PATH (installed with apt-get when root), or opted out: None, or the line that stops the tests."""
    plan = chromium_plan(shutil.which, hasattr(os, "geteuid") and os.geteuid() == 0, dict(os.environ))
    if plan.action == "install":
        print("machine: chromium is not installed; installing Debian's chromium: apt-get install chromium", flush=True)
        for cmd in plan.commands:
            ok, last = _run(cmd)
            if not ok:
                return (f"chromium is not installed and `{' '.join(cmd[:2])} ...` failed ({last}): install Debian's "
                        f"chromium, or set AUGEN_NO_BROWSER=1 to run without the browser test")
        plan = chromium_plan(shutil.which, False, {})
        if plan.action != "ok":
            return "apt-get installed chromium but no chromium is on PATH: install Debian's chromium by hand"
    if plan.action == "missing":
        return plan.message
    print(f"machine: {plan.message if plan.action == 'opt-out' else f'chromium ok ({plan.path})'}", flush=True)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.devtools.machine", description=__doc__.split("\n")[0])
    ap.add_argument("--node", action="store_true", help="Node, npm and face-api's packages only (no chromium)")
    a = ap.parse_args(argv)
    problems = [p for p in (ensure_node(), None if a.node else ensure_chromium()) if p]
    for p in problems:
        print(f"machine: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
