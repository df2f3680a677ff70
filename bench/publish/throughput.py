"""Throughput rows of a pytest-benchmark JSON: items per second of each benchmark and its speed against the baseline
measured in the same run. The one rule both reports/BENCH.md (bench.devtools.benchreport) and the README's
throughput block (bench.publish.readme) use.

A benchmark that times its own work inside another process (face-api in Node) records that time as `inner_mean_s`,
which replaces the wall time of its round (process start-up and model loading are then not counted).
"""

from __future__ import annotations


def _seconds(b: dict) -> float:
    """A round's seconds: the time measured inside the process when the benchmark gives one, else the wall mean."""
    return float(b.get("extra_info", {}).get("inner_mean_s") or b["stats"]["mean"])


def rows(data: dict) -> list[dict]:
    by_name = {b["name"]: b for b in data["benchmarks"]}
    out = []
    for b in data["benchmarks"]:
        info = b.get("extra_info", {})
        mean = _seconds(b)
        ips = info["items"] / mean if info.get("items") else None
        base = by_name.get(info.get("baseline") or "")
        base_ips = base["extra_info"]["items"] / _seconds(base) if base else None
        target = info.get("target_images_per_s")
        out.append({"name": b["name"], "group": b.get("group") or "", "mean_s": mean, "per_s": ips,
                    "unit": info.get("unit", "img"),
                    "baseline": info.get("baseline"), "ratio": ips / base_ips if ips and base_ips else None,
                    "target": target, "met": (ips >= target) if ips and target else None,
                    "inner": "inner_mean_s" in info})
    return out
