"""docs/au-reader.md's per-AU validity table, rendered from the filed `augen study aureader` results
(reports/results/au-reader/results.json) by bench.studies.aureader.validity_table.

    python -m bench.devtools.auvalidity            # rewrite the `<!-- augen:au-validity -->` block
    python -m bench.devtools.auvalidity --check    # write nothing; exit 1 if the block is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.core.paths import workspace
from bench.devtools.markers import rewrite, write_or_check
from bench.studies.aureader import validity_table

COMMAND = "python -m bench.devtools.auvalidity"
DOC = "docs/au-reader.md"
RESULTS = "reports/results/au-reader/results.json"
BLOCK = "au-validity"


def rendered(text: str, results: dict, path: str | Path = DOC) -> tuple[str, bool]:
    """`text` (au-reader.md) with its validity block rewritten from `results`, and whether it changed."""
    new, changed = rewrite(text, lambda name: validity_table(results), path, known=(BLOCK,))
    return new, bool(changed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the block is stale")
    ap.add_argument("--root", type=Path, default=None, help="the repository (default: the workspace)")
    a = ap.parse_args(argv)
    root = a.root or workspace()
    path = root / DOC
    new, changed = rendered(path.read_text(encoding="utf-8"), json.loads((root / RESULTS).read_text()), path)
    return write_or_check(path, DOC, new, changed, a.check,
                          f"{DOC}'s validity table differs from {RESULTS}; run `{COMMAND}`")


if __name__ == "__main__":
    sys.exit(main())
