"""Turn pytest-benchmark JSON into a markdown table of throughput, in-run baseline ratios and targets.

Each benchmark records `items` per round, its `unit` and optionally a `baseline` benchmark and a target. A benchmark
that times its own work inside another process (face-api in Node) records that time as `inner_mean_s`, which replaces
the wall time of the round (process start-up and model loading are then not counted); the table marks it with *.

Usage: python -m bench.devtools.benchreport reports/bench.json reports/BENCH.md
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.publish.throughput import ratio_text, rows


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def markdown(data: dict) -> str:
    m = data.get("machine_info", {})
    lines = [
        "# Benchmarks (`tox -e bench`)", "",
        f"Machine: {m.get('cpu', {}).get('brand_raw', platform.processor())}, "
        f"{m.get('cpu', {}).get('count', '?')} cores, Python {m.get('python_version', '?')}; "
        f"run {data.get('datetime', '')[:19]}.", "",
        "| benchmark | group | mean s/round | throughput | speed vs baseline (same run) | target /s | met |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for r in rows(data):
        ratio = ratio_text(r)
        lines.append(f"| `{r['name']}` | {r['group']} | {r['mean_s']:.4f}{'*' if r['inner'] else ''} | "
                     f"{_num(r['per_s'])} {r['unit']}/s | {ratio} | {r['target'] or ''} | "
                     f"{'' if r['met'] is None else ('yes' if r['met'] else 'NO')} |")
    if any(r["inner"] for r in rows(data)):
        lines += ["", "\\* timed inside the benchmarked process (start-up and model loading excluded)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    src, dst = (argv or sys.argv[1:])[:2]
    data = json.loads(Path(src).read_text())
    text = markdown(data)
    atomic_write_text(dst, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
