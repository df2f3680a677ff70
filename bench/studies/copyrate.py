"""Copy rate: does a set's claimed label copy the *request* even where its image misses the request?

    augen study copyrate --protocol world-v2 --out reports/world-v2/copy_rate.md \
        [--results-dir leaderboards/results] [--json reports/results/world-v2/copy-rate/copy_rate.json]

Row i of a filed per-sample table answers condition i of the protocol's suite (`suite_conditions`), so every cell
has three labels: the request, the set's claim and the judge's reading of the image. Per entry of the filed board and
per label kind (AU occurrence on the protocol's AU subset, expression), `bench.metrics.alignment.copy_rates` counts
where the judge says the image misses the request and how often the claim then repeats the request rather than the
judge; intervals are percentile bootstraps over samples with the protocol's bootstrap settings. The markdown report
and a JSON of the same numbers (for README blocks) are written by code from the results files.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError, UsageError
from bench.core.paths import results_root, workspace
from bench.core.protocol import Protocol
from bench.core.results import load_results, samples_path
from bench.data.aus import AU_COLUMNS, AU_INDEX, EXPRESSIONS, subset
from bench.metrics.alignment import copy_rates
from bench.metrics.stats import bootstrap_ci
from bench.publish.frame import samples_frame
from bench.scoring.alignment import judge_occurrence, occurrence_at
from bench.scoring.protocols import load_protocol
from bench.studies.judgecheck import portable
from bench.world.conditions import suite_conditions

#: Where the numbers are filed, under the workspace (a subfolder: reports/results/<pid>/*.json are results files);
#: README blocks read them here (bench.devtools.readme_references)
COPY_RATE = "reports/results/{pid}/copy-rate/copy_rate.json"
KINDS = ("au", "expression")
SHARES = ("miss_rate", "copy_on_miss", "judge_on_miss", "agree_on_hit", "copy_on_miss_on", "copy_on_miss_off")


# -- labels ------------------------------------------------------------------------------------------------------


def expression_codes(names, where: Path, column: str) -> np.ndarray:
    """Expression names (bench.data.aus.EXPRESSIONS) as codes; an empty cell is -1 (none)."""
    out = np.full(len(names), -1, np.int64)
    for i, v in enumerate(names):
        if isinstance(v, str) and v:
            if v not in EXPRESSIONS:
                raise DataError(where, f"{column}: unknown expression {v!r} (known: {', '.join(EXPRESSIONS)})", i + 1)
            out[i] = EXPRESSIONS.index(v)
    return out


def _floats(df, columns: list[str]) -> np.ndarray:
    """(N, len(columns)) floats; a column the table lacks (a judge without that reading) is NaN."""
    return np.stack([df[c].to_numpy(np.float64) if c in df else np.full(len(df), np.nan) for c in columns], 1)


def entry_labels(df, proto: Protocol, requests: list, table: Path) -> dict[str, tuple[np.ndarray, ...]]:
    """(request, claim, judge) of each kind for one per-sample table, row i = condition i of `requests`: "au" as
    (N, K) 0/1/NaN occurrences on the protocol's AU subset, "expression" as (N,) codes (-1 = none)."""
    missing = [c for c in ("file", "row", "claimed_expression", *(f"claimed_{c}" for c in AU_COLUMNS))
               if c not in df]
    if missing:
        raise DataError(table, f"not a per-sample table: no column {', '.join(missing)}")
    if len(requests) != len(df):
        raise DataError(table, f"{len(df)} rows for {len(requests)} requests")
    if not np.array_equal(df["row"].to_numpy(), np.arange(len(df))):
        raise DataError(table, "rows are not 0..N-1 in order")
    cols = [AU_INDEX[a] for a in subset(proto.aus)]
    names = [AU_COLUMNS[k] for k in cols]
    thr = proto.occurrence_threshold
    req_aus = np.stack([r.aus for r in requests]).astype(np.float64)[:, cols]
    au = (occurrence_at(req_aus, thr), occurrence_at(_floats(df, [f"claimed_{c}" for c in names]), thr),
          judge_occurrence(_floats(df, [f"judge_{c}" for c in names]), _floats(df, [f"judge_{c}_p" for c in names]),
                           thr))
    judge_expr = df["judge_expression"] if "judge_expression" in df else [None] * len(df)
    expression = (np.array([r.expression for r in requests], np.int64),
                  expression_codes(df["claimed_expression"], table, "claimed_expression"),
                  expression_codes(judge_expr, table, "judge_expression"))
    return {"au": au, "expression": expression}


def answers_suite(proto: Protocol, files: list[str]) -> bool:
    """Whether rows are the protocol's condition suite in order (as bench.scoring.score._requested decides)."""
    c = proto.conditions
    start = c.start or 0
    return 0 < len(files) <= c.n and files == [f"{start + i:08d}.png" for i in range(len(files))]


# -- numbers -----------------------------------------------------------------------------------------------------


def with_intervals(request: np.ndarray, claim: np.ndarray, judge: np.ndarray, boot: dict) -> dict:
    """`copy_rates` and a percentile-bootstrap interval (rows resampled; 1 - alpha coverage) of each defined share."""
    out = copy_rates(request, claim, judge)
    out["ci95"] = {k: list(bootstrap_ci(lambda *a, k=k: copy_rates(*a)[k], request, claim, judge, **boot))
                   for k in SHARES if isinstance(out[k], float) and math.isfinite(out[k])}
    return out


def _boot(proto: Protocol) -> dict:
    b = proto.bootstrap  # the construction of bench.scoring.context.ScoreInputs.boot
    return {"n_boot": b.n, "seed": b.seed, "alpha": b.alpha}


def results_files(folder: Path) -> list[Path]:
    """The results JSONs of one protocol's folder, sorted (no timing files, no dot files)."""
    return sorted(p for p in folder.glob("*.json")
                  if not p.name.endswith(".timing.json") and not p.name.startswith("."))


def analyse(proto: Protocol, results_dir: str | Path) -> dict:
    """Copy rates of every entry filed under `<results_dir>/<protocol>/`: {protocol, occurrence_threshold, aus,
    bootstrap, entries: {stem: {generator, protocol_hash, au, expression}}, skipped: {stem: why}}; a kind an entry
    claims nothing of is None."""
    if proto.kind != "world" or proto.conditions is None:
        raise UsageError(f"{proto.id} has no world condition suite: copy rates need the request behind each row")
    folder = Path(results_dir) / proto.id
    paths = results_files(folder)
    if not paths:
        raise DataError(folder, "no results files")
    requests = None
    entries, skipped = {}, {}
    for path, res in zip(paths, load_results(paths)):
        stem = path.stem
        if res.get("protocol", {}).get("id") != proto.id:
            skipped[stem] = f"scored under {res.get('protocol', {}).get('id')!r}, not {proto.id}"
            continue
        if not res.get("samples") or not (path.parent / res["samples"]["file"]).is_file():
            skipped[stem] = f"no per-sample table ({samples_path(path).name} missing)"
            continue
        df = samples_frame(path)
        table = path.parent / res["samples"]["file"]
        if not answers_suite(proto, [str(f) for f in df["file"]]):
            skipped[stem] = "rows do not answer the protocol's condition suite"
            continue
        if requests is None:
            requests = suite_conditions(proto, proto.conditions.n)
        labels = entry_labels(df, proto, requests[:len(df)], table)
        row = {"generator": str(res.get("generator", {}).get("name", stem)), "n": len(df),
               "protocol_hash": res.get("protocol", {}).get("hash")}
        for kind in KINDS:
            req, claim, judge = labels[kind]
            claims = (~np.isnan(claim)).any() if kind == "au" else (claim >= 0).any()
            row[kind] = with_intervals(req, claim, judge, _boot(proto)) if claims else None
        entries[stem] = row
    b = proto.bootstrap
    return {"protocol": proto.id, "occurrence_threshold": proto.occurrence_threshold, "aus": proto.aus,
            "bootstrap": {"n": b.n, "seed": b.seed, "alpha": b.alpha}, "entries": entries, "skipped": skipped}


# -- report ------------------------------------------------------------------------------------------------------


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def _ci(s: dict, key: str) -> str:
    lo, hi = s["ci95"].get(key, (None, None))
    return f"{_f(s[key])} [{_f(lo)}, {_f(hi)}]"


def _table(data: dict, kind: str) -> list[str]:
    head = ["entry", "cells", "miss rate", "copy on miss [95% CI]", "judge-agreement on miss", "agreement on hit"]
    if kind == "au":
        head += ["misses req. on / judge off: n, copy", "misses req. off / judge on: n, copy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for stem, e in data["entries"].items():
        s = e[kind]
        if s is None:
            lines.append(f"| {stem} | claims none |" + " |" * (len(head) - 2))
            continue
        cells = [stem, str(s["n_cells"]), _ci(s, "miss_rate"), _ci(s, "copy_on_miss"), _f(s["judge_on_miss"]),
                 _f(s["agree_on_hit"])]
        if kind == "au":
            cells += [f"{s[f'n_miss_{d}']}, {_f(s[f'copy_on_miss_{d}'])}" for d in ("on", "off")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _real_floor(data: dict) -> str:
    real = data["entries"].get("real")
    if real is None:
        return ""
    parts = [f"{_f(real[k]['miss_rate'])} for {w}" for k, w in (("au", "AUs"), ("expression", "expression"))
             if real[k] is not None]
    return f" (here {' and '.join(parts)})" if parts else ""


def render(data: dict, command: str) -> str:
    """The markdown report of `analyse`'s numbers."""
    thr = data["occurrence_threshold"]
    b = data["bootstrap"]
    lines = [
        f"# Copy rate on `{data['protocol']}`: do claimed labels copy the request where the image misses it?", "",
        f"Written by `{command}` from the filed per-sample tables; do not edit by hand.", "",
        "Each row of a filed set answers one request of the protocol's condition suite, so each label cell has "
        "three values: what was *requested*, what the set *claims*, and what the judge *reads* in the image. A *miss* "
        "is a cell where the judge reads something other than the request. *Copy on miss* is the share of misses "
        "where the claim repeats the request; *judge-agreement on miss* the share where it matches the judge's "
        "reading instead (for AUs the two sum to 1); *agreement on hit* is claim = request where the judge sees the "
        f"request. AUs: occurrence (intensity >= {thr:g}; the judge's probability >= 0.5 where it gives one) on the "
        f"protocol's AU subset ({data['aus']}); expression: the judge's most probable class. Only cells labelled in "
        f"all three count. Intervals: percentile bootstrap over samples ({b['n']} resamples, seed {b['seed']}).", "",
        "How to read it honestly:", "",
        "- On `real` the claims *are* the request (world truth), so every miss there is a judge error and its copy on "
        f"miss is 1 by construction: real's miss rate is the judge's own error floor{_real_floor(data)}.",
        "- A generator's miss rate above real's is misses in its images. A labeller that reads its images should "
        "agree with the judge on those cells (high judge-agreement on miss); a high copy on miss means the claimed "
        "labels repeat the request whatever the image shows (part of its misses are still judge errors, at about "
        "real's rate).",
        "- `shuffled` claims are unrelated to the image (labels permuted across rows): its copy on miss is chance "
        "agreement between an unrelated label and the request.", "",
        "## AUs", "", *_table(data, "au"), "",
        "## Expression", "", *_table(data, "expression"), "",
    ]
    hashes = {e["protocol_hash"] for e in data["entries"].values()}
    notes = [f"- `{k}` skipped: {why}." for k, why in data["skipped"].items()]
    if len(hashes) > 1:
        notes.append(f"- The entries carry {len(hashes)} different protocol hashes: their judges or settings differ.")
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines)


def _plain(v):
    """JSON-able: NaN as null, tuples as lists, recursively."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def default_json(protocol_id: str) -> Path:
    """Where the numbers are filed (`COPY_RATE`, which README blocks read)."""
    return workspace() / COPY_RATE.format(pid=protocol_id)


def run_study(a) -> int:
    """`augen study copyrate` (its arguments: bench.cli.study): the report and the JSON of its numbers."""
    proto = load_protocol(a.protocol)
    results_dir = Path(a.results_dir) if a.results_dir else results_root()
    json_path = Path(a.json) if a.json else default_json(proto.id)
    args = ["--protocol", a.protocol, "--out", a.out]
    args += (["--results-dir", a.results_dir] if a.results_dir else []) + (["--json", a.json] if a.json else [])
    command = "augen study copyrate " + " ".join(shlex.quote(portable(x)) for x in args)
    data = analyse(proto, results_dir)
    atomic_write_text(json_path, json.dumps(_plain({**data, "command": command}), indent=1, sort_keys=True) + "\n")
    atomic_write_text(a.out, render(data, command))
    for stem, why in data["skipped"].items():
        print(f"skipped {stem}: {why}", file=sys.stderr)
    print(f"wrote {a.out} and {json_path}")
    return 0
