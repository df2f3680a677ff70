"""Compare two trees of results JSON value for value: every metric's value, interval, n and extra fields, and
every other field that a score depends on. What legitimately varies between runs (creation time, timings, git
hash, package versions, device, thread count) is ignored; floats may differ by `--rtol` (float sums in another
order differ in their last bits).

    python -m bench.devtools.resultsdiff OLD_DIR NEW_DIR [--rtol 1e-9]

Prints one line per difference and a summary; exits 1 if any file differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

VOLATILE = {"created", "stage_seconds", "throughput_images_per_s", "git", "packages", "device", "python",
            "torch_threads"}


def diff(a, b, rtol: float, path: str = "") -> list[str]:
    """Differences between two parsed JSON values (floats compared with relative tolerance `rtol`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if not path and k in VOLATILE:
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'new' if k in b else 'old'}")
            else:
                out += diff(a[k], b[k], rtol, f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, rtol, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)
        return [] if same else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def compare_trees(old: Path, new: Path, rtol: float = 1e-9) -> tuple[list[str], int]:
    """(differences, files compared) over every *.json (not *.timing.json) under either folder."""
    names = {p.relative_to(old) for p in old.rglob("*.json")} | {p.relative_to(new) for p in new.rglob("*.json")}
    out, n = [], 0
    for rel in sorted(n for n in names if not n.name.endswith(".timing.json")):
        a, b = old / rel, new / rel
        if not (a.is_file() and b.is_file()):
            out.append(f"{rel}: only in {'new' if b.is_file() else 'old'}")
            continue
        n += 1
        out += [f"{rel}{d}" for d in diff(json.loads(a.read_text()), json.loads(b.read_text()), rtol)]
    return out, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-9)
    a = ap.parse_args(argv)
    found, n = compare_trees(a.old, a.new, a.rtol)
    print("\n".join(found))
    print(f"{n} results files compared, {len(found)} differences (rtol {a.rtol:g})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
