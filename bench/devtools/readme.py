"""README.md's numbers, written by code from files in the repository.

    python -m bench.devtools.readme            # rewrite every generated block of README.md
    python -m bench.devtools.readme --check    # exit 1 naming the stale blocks if README.md differs from that

README.md holds marker pairs, each on a line of its own:

    <!-- augen:NAME -->
    (generated text)
    <!-- /augen:NAME -->

and this module rewrites the text between each pair from the block's sources: `leaderboards/LEADERBOARD.md` (its
table and its sentence on how it ranks, verbatim), the results JSONs under `leaderboards/results/` and
`reports/results/`, `reports/bench.json` (throughput), `reports/bench_timing.json` (`tox -e bench` timings, written
by `python -m bench.devtools.timed`), the world judge's report `bench/judges/weights/<judge id>.json` and the
probe's `reports/world_difficulty.json`, `reference/weights/*/training.json` (training records) and the protocol
files (settings). Each block is one generator function, pure (inputs -> markdown), registered in `BLOCKS` with a
loader that reads its inputs from the repository (`LOADERS`); an unknown block name or a missing source is one
`DataError` naming the file. Blocks that show results read those of the protocol the board was ranked under (the
`# Leaderboard:` line of LEADERBOARD.md) and of its hash, so README and board never disagree.

docs/readme-numbers.md says how numbers get into README.md and reports/.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.errors import AugenError, DataError
from bench.core.paths import workspace
from bench.core.protocol import DEFAULT_PROTOCOL, FAMILIES, Protocol
from bench.devtools import markers
from bench.devtools.markers import README, WIDTH, loose_numbers, wrap_markdown  # noqa: F401  (tests read them here)
from bench.devtools.readme_references import ablation_block, fidelity_block, maugen_block  # noqa: F401  (registers)
from bench.devtools.readme_sources import (  # noqa: F401  (the blocks' machinery; tests read it here)
    BENCH_JSON,
    BLOCK_COVERAGE,
    BLOCKS,
    JUDGE_WEIGHTS,
    JUDGECHECK,
    LEADERBOARD,
    LOADERS,
    PROBE,
    REFERENCE_WEIGHTS,
    REFERENCES_TIMING,
    REPORT_RESULTS,
    RESULTS,
    SENTENCE_END,
    TIMING,
    TITLE,
    VAE_CEILING,
    Sources,
    block,
    board,
    board_results,
    join_words,
    minutes,
    missing,
    num,
    parse_leaderboard,
    plural,
    protocol,
    render_block,
    scales_words,
)
from bench.publish.headline import HEADLINE
from bench.publish.throughput import baseline_names, ratio_text, rows

CONTROLS = ("real", "shuffled", "collapsed", "noise")
REFERENCES = ("maugen-tiny",)  # reference generators shown beside the controls
# the controls table: (metric, header)
CONTROL_METRICS = (("fd_world", "fd_world"), ("recall", "recall"), ("vendi", "vendi"),
                   ("skin_tone_entropy", "skin_tone_entropy"), ("au_f1", "au_f1 (claimed vs judge)"),
                   ("au_kappa", "au_kappa"), ("expression_accuracy", "expression_accuracy"),
                   ("expression_kappa", "expression_kappa"),
                   ("au_f1_condition", "au_f1_condition (requested vs judge)"),
                   ("expression_accuracy_condition", "expression_accuracy_condition"),
                   ("near_copy_share", "near_copy_share"))
# benchmark groups in words (benchmarks/); a group not listed here is shown by its id
BENCH_GROUPS = {"world-render": "world rendering", "sampleset-write": "SampleSet writing",
                "sampleset-read": "SampleSet reading", "fid-2048": "FID from 2048-d statistics",
                "judge-folder": "judging a folder of images", "score-10k": "scoring 10k images end to end (cold cache)",
                "runner-overhead": "the runner (generate, judge, score)", "downstream-training": "downstream training",
                "maugen-tiny-sampling": "MAUGen-tiny sampling (published variant)",
                "synfer-tiny-guidance": "SynFER-tiny semantic guidance",
                "faceapi-chain-512": "face-api chain on photos at 512 px (torch port vs face-api in Node)",
                "import-512": "`augen import` of photos at 512 px",
                "world-make": "`augen world make` with 2 workers (threads capped per worker) vs 1 process",
                "maugen-tiny-workers": "`augen run maugen-tiny --workers 2` generation vs 1 process, vs 1 thread"}


# -- blocks ---------------------------------------------------------------------------------------------------------


def _load_world(src: Sources) -> dict:
    from bench.data.aus import N_AUS, N_EXPRESSIONS
    from bench.world.params import AGE_GROUPS, GENDERS, SKIN_TONES

    return {"skin_tones": len(SKIN_TONES), "genders": len(GENDERS), "age_groups": len(AGE_GROUPS), "n_aus": N_AUS,
            "n_expressions": N_EXPRESSIONS}


@block("world", _load_world)
def world_block(skin_tones: int, genders: int, age_groups: int, n_aus: int, n_expressions: int) -> str:
    """The world in one paragraph, its counts read from bench.world and bench.data."""
    return (f"No face datasets or weights can be downloaded here, so the benchmark carries a procedural world whose "
            f"truth is exact: identities with demographics ({skin_tones} skin-tone groups x {genders} gender "
            f"presentations x {age_groups} age groups, each with visible cues), the {n_aus} canonical AUs as "
            f"geometric deformations with FACS intensity 0-5, EMFACS prototypes of {n_expressions} expressions with "
            f"random intensity, optional AUs, blends and spontaneous AUs, and nuisance (pose, light, background, "
            f"noise). Every AU has a cue of its own (see `bench/world/geometry.py: AU_CUES`). Rendering is "
            f"vectorized and deterministic in (seed, split, index).")


def _timings(src: Sources, name: str) -> dict[str, float] | None:
    """{label: seconds} of one bench.devtools.timed file, None if absent; DataError if it is not such a mapping."""
    if not src.path(name).is_file():
        return None
    t = src.json(name, "python -m bench.devtools.timed")
    if not isinstance(t, dict) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in t.values()):
        raise DataError(src.path(name), "want a mapping {label: seconds}")
    return t


SLOWER_KIND_LOOP = 6_850  # img/s of the bare training loop on the slower machine kind `tox -e bench`'s 15 min budget
#                           is set for (docs/testing.md); a run on a slower machine is also shown scaled to it


def _load_timing(src: Sources) -> dict:
    timing = _timings(src, TIMING)
    if timing is None:
        return {"timing": None}
    loop = None  # the same run's bare training loop: which kind of machine the minutes were measured on
    if src.path(BENCH_JSON).is_file():
        loop = next((r["per_s"] for r in rows(src.json(BENCH_JSON, "tox -e bench (pytest benchmarks)"))
                     if r["name"] == "test_bare_training_loop"), None)
    return {"timing": timing, "loop": loop, "references": _timings(src, REFERENCES_TIMING)}


@block("tox-timing", _load_timing)
def timing_block(timing: dict[str, float] | None, loop: float | None = None,
                 references: dict[str, float] | None = None) -> str:
    """How long `tox -e bench` (and `tox -e references`, its filed companion) take, per command, from
    reports/bench_timing.json and reports/references_timing.json (or that it is not recorded)."""
    if not timing:
        return ("How long `tox -e bench` takes has not been recorded yet: its commands run under "
                "`python -m bench.devtools.timed LABEL -- ...`, which records each one's wall time in "
                "`reports/bench_timing.json`.")
    parts = [f"{label} {minutes(s)}" for label, s in timing.items()]
    text = (f"The timed steps of `tox -e bench` take {minutes(sum(timing.values()))} after its env is built (the "
            f"latest recorded time of each, `reports/bench_timing.json`, written by `python -m bench.devtools.timed`): "
            + ", ".join(parts) + "; the untimed steps (checks, tables, report, figures, README) add seconds.")
    if references:
        text += (" The tiny references are regenerated by their own filed command, `tox -e references` ("
                 + ", ".join(f"{label} {minutes(s)}" for label, s in references.items())
                 + ", `reports/references_timing.json`), which republishes the same board.")
    if loop:
        text += (f" Machines differ: this was a machine where the bare training loop (`test_bare_training_loop`, "
                 f"`reports/BENCH.md`) ran {loop:,.0f} img/s")
        if loop < SLOWER_KIND_LOOP:
            text += (f"; scaled by that speed to the slower of the two machine kinds the budget names "
                     f"({SLOWER_KIND_LOOP:,} img/s), about {minutes(sum(timing.values()) * loop / SLOWER_KIND_LOOP)} "
                     "(fresh clones there took 13.5 min at 11,800 img/s and 23.8 min at 6,850: time follows the "
                     "loop's speed)")
        text += "."
    return text


def _load_difficulty(src: Sources) -> dict:
    from bench.data.aus import N_EXPRESSIONS
    from bench.judges.world import WorldJudgeConfig

    judge = f"{JUDGE_WEIGHTS}/{WorldJudgeConfig().judge_id}.json"
    return {"probe": src.json(PROBE, "augen world probe"), "judge": src.json(judge, "augen judges train"),
            "n_expressions": N_EXPRESSIONS}


@block("world-difficulty", _load_difficulty)
def difficulty_block(probe: dict, judge: dict, n_expressions: int) -> str:
    """How separable the world is: the small-budget probe and the full world judge, from their reports."""
    pc, jc = probe["config"], judge["config"]
    return (f"How hard is it? `augen world probe` trains the judge network on a smaller budget ({pc['epochs']} x "
            f"{pc['train_per_epoch']:,} fresh world-train images, {minutes(probe['train_seconds'])}) and tests it on "
            f"{probe['n_eval']:,} faces of held-out identities: expression accuracy "
            f"{probe['expression_accuracy']:.3f} (chance {1 / n_expressions:.3f}), AU occurrence mean F1 "
            f"{probe['au_mean_f1']:.3f} (`reports/world_difficulty.md`). With the full budget ({jc['epochs']} x "
            f"{jc['train_per_epoch']:,} images, `augen judges train`, {minutes(judge['train_seconds'])}), the world "
            f"judge `{judge['judge_id']}` reaches expression accuracy {judge['expression_accuracy']:.3f} and AU mean "
            f"F1 {judge['au_mean_f1']:.3f}, every AU at least {judge['au_min_f1']:.3f} (`reports/world_judge.md`). "
            f"Readable, not trivial.")


def bench_rows(data: dict) -> list[dict]:
    """Benchmarks of a pytest-benchmark JSON that are nobody's baseline: group, name, items/s, unit, and the speed
    against the baseline measured in the same run (bench.publish.throughput.rows: one rule for both tables)."""
    baselines = {n for b in data["benchmarks"] for n in baseline_names(b.get("extra_info", {}))}
    return [{k: r[k] for k in ("group", "name", "per_s", "unit", "baseline", "ratio", "ratios", "ceiling")}
            for r in rows(data) if r["name"] not in baselines]


def _rate(v: float | None) -> str:
    return "n/a" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.3g}")


@block("throughput", lambda src: {"data": src.json(BENCH_JSON, "tox -e bench (pytest benchmarks)")})
def throughput_block(data: dict) -> str:
    """Throughput of each benchmark against its in-run baseline, from reports/bench.json."""
    m = data.get("machine_info", {})
    cpu = m.get("cpu", {})
    head = (f"Throughput (`reports/BENCH.md`, from `reports/bench.json`: {cpu.get('brand_raw', 'unknown CPU')}, "
            f"{cpu.get('count', '?')} cores, run {data.get('datetime', '')[:10]}), each against a baseline measured "
            f"in the same run:")
    lines = [head, "", "| what | benchmark | throughput | speed vs baseline |", "|---|---|---:|---|"]
    for r in bench_rows(data):
        ratio = ratio_text(r)
        lines.append(f"| {BENCH_GROUPS.get(r['group'], r['group'])} | `{r['name']}` | {_rate(r['per_s'])} "
                     f"{r['unit']}/s | {ratio} |")
    return "\n".join(lines)


def protocol_facts(proto: Protocol) -> dict:
    """What the README says about a world protocol, as plain values."""
    fams = {f: [n for n in proto.metrics if proto.metric_info[n]["family"] == f] for f in FAMILIES}
    s, h = proto.downstream, proto.headline
    return {"id": proto.id, "conditions": (proto.conditions.n, proto.conditions.split),
            "image_size": proto.world.image_size, "reference": (proto.reference.n, proto.reference.split),
            "train_reference": (proto.train_reference.n, proto.train_reference.split),
            "families": {f: v for f, v in fams.items() if v},
            "downstream": None if s is None else {
                "recognizer": s.recognizer, "scales": list(s.scales), "n1": s.real_train.n, "seeds": len(s.seeds),
                "test": (s.test.n, s.test.split), "mixed_scale": s.mixed_scale},
            "headline": None if h is None else {"rank_by": h.rank_by, "gate": list(h.gate), "gate_min": h.gate_min},
            "real_budget": None if proto.real_budget is None else proto.real_budget.max_images}


@block("protocol", lambda src: {"facts": protocol_facts(protocol(DEFAULT_PROTOCOL))})
def protocol_block(facts: dict) -> str:
    """The default protocol's settings and metrics, from its file and the metric registry."""
    f = facts
    n, split = f["conditions"]
    lines = [f"`{f['id']}` (`bench/protocols/{f['id']}.yaml`, shipped with the package; what every command uses "
             f"without `--protocol`) asks for faces matching the labels of {n:,} world {split} samples at "
             f"{f['image_size']} px, reads every image with the world judge and scores these families:", ""]
    where = {"realism": f" (against {f['reference'][0]:,} world {f['reference'][1]} images)",
             "alignment": " (the labels a set claims vs what the judge reads)",
             "control": " (what the protocol asked for vs what the judge reads)",
             "memorization": f" (against {f['train_reference'][0]:,} world {f['train_reference'][1]} images)"}
    for fam, names in f["families"].items():
        lines.append(f"- {fam}{where.get(fam, '')}: " + ", ".join(f"`{m}`" for m in names))
    d = f["downstream"]
    if d is not None:
        lines.append(f"- downstream: a {d['recognizer']} trained on the labels a set claims at "
                     f"{scales_words(d['scales'])} the size of {d['n1']:,} real world faces (1x), and on real 1x + "
                     f"synthetic {d['mixed_scale']:g}x, {d['seeds']} seeds each, tested on {d['test'][0]:,} real "
                     f"world {d['test'][1]} faces")
    h = f["headline"]
    if h is not None:
        gates = " and ".join(f"`{g}`" for g in h["gate"])
        lines += ["", f"Its board ranks by `{h['rank_by']}`, the headline, {HEADLINE}; it ranks the sets whose "
                      f"claimed labels pass the validity gate (lower 95% bound of {gates}"
                  + f" above {h['gate_min']:g})" + (f" and whose real training data fits the budget of "
                                                    f"{f['real_budget']:,} labelled images" if f["real_budget"]
                                                    else "") + "."]
    return "\n".join(lines)


def _load_controls(src: Sources) -> dict:
    res = dict(board_results(src))
    return {"pid": board(src)["id"], "results": {k: res[k] for k in (*CONTROLS, *REFERENCES) if k in res}}


@block("controls", _load_controls)
def controls_block(pid: str, results: dict[str, dict]) -> str:
    """The controls (and the reference generators) over the metrics they bound, from their filed results."""
    if not results:
        return f"No control has results filed under `leaderboards/results/{pid}/` for the board's hash yet."
    names = list(results)
    sizes = sorted({r["sampleset"]["n"] for r in results.values()})
    lines = [f"Scored on `{pid}` (`leaderboards/results/{pid}/`, n = " + " / ".join(f"{s:,}" for s in sizes)
             + " per set):", "", "| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in CONTROL_METRICS:
        entries = [results[n]["metrics"].get(key) for n in names]
        if all(e is None for e in entries):
            continue
        hib = next(e["higher_is_better"] for e in entries if e is not None)
        vals = [None if e is None else e["value"] for e in entries]
        digits = 1 if any(not missing(v) and abs(v) >= 10 for v in vals) else 3
        lines.append(f"| {label} {'↑' if hib else '↓'} | " + " | ".join(num(v, digits) for v in vals) + " |")
    f1 = {n: results[n]["metrics"].get("au_f1", {}).get("value") for n in ("noise", "shuffled") if n in results}
    if len(f1) == 2 and not any(missing(v) for v in f1.values()):
        verb = "beats" if f1["noise"] > f1["shuffled"] else "does not beat"
        lines += ["", f"Raw F1 of `noise` ({f1['noise']:.2f}) {verb} `shuffled` ({f1['shuffled']:.2f}) although "
                      f"neither set's labels say anything about its images: read chance-corrected figures (kappa, "
                      f"AUC) beside F1."]
    return "\n".join(lines)


@block("leaderboard", lambda src: {"board": board(src)})
def leaderboard_block(board: dict) -> str:
    """LEADERBOARD.md's sentence on how it ranks and its table, verbatim."""
    out = (f"The board as `augen leaderboard` wrote it (`leaderboards/LEADERBOARD.md`: protocol `{board['id']}`, "
           f"hash `{board['hash']}`, from `leaderboards/results/{board['id']}/`). {board['sentence']}\n\n")
    if board.get("sections"):  # one verdict per task: every task's section (diagnostics: LEADERBOARD.md)
        return out + board["sections"] + "\n\nDiagnostics of every entry (FD, precision, recall, Vendi, label " \
                                          "agreement): `leaderboards/LEADERBOARD.md`."
    return out + board["table"] + "".join(f"\n\n{n}" for n in board["notes"])


# the board-order row of judgecheck's and stability's tau tables
BOARD_TAU = re.compile(r"^\| (?:(?P<axis>[^|]+?) \| )?board order \(gate, then training value\) \| "
                       r"(?P<tau>-?[0-9.]+) \| (?P<n>\d+) \|$", re.M)


def _load_stability(src: Sources) -> dict:
    pid = board(src)["id"]
    taus, missing = [], []
    for rel, writer, axis in ((JUDGECHECK, "augen study judgecheck", "judge retraining"),
                              (f"reports/{pid}/stability.md", "augen study stability", None)):
        if not src.path(rel).is_file():
            missing.append(f"`{writer}` (`{rel}`)")
            continue
        text = src.text(rel, writer)
        inside = INSIDE.search(text)
        if inside:  # a board per task (world-v3 on): re-runs against the filed intervals
            return {"pid": pid, "taus": taus, "missing": missing, "inside": [int(inside[1]), int(inside[2])]}
        found = [(m["axis"] or axis, float(m["tau"]), int(m["n"])) for m in BOARD_TAU.finditer(text)]
        if not found:
            raise DataError(src.path(rel), f"no board-order tau row (rewrite it with `{writer}`)")
        taus += found
    return {"pid": pid, "taus": taus, "missing": missing}


INSIDE = re.compile(r"\*\*(\d+) of (\d+) re-runs that changed anything \(\d+%\) fall inside the filed intervals\*\*")


@block("rank-stability", _load_stability)
def stability_block(pid: str, taus: list[tuple[str, float, int]], missing: list[str],
                    inside: list[int] | None = None) -> str:
    """Kendall tau of the board's order under each re-read, from the judge-independence and stability reports; for a
    board per task, the share of re-runs inside the filed intervals."""
    if inside is not None:
        k, n = inside
        return (f"Re-runs: every entry generated and scored again with redrawn conditions and with another generation "
                f"seed (`augen study stability`, `reports/{pid}/stability.md`): {k} of {n} re-run task "
                f"values that changed fall inside the filed 95% intervals ({k / n:.0%}).")
    out = ""
    if taus:
        parts = [f"{axis} {tau:.3f}" for axis, tau, _ in taus]
        n = sorted({k for _, _, k in taus})
        out = (f"Rank stability: Kendall tau-b between the filed board's order (all {'/'.join(map(str, n))} rows, "
               f"controls included) and the board re-read under {join_words(parts)} (how: docs/verdicts.md).")
    if missing:
        out += (" " if out else "Rank stability has not been measured for this board yet. ") + \
               f"Not run yet: {join_words(missing)}."
    return out


def _load_block_coverage(src: Sources) -> dict:
    if not src.path(BLOCK_COVERAGE).is_file():
        return {"m": None}
    return {"m": src.json(BLOCK_COVERAGE, "augen study blockcoverage")}


@block("interval-coverage", _load_block_coverage)
def block_coverage_block(m: dict | None) -> str:
    """How often world-v3's block intervals cover the truth on the world, beside world-v2's seed-only interval."""
    from bench.downstream.tasks import interval_coverage as coverage

    if m is None:
        return ("The coverage of world-v3's block intervals has not been measured yet "
                "(`augen study blockcoverage`, docs/intervals.md).")
    import numpy as np

    parts = []
    for task, per in m["tasks"].items():
        blocks = np.asarray(per["blocks"])
        c = coverage(blocks)
        text = f"{task} {c['share']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]"
        if per["seed_only"]:
            text += f" (seed-only: {coverage(np.asarray(per['seed_only']), blocks)['share']:.3f})"
        parts.append(text)
    return (f"Interval coverage where the truth is known: over {m['runs']} independent condition draws of the `real` "
            f"control (blocks of {m['block_images']} images at {m['scale']:g}x), the block interval covers the mean "
            f"of the other draws in a share of {join_words(parts)} (95% Clopper-Pearson intervals; in parentheses "
            f"world-v2's kind of interval, training seeds only, on {m['seed_only_runs']} of the draws; "
            f"`reports/block_coverage.md`, docs/intervals.md).")


def _load_archive(src: Sources) -> dict:
    from bench.publish.leaderboard import board as rank
    from bench.publish.leaderboard import load_filed, markdown_board
    from bench.scoring.protocols import current_hash

    current = board(src)["id"]
    boards = []
    for folder in sorted(p for p in src.path(RESULTS).glob("*") if p.is_dir() and p.name != current):
        filed = load_filed(folder)
        if not filed:
            continue
        proto = protocol(folder.name)
        if proto.kind != "world":
            boards.append({"id": proto.id, "n": len(filed), "needs_data": True})
            continue
        h = current_hash(proto)
        rows, stale, cols, sentence = rank(proto, filed, h)
        arrows = {m: v["higher_is_better"] for m, v in proto.metric_info.items()}
        arrows["win_rate"] = arrows["training_value"] = True
        md = markdown_board(rows, stale, proto.id, h, arrows, cols, sentence).splitlines()
        table = [ln for ln in md if ln.startswith("|")]
        notes = [ln for ln in md if ln.startswith("Not ranked")]
        boards.append({"id": proto.id, "hash": h[:12], "n": len(filed), "sentence": sentence,
                       "table": "\n".join(table), "notes": notes})
    return {"current": current, "boards": boards}


@block("leaderboard-archive", _load_archive)
def archive_block(current: str, boards: list[dict]) -> str:
    """The boards of the other protocols with results filed, ranked under each protocol's current hash."""
    if not boards:
        return f"No results of a protocol other than `{current}` are filed under `leaderboards/results/`."
    parts = []
    for b in boards:
        if b.get("needs_data"):
            parts.append(f"`{b['id']}` ({plural(b['n'], 'result')} filed): its hash includes the dataset's label "
                         f"files, so `augen leaderboard --protocol {b['id']} --data-root DIR` ranks it.")
            continue
        parts.append(f"`{b['id']}` ({plural(b['n'], 'result')} filed under `leaderboards/results/{b['id']}/`, ranked "
                     f"under its current hash `{b['hash']}` by `augen leaderboard --protocol {b['id']}`). "
                     f"{b['sentence']}\n\n" + b["table"] + "".join(f"\n\n{n}" for n in b["notes"]))
    return "\n\n".join(parts)


def _load_downstream(src: Sources) -> dict:
    p = protocol(board(src)["id"])
    return {"pid": p.id, "facts": protocol_facts(p) if p.kind == "world" else None, "filed": board_results(src)}


@block("downstream", _load_downstream)
def downstream_block(pid: str, facts: dict | None, filed: list[tuple[str, dict]]) -> str:
    """The downstream scaling table (expression accuracy) of the board's results, as `augen report` writes it."""
    from bench.publish.report import scaling_rows

    head, rows = scaling_rows(filed)
    if not rows:
        return f"No downstream results are filed under `leaderboards/results/{pid}/` for the board's hash yet."
    d = (facts or {}).get("downstream")
    what = "" if d is None else (f" on {d['test'][0]:,} real world {d['test'][1]} faces, recognizers trained on "
                                 f"each set's claimed labels at {scales_words(d['scales'])} of {d['n1']:,} real "
                                 f"faces (1x), mean of {d['seeds']} seeds ± half the 95% interval")
    return "\n".join([f"Downstream expression accuracy on `{pid}` (%{what}; `augen report --protocol {pid}` adds the "
                      f"AU table and figures):", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      *["| " + " | ".join(r) + " |" for r in rows]])


@block("real-protocols", lambda src: {"protocols": [(p.id, p.description.strip()) for p in real_protocols()]})
def real_protocols_block(protocols: list[tuple[str, str]]) -> str:
    """Each real-data protocol's own description, from its file."""
    return "\n".join(f"- `{pid}` (`bench/protocols/{pid}.yaml`): {desc}" for pid, desc in protocols)


def real_protocols() -> list[Protocol]:
    from bench.scoring.protocols import known_protocols

    return [p for p in (protocol(i) for i in known_protocols()) if p.kind == "real"]


def rewrite(text: str, render: Callable[[str], str], path: str | Path = README) -> tuple[str, list[str]]:
    """`bench.devtools.markers.rewrite` over README's blocks (`BLOCKS`)."""
    return markers.rewrite(text, render, path, BLOCKS)


def generate(readme: Path, root: Path) -> tuple[str, str, list[str]]:
    """(current text, text with every block regenerated, stale block names) of README file `readme`."""
    text = readme.read_text()
    src = Sources(root)
    rendered: dict[str, str] = {}

    def render(name: str) -> str:
        if name not in rendered:
            rendered[name] = render_block(name, src)
        return rendered[name]

    new, stale = rewrite(text, render, readme)
    return text, new, list(dict.fromkeys(stale))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.devtools.readme", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the stale blocks")
    ap.add_argument("--root", type=Path, default=None, help="the repository (default: the workspace)")
    ap.add_argument("--readme", type=Path, default=None, help="the file to rewrite (default: ROOT/README.md)")
    a = ap.parse_args(argv)
    root = a.root or workspace()
    readme = a.readme or root / README
    try:
        if not readme.is_file():
            raise DataError(readme, "no such file")
        text, new, stale = generate(readme, root)
    except AugenError as e:
        print(f"readme: {e}", file=sys.stderr)
        return 2
    if a.check:
        if stale:
            print(f"{readme} is stale: block(s) {', '.join(stale)} differ from what their sources give; run "
                  f"`python -m bench.devtools.readme`", file=sys.stderr)
            return 1
        print(f"{readme}: every generated block is up to date")
        return 0
    if new != text:
        atomic_write_text(readme, new)
    print(f"{readme}: " + (f"rewrote block(s) {', '.join(stale)}" if stale else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
