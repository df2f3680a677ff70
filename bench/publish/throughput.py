"""Throughput rows of a pytest-benchmark JSON: items per second of each benchmark and its speed against the baselines
measured in the same run. The one rule both reports/BENCH.md (bench.devtools.benchreport) and the README's
throughput block (bench.devtools.readme) use.

A benchmark records in `extra_info`: `items` per round and their `unit`; `baseline`, one benchmark name or a list
(speed is reported against each, the first is the headline); `target_images_per_s` or `target_ratio` (against the
first baseline), which fill the "met" column; `ceiling` = {"single": A, "full": B, "workers": k}, the most k
processes of A's thread share can reach against B (k x rate(A) / rate(B)), for parallel speed-ups bounded by how
well one process already uses the cores. A benchmark that times its own work inside another process (face-api in
Node) records that time as `inner_mean_s`, which replaces the wall time of its round (process start-up and model
loading are then not counted).
"""

from __future__ import annotations


def _seconds(b: dict) -> float:
    """A round's seconds: the time measured inside the process when the benchmark gives one, else the wall mean."""
    return float(b.get("extra_info", {}).get("inner_mean_s") or b["stats"]["mean"])


def _rate(b: dict | None) -> float | None:
    """Items per second of a benchmark (None without items or without the benchmark)."""
    items = (b or {}).get("extra_info", {}).get("items")
    return items / _seconds(b) if items else None


def baseline_names(info: dict) -> list[str]:
    """The baselines a benchmark names (one name or a list)."""
    b = info.get("baseline")
    return [] if not b else [b] if isinstance(b, str) else list(b)


def ceiling(info: dict, by_name: dict) -> float | None:
    """k x rate(single) / rate(full) of a benchmark's `ceiling` entry (None without one or a missing benchmark)."""
    c = info.get("ceiling")
    single, full = (by_name.get(c["single"]), by_name.get(c["full"])) if c else (None, None)
    r1, rf = _rate(single), _rate(full)
    return c["workers"] * r1 / rf if r1 and rf else None


def rows(data: dict) -> list[dict]:
    by_name = {b["name"]: b for b in data["benchmarks"]}
    out = []
    for b in data["benchmarks"]:
        info = b.get("extra_info", {})
        ips = _rate(b)
        ratios = [(n, ips / r if ips and (r := _rate(by_name.get(n))) else None) for n in baseline_names(info)]
        first = ratios[0][1] if ratios else None
        target, target_ratio = info.get("target_images_per_s"), info.get("target_ratio")
        met = (ips >= target) if ips and target else (first >= target_ratio) if first and target_ratio else None
        out.append({"name": b["name"], "group": b.get("group") or "", "mean_s": _seconds(b), "per_s": ips,
                    "unit": info.get("unit", "img"), "baseline": ratios[0][0] if ratios else None, "ratio": first,
                    "ratios": [(n, r) for n, r in ratios if r], "ceiling": ceiling(info, by_name),
                    "target": f"{target_ratio:g}x" if target_ratio else target, "met": met,
                    "inner": "inner_mean_s" in info})
    return out


def ratio_text(r: dict) -> str:
    """'1.72x `a`, 1.10x `b` (ceiling 1.76x)': the speeds against each baseline, as both tables print them."""
    text = ", ".join(f"{v:.2f}x `{n}`" for n, v in r["ratios"])
    return text + (f" (ceiling {r['ceiling']:.2f}x)" if r["ceiling"] else "")
