"""Prompts that reach the model: the tiny MAUGen asked in the authors' caption style, before and after training
on it. `augen study prompts`.

    augen study prompts [--n 300] [--out reports/prompts] [--json reports/results/prompts/results.json]

Requests: the DISFA12 occurrences (intensity >= 1) of world *val* samples 0..n-1 of the protocol's world, each
captioned by the authors'-style grammar (bench.world.captions.caption, seed CAPTION_SEED + index) and by the world
grammar (the condition's own prompt); plus the two records of the authors' sample_data.json. Rows:

    before         maugen-tiny (the filed checkpoint) on the authors'-style captions; its world vocabulary lacks
                   most of their words, read as <unk> (unknown_words=warn: the behaviour before refusal)
    before-world   maugen-tiny on the world-grammar caption of the same vector
    after          maugen-tiny captions=mixed (fine-tuned on both styles) on the authors'-style captions
    after-world    maugen-tiny captions=mixed on the world-grammar captions
    real           the world's own image of each val sample (the `real` control): the judge's ceiling

Per row, micro and macro F1 (over the AUs the requests hold) of (a) the AUs the model claims and (b) the AUs the
world judge reads in the image, each against the request, beside two trivial predictors of the request (the
request set's per-AU majority; a random claim at each AU's base rate, mean over RANDOM_DRAWS seeded draws).
Generated rows are cached under --work (one .npz per row, n and steps), so a stopped run resumes where it was.
The results JSON is written first; report.md (and records.png, the two records before/after) are drawn from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.core.results import new_results, write_results
from bench.data.aus import AU_INDEX, N_AUS, subset_indices
from bench.data.conditions import Condition
from bench.metrics.alignment import f1_micro, f1_per_column
from bench.world.captions import AUTHORS_RECORDS, CAPTION_AUS, caption
from bench.world.prompts import prompt_from_aus

PROTOCOL = "world-v2"  # whose world and judge are used
CAPTION_SEED = 31_000  # authors'-style caption of val sample i: seed CAPTION_SEED + i
RANDOM_DRAWS = 20  # draws averaged for the random-at-base-rate baseline
BASELINE_SEED = 0
THRESHOLD = 1.0  # occurrence = intensity >= 1 (DISFA12, FACS level A and up)
#: name -> (generator, options, prompt style: "authors" | "world" | None for the real control)
ROWS: dict[str, tuple[str, dict, str | None]] = {
    "before": ("maugen-tiny", {"unknown_words": "warn"}, "authors"),
    "before-world": ("maugen-tiny", {}, "world"),
    "after": ("maugen-tiny", {"captions": "mixed"}, "authors"),
    "after-world": ("maugen-tiny", {"captions": "mixed"}, "world"),
    "real": ("real", {}, None),
}
RECORD_ROWS = ("before", "before-world", "after")  # rows the two authors' records are drawn by
_COLS = subset_indices("DISFA12")


def study_conditions(world: dict, n: int, style: str | None) -> list[Condition]:
    """World val samples 0..n-1 as conditions whose prompt is in `style` (None/"world": the world grammar)."""
    from bench.world.conditions import world_conditions

    conds = world_conditions(world, "val", n)
    if style == "authors":
        conds = [dataclasses.replace(c, prompt=caption(c.aus, c.expression, CAPTION_SEED + c.index)) for c in conds]
    return conds


def record_conditions(style: str) -> list[Condition]:
    """The authors' two records (their prompt, or the world-grammar caption of their vector) as conditions."""
    out = []
    for i, (levels, text) in enumerate(AUTHORS_RECORDS):
        aus = np.full(N_AUS, np.nan, np.float32)
        aus[[AU_INDEX[a] for a in CAPTION_AUS]] = levels
        out.append(Condition(index=i, seed=i, prompt=text if style == "authors" else prompt_from_aus(aus), aus=aus,
                             expression=-1))
    return out


def occurrence(intensity: np.ndarray) -> np.ndarray:
    """(N, 17) intensities -> (N, 12) DISFA12 occurrence 0/1 (NaN where unlabelled)."""
    x = np.asarray(intensity, np.float64)[:, _COLS]
    return np.where(np.isnan(x), np.nan, (x >= THRESHOLD).astype(np.float64))


def f1_pair(request: np.ndarray, pred: np.ndarray) -> dict:
    """micro F1, macro F1 (mean over AUs the requests hold) and per-AU F1 of `pred` against `request` (N, 12)."""
    held = np.nansum(request, 0) > 0  # (12,)
    per = f1_per_column(request, pred)
    per = np.where(held & np.isnan(per), 0.0, per)
    return {"micro_f1": f1_micro(request, pred), "macro_f1": float(np.nanmean(per[held])) if held.any() else None,
            "per_au": {f"AU{a}": (None if np.isnan(v) else float(v)) for a, v, h in zip(CAPTION_AUS, per, held)
                       if h}}


def baselines(request: np.ndarray) -> dict:
    """The trivial predictors' F1 against `request` (N, 12): per-AU majority; random at the per-AU base rate."""
    rate = np.nanmean(request, 0)  # (12,)
    majority = np.broadcast_to((rate > 0.5).astype(np.float64), request.shape)
    rng = np.random.default_rng(BASELINE_SEED)
    draws = [f1_pair(request, (rng.random(request.shape) < rate).astype(np.float64)) for _ in range(RANDOM_DRAWS)]
    return {"majority": f1_pair(request, majority),
            "random_at_base_rate": {k: float(np.mean([d[k] for d in draws])) for k in ("micro_f1", "macro_f1")},
            "base_rate": {f"AU{a}": float(r) for a, r in zip(CAPTION_AUS, rate)}}


def _generate(spec: tuple, conds: list[Condition], world: dict, judge, cache: Path | None) -> dict[str, np.ndarray]:
    """Images (N, H, W, 3) uint8, claims (N, 17), the judge's au_prob (N, 17) and the generator's config (its
    weights key) of one row. Cached in `cache` with the generator's config hashed into the file name, so a
    retrained checkpoint never reads the rows of the one before."""
    from bench.generation.base import get_generator

    name, options, _ = spec
    gen = get_generator(name, options, world=world)
    config = json.dumps({"generator": name, **gen.config}, sort_keys=True, default=str)
    if cache is not None:
        cache = cache.with_name(f"{cache.stem}-{hashlib.sha256(config.encode()).hexdigest()[:10]}.npz")
        if cache.is_file():
            with np.load(cache) as z:
                return dict(z)
    samples = list(gen.generate(conds))
    images = np.stack([s.image for s in samples])
    out = {"images": images, "claims": np.stack([s.intensity for s in samples]).astype(np.float32),
           "judge_prob": judge(images)["au_prob"].astype(np.float32),
           "prompts": np.array([c.prompt for c in conds]), "config": np.array(config)}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **out)
        tmp.replace(cache)
    return out


def run(n: int = 300, work: Path | None = None, rows: tuple[str, ...] = tuple(ROWS), figure: Path | None = None,
        progress: bool = True, steps: int | None = None) -> dict:
    """Generate every row on the n val conditions and the two records, judge, and score (the results dict).
    `steps`: sampling steps of every MAUGen row (None: the generator's default, the authors' 30)."""
    specs = {k: (g, {**o, "steps": steps} if steps is not None and g.startswith("maugen") else o, s)
             for k, (g, o, s) in ROWS.items()}  # one steps setting for every model row, recorded in its options
    from bench.judges import build_judge
    from bench.scoring.protocols import load_protocol

    proto = load_protocol(PROTOCOL)
    world = proto.world.as_dict()
    judge = build_judge(proto.judge.kind, proto.judge.config, progress=progress)
    request = occurrence(np.stack([c.aus for c in study_conditions(world, n, "world")]))
    table = {}
    for row in rows:
        style = specs[row][2]
        if progress:
            print(f"prompts study: {row} ({n} conditions) {time.strftime('%H:%M:%S')}", flush=True)
        got = _generate(specs[row], study_conditions(world, n, style), world, judge,
                        None if work is None else work / f"{row}-n{n}-steps{steps or 'default'}.npz")
        judge_occ = (got["judge_prob"][:, _COLS] >= 0.5).astype(np.float64)
        table[row] = {"generator": specs[row][0], "options": specs[row][1],
                      "config": json.loads(str(got["config"])), "prompts": style or "none (the world's "
                      "own image)", "claims_vs_request": None if row == "real" else f1_pair(request,
                                                                                          occurrence(got["claims"])),
                      "judge_vs_request": f1_pair(request, judge_occ)}
    records, pictures = [], {}
    for row in (r for r in RECORD_ROWS if r in rows):
        style = specs[row][2]
        got = _generate(specs[row], record_conditions(style), world, judge,
                        None if work is None else work / f"records-{row}-steps{steps or 'default'}.npz")
        pictures[row] = got["images"]
        for i, (levels, _) in enumerate(AUTHORS_RECORDS):
            records.append({"record": i + 1, "row": row, "prompt": str(got["prompts"][i]),
                            "requested": {f"AU{a}": v for a, v in zip(CAPTION_AUS, levels) if v},
                            "claimed": {f"AU{a}": round(float(v), 2) for a, v in zip(CAPTION_AUS,
                                                                                  got["claims"][i][_COLS]) if v >= 1},
                            "judged": [f"AU{a}" for a, p in zip(CAPTION_AUS, got["judge_prob"][i][_COLS]) if p >= .5]})
    if figure is not None and pictures:
        write_figure(figure, pictures)
    example = study_conditions(world, 1, "authors")[0]
    return new_results(study="prompts", protocol=PROTOCOL, n=n, caption_seed=CAPTION_SEED, threshold=THRESHOLD,
                       judge={"id": judge.id, "sha256": judge.sha256}, baselines=baselines(request), rows=table,
                       records=records, example={"authors": example.prompt, "world": prompt_from_aus(example.aus)},
                       command=f"augen study prompts --n {n}" + (f" --steps {steps}" if steps else "")
                       + (f" --rows {','.join(rows)}" if tuple(rows) != tuple(ROWS) else ""))


def write_figure(figure: Path, rows: dict[str, np.ndarray]) -> None:
    """records.png: one row of images per model row (`rows`: name -> (2, H, W, 3) uint8), record 1 left."""
    from PIL import Image

    grid = np.concatenate([np.concatenate(list(imgs), 1) for imgs in rows.values()], 0)
    figure.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(figure)


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def markdown(res: dict, figure: str | None = None) -> str:
    """report.md from the results JSON."""
    b = res["baselines"]
    lines = ["# Prompts that reach the model: the tiny MAUGen in the authors' caption style", "",
             f"Generated by `{res['command']}` from {Path('reports/results/prompts/results.json')}; do not edit. "
             f"Requests: DISFA12 occurrence (intensity >= {res['threshold']:g}) of {res['protocol']}'s world val "
             f"samples 0..{res['n'] - 1}. Judge: {res['judge']['id']}. See docs/captions.md.", "",
             f"An authors'-style request: \"{res['example']['authors']}\"  ", f"The world-grammar request of the "
             f"same vector: \"{res['example']['world']}\"", "",
             "| row | generator (options): weights | prompts | claims vs request: micro F1 | macro F1 "
             "| judge vs request: micro F1 | macro F1 |", "|---|---|---|---|---|---|---|"]
    for name in sorted(res["rows"], key=lambda k: list(ROWS).index(k) if k in ROWS else len(ROWS)):  # study order
        r = res["rows"][name]
        c, j = r["claims_vs_request"] or {}, r["judge_vs_request"]
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        weights = r.get("config", {}).get("weights")
        lines.append(f"| {name} | {r['generator']}{f' ({opts})' if opts else ''}{f': {weights}' if weights else ''} | "
                     f"{r['prompts']} | "
                     f"{_f(c.get('micro_f1'))} | {_f(c.get('macro_f1'))} | {_f(j['micro_f1'])} | "
                     f"{_f(j['macro_f1'])} |")
    for name, key in (("per-AU majority of the requests", "majority"), ("random at the base rate (mean of "
                                                                         f"{RANDOM_DRAWS})", "random_at_base_rate")):
        lines.append(f"| baseline | {name} | - | {_f(b[key]['micro_f1'])} | {_f(b[key]['macro_f1'])} | "
                     f"{_f(b[key]['micro_f1'])} | {_f(b[key]['macro_f1'])} |")
    lines += ["", "The `real` row is the judge's ceiling: the world's own image of each request read by the judge. "
              "A row is worth reading only where it clears both baselines.", "",
              "## The authors' two records", "", "| record | row | prompt as sent | requested | claimed | judged |",
              "|---|---|---|---|---|---|"]
    def by_au(d: dict) -> list:
        return sorted(d.items(), key=lambda kv: int(kv[0][2:]))

    for r in res["records"]:
        req = ", ".join(f"{k}={v}" for k, v in by_au(r["requested"]))
        cl = ", ".join(f"{k}={v:g}" for k, v in by_au(r["claimed"])) or "none"
        lines.append(f"| {r['record']} | {r['row']} | {r['prompt']} | {req} | {cl} | {', '.join(r['judged']) or 'none'}"
                     " |")
    if figure:
        lines += ["", f"![the two records, one row per model row ({', '.join(RECORD_ROWS)}), record 1 left]"
                  f"({figure})"]
    return "\n".join(lines) + "\n"


def run_study(args) -> int:
    """`augen study prompts` (its arguments: bench.cli.study): results JSON, then report.md (+ records.png)."""
    from bench.core.paths import cache_root

    out = Path(args.out)
    if not args.report_only:
        work = Path(args.work) if args.work else cache_root() / "runs" / "prompts"
        rows = tuple(args.rows.split(",")) if args.rows else tuple(ROWS)
        unknown = sorted(set(rows) - set(ROWS))
        if unknown:
            from bench.core.errors import UsageError

            raise UsageError(f"--rows: no row {', '.join(unknown)} (rows: {', '.join(ROWS)})")
        write_results(args.json, run(n=args.n, work=work, rows=rows, figure=out / "records.png",
                                     progress=not args.quiet, steps=args.steps))
    wrote = (out / "records.png").is_file()
    res = json.loads(Path(args.json).read_text())
    atomic_write_text(out / "report.md", markdown(res, "records.png" if wrote else None))
    print(f"wrote {out / 'report.md'} and {args.json}")
    return 0
