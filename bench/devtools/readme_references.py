"""README.md blocks about the reference generators: the tiny MAUGen (`maugen`), SynFER's ablation
(`synfer-ablation`) and the fidelity pairs, each reference's earlier reading beside the published one, with their
copy rates (`fidelity`). Registered in `BLOCKS` on import (bench.devtools.readme imports this module); each block is
a pure function of what its loader reads (readme_sources.Sources)."""

from __future__ import annotations

from bench.core.errors import DataError
from bench.devtools.readme_sources import (
    REFERENCE_WEIGHTS,
    REPORT_RESULTS,
    VAE_CEILING,
    Sources,
    block,
    board,
    board_results,
    minutes,
    missing,
    num,
    plural,
    protocol,
)

# (method, earlier reading, as published): board entries filed side by side (docs/fidelity-*.md)
FIDELITY_PAIRS = (("MAUGen", "maugen-tiny-v1", "maugen-tiny"), ("SynFER", "synfer-tiny", "synfer-tiny-published"))
FIDELITY_METRICS = (("fd_world", "FD ↓", 0), ("au_kappa", "AU kappa claimed ↑", 3),
                    ("expression_kappa", "expr. kappa claimed ↑", 3), ("au_f1_condition", "AU F1 request ↑", 3),
                    ("expression_accuracy_condition", "expr. request ↑", 3))
COPY_WRITER = "augen study copyrate --protocol {pid} --out reports/{pid}/copy_rate.md"


def _copy_rates(src: Sources, pid: str, board_hash: str) -> dict:
    """Per entry {"au": ..., "expression": ...} copy rates filed for the board's protocol and hash ({} if none)."""
    from bench.studies.copyrate import COPY_RATE

    rel = COPY_RATE.format(pid=pid)
    if not src.path(rel).is_file():
        return {}
    data = src.json(rel, COPY_WRITER.format(pid=pid))
    return {k: v for k, v in data["entries"].items() if v["protocol_hash"].startswith(board_hash)}


def copy_phrase(rates: dict | None, kind: str) -> str:
    """"0.999 [0.997, 1.000] of 2,391" (copy on miss, its interval and the misses it is over), or "n/a"."""
    r = (rates or {}).get(kind)
    if not isinstance(r, dict) or missing(r.get("copy_on_miss")):
        return "n/a"
    lo, hi = r["ci95"]["copy_on_miss"]
    return f"{r['copy_on_miss']:.3f} [{lo:.3f}, {hi:.3f}] of {r['n_miss']:,}"


# -- maugen ----------------------------------------------------------------------------------------------------


def _load_maugen(src: Sources) -> dict:
    b = board(src)
    res = dict(board_results(src))
    entry = res.get("maugen-tiny")
    key = (entry or {}).get("generator", {}).get("config", {}).get("weights")
    # the checkpoint the filed entry sampled (its folder is named by its key), else the last committed one by name
    folders = sorted(src.path(REFERENCE_WEIGHTS).glob("maugen-tiny-*/training.json"))
    path = src.path(REFERENCE_WEIGHTS) / str(key) / "training.json"
    if not path.is_file():
        if not folders:
            raise DataError(src.path(REFERENCE_WEIGHTS) / "maugen-tiny-*/training.json",
                            "missing (written by `augen train maugen --config tiny`)")
        path = folders[-1]
    return {"pid": b["id"], "training": src.json(str(path.relative_to(src.root)), "augen train maugen --config tiny"),
            "ceiling": src.json(VAE_CEILING, "bench.publish.refreport.vae_ceiling"),
            "results": {k: res.get(k) for k in ("maugen-tiny", "real", "noise")},
            "copy": _copy_rates(src, b["id"], b["hash"])}


@block("maugen", _load_maugen)
def maugen_block(pid: str, training: dict, ceiling: dict, results: dict[str, dict | None],
                 copy: dict[str, dict]) -> str:
    """The tiny MAUGen on the board (`maugen-tiny`): its training record, its VAE's ceiling, its scores and how
    often its claims copy the request where the judge reads the image as missing it."""
    c = training["config"]
    secs = sum(e.get("seconds_this_run", 0) for e in training["log"])
    variant = c.get("variant", "v1")
    head = (f"The tiny MAUGen (variant {variant}; checkpoint `{training['key']}`, committed: {c['steps']:,} "
            f"steps of batch {c['batch']}, {minutes(secs)} of training on this machine)")
    cap = (f"its VAE alone caps {ceiling['aus']} F1 at {ceiling['au_f1_reconstructed']:.2f}: the judge reads "
           f"{ceiling['au_f1_original']:.3f} on {ceiling['n']:,} originals")
    m = results.get("maugen-tiny")
    if m is None:
        return f"{head} has no results filed under `leaderboards/results/{pid}/` for the board's hash yet; {cap}."
    mm = m["metrics"]
    fd = {k: (r or {}).get("metrics", {}).get("fd_world", {}).get("value") for k, r in results.items()}
    labelled = sum(v is not None for v in (mm.get("au_f1", {}).get("per_au") or {}).values())
    requested = sum(v is not None for v in (mm.get("au_f1_condition", {}).get("per_au") or {}).values())
    ref = ", ".join(f"{k} {fd[k]:,.0f}" for k in ("real", "noise") if not missing(fd[k]))
    out = (f"{head} reaches on `{pid}` FD {num(fd['maugen-tiny'], 0)}" + (f" ({ref})" if ref else "")
           + f", claimed-vs-judge AU F1 {num(mm.get('au_f1', {}).get('value'))} on the {plural(labelled, 'AU')} it "
           f"labels and requested-vs-judge F1 {num(mm.get('au_f1_condition', {}).get('value'))} over all {requested} "
           f"({cap}).")
    if "maugen-tiny" in copy:
        out += (f" Where the judge reads one of its images as missing a requested AU, its claimed label repeats the "
                f"request in {copy_phrase(copy['maugen-tiny'], 'au')} such cells (`reports/{pid}/copy_rate.md`).")
    return out


# -- fidelity pairs --------------------------------------------------------------------------------------------


def _load_fidelity(src: Sources) -> dict:
    b = board(src)
    res = dict(board_results(src))
    names = [n for _, *pair in FIDELITY_PAIRS for n in pair]
    return {"pid": b["id"], "rank_by": protocol(b["id"]).headline.rank_by,
            "results": {n: res.get(n) for n in names + ["real"]}, "copy": _copy_rates(src, b["id"], b["hash"])}


@block("fidelity", _load_fidelity)
def fidelity_block(pid: str, rank_by: str, results: dict[str, dict | None], copy: dict[str, dict]) -> str:
    """Each reference's earlier reading beside the published one: training value, the diagnostics fidelity moves,
    and the copy rates (claims repeating the request where the judge reads the image as missing it)."""
    head = ["| method | entry | reading | training value ↑ | " + " | ".join(h for _, h, _ in FIDELITY_METRICS)
            + " | AU copy on miss | expr. copy on miss |", "|---|---|---|---:|" + "---:|" * (len(FIDELITY_METRICS) + 2)]
    lines = []
    for method, old, new in FIDELITY_PAIRS:
        for name, reading in ((old, "earlier"), (new, "published")):
            r = results.get(name)
            if r is None:
                lines.append(f"| {method} | {name} | {reading} | not filed |" + " |" * (len(FIDELITY_METRICS) + 2))
                continue
            m = r["metrics"]
            tv = m.get(rank_by, {})
            tv_s = num(tv.get("value")) + (f" ± {(tv['ci95'][1] - tv['ci95'][0]) / 2:.3f}"
                                           if tv.get("ci95") and not missing(tv.get("value")) else "")
            vals = [num(m.get(k, {}).get("value"), d) for k, _, d in FIDELITY_METRICS]
            lines.append(f"| {method} | {name} | {reading} | {tv_s} | " + " | ".join(vals)
                         + f" | {copy_phrase(copy.get(name), 'au')} | {copy_phrase(copy.get(name), 'expression')} |")
    out = [f"On `{pid}` (filed under `leaderboards/results/{pid}/`; copy rates from `reports/{pid}/copy_rate.md`, "
           f"`{COPY_WRITER.format(pid=pid)}`):", "", *head, *lines]
    floor = copy.get("real")
    if floor:
        out += ["", f"Copy on miss: among the cells where the judge reads the image as missing the request, the "
                    f"share whose claimed label repeats the request [95% bootstrap interval over samples] of that many "
                    f"cells. On `real` the claims are the world's truth, so its misses are the judge's own errors: "
                    f"{floor['au']['miss_rate']:.3f} of AU cells and {floor['expression']['miss_rate']:.3f} of "
                    f"expressions. A labeller that reads its images agrees with the judge on a generator's misses "
                    f"above that floor."]
    return "\n".join(out)


# -- synfer ablation -------------------------------------------------------------------------------------------


def _load_ablation(src: Sources) -> dict:
    from bench.publish.leaderboard import load_filed
    from bench.studies.ablation import ROWS, slug

    runs = {}
    for folder in sorted(src.path(REPORT_RESULTS).glob("*/synfer-ablation")):
        filed = dict(load_filed(folder))
        runs[folder.parent.name] = [(row, filed.get(slug(row))) for row in ROWS]
    return {"runs": runs}


@block("synfer-ablation", _load_ablation)
def ablation_block(runs: dict[str, list[tuple[str, dict | None]]]) -> str:
    """SynFER's ablation, one table per protocol it was run on, from reports/results/<protocol>/synfer-ablation/."""
    if not runs:
        return ("The ablation has not been run (`augen study ablation` files its rows under "
                "`reports/results/<protocol>/synfer-ablation/`).")
    parts = []
    cols = (("expression_accuracy_condition", 3), ("au_f1_condition", 3), ("fd_world", 0),
            ("downstream_expression_accuracy_1x", 3))
    for pid, rows in runs.items():
        sizes = sorted({r["sampleset"]["n"] for _, r in rows if r})
        lines = [f"On `{pid}` (`reports/results/{pid}/synfer-ablation/`, "
                 + " / ".join(f"{s:,}" for s in sizes) + " conditions per row):", "",
                 "| row | expression vs request | AU F1 vs request | FD | recognizer on 1x: expression acc. | "
                 "relabelled |", "|---|---:|---:|---:|---:|---:|"]
        for row, r in rows:
            if r is None:
                lines.append(f"| {row} | not run | | | | |")
                continue
            vals = [num(r["metrics"].get(k, {}).get("value"), d) for k, d in cols]
            st = r["generator"].get("stats") or {}
            share = f"{st['relabelled'] / st['n']:.0%}" if st.get("n") and "relabelled" in st else ""
            lines.append(f"| {row} | " + " | ".join(vals) + f" | {share} |")
        sg = next((r["generator"]["config"].get("semantic_guidance_scale") for row, r in rows
                   if r and (r["generator"].get("config") or {}).get("semantic_guidance_scale")), None)
        if sg is not None:
            lines += ["", f"Semantic guidance with lambda_g {sg} (`semantic_guidance_scale`, chosen on train-split "
                          f"conditions, never the scored suite)."]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
