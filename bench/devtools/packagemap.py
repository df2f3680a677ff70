"""docs/architecture.md's package map, rendered from bench.core.packages.PACKAGES (the one copy of it).

    python -m bench.devtools.packagemap            # rewrite the `<!-- augen:packages -->` block
    python -m bench.devtools.packagemap --check    # write nothing; exit 1 if the block is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.core.packages import table
from bench.core.paths import workspace
from bench.devtools.markers import rewrite, write_or_check

COMMAND = "python -m bench.devtools.packagemap"
DOC = "docs/architecture.md"
BLOCK = "packages"


def rendered(text: str, path: str | Path = DOC) -> tuple[str, bool]:
    """`text` (architecture.md) with its package block rewritten, and whether it changed."""
    new, changed = rewrite(text, lambda name: table(), path, known=(BLOCK,))
    return new, bool(changed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the block is stale")
    ap.add_argument("--root", type=Path, default=None, help="the repository (default: the workspace)")
    a = ap.parse_args(argv)
    path = (a.root or workspace()) / DOC
    new, changed = rendered(path.read_text(encoding="utf-8"), path)
    return write_or_check(path, DOC, new, changed, a.check,
                          f"{DOC}'s package map differs from bench.core.packages; run `{COMMAND}`")


if __name__ == "__main__":
    sys.exit(main())
