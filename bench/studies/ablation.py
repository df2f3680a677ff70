"""SynFER's ablation on a protocol: each component switched on in turn, every row generated and scored by the
same harness, then one report with SynFER's published ablation beside ours.

    augen study ablation --runs runs/synfer-ablation --out reports/synfer_ablation.md

Every row is a registered generator (`synfer-tiny` with the row's options; the pseudo-label row is
`synfer-tiny-relabel` replaying the semantic-guidance row's images through SynFER's label rectification), so this
driver needs nothing of `reference` but its registry names.

Rows (the paper's order): base (diffusion on generic captions) -> + text fine-tune (expression captions)
-> + AU adapter -> + semantic guidance -> + pseudo-labels. A row whose results JSON exists is not redone, so
an interrupted run resumes; sets are written atomically by the SampleSet writer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench import judges
from bench.core.atomic import atomic_write_text
from bench.core.errors import UsageError
from bench.core.results import write_results
from bench.generation.base import get_generator, write_generated
from bench.publish.papers import load_table
from bench.publish.refreport import ABLATION_COLUMNS, load, results_table, sample_grid
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.world.conditions import suite_conditions, world_conditions

# name -> synfer-tiny options; semantic guidance settings are filled from the command line
ROWS = {
    "base": {"stage": "base"},
    "+ text fine-tune": {"stage": "text"},
    "+ AU adapter": {"stage": "full"},
    "+ semantic guidance": {"stage": "full", "sg": True},
    "+ pseudo-labels": {"stage": "full", "sg": True, "pseudo_label": True},  # = the row above, relabelled
}
def paper_rows() -> dict[str, tuple]:
    """SynFER's published FER / AU accuracy of each row (bench/publish/paper_tables/synfer_ablation.yaml, rows in
    the same order; the pseudo-label row has no published numbers)."""
    published = load_table("synfer_ablation")["rows"]
    return {row: tuple(r["paper"][:2]) for row, r in zip(ROWS, published)} | {"+ pseudo-labels": (None, None)}


def row_options(row: str, sg_scale: float, sg_start: int, steps: int) -> dict:
    """The synfer-tiny generator options of one ablation row."""
    o = dict(ROWS[row])
    sg = o.pop("sg", False)
    return {**o, "steps": steps, "semantic_guidance_scale": sg_scale if sg else 0.0, "guidance_start": sg_start}


def slug(row: str) -> str:
    return row.replace("+ ", "").replace(" ", "-").replace("-fine-tune", "")


def run_row(row: str, runs: Path, protocol: str, n: int | None, sg_scale: float, sg_start: int, steps: int,
            progress: bool = True) -> Path:
    """Generate and score one row (skipped if its results exist); returns the results JSON path."""
    out = runs / f"{slug(row)}.json"
    if out.exists():
        return out
    proto = load_protocol(protocol)
    conds = suite_conditions(proto, n)
    folder = runs / slug(row)
    if not (folder / "manifest.yaml").exists():
        opts = row_options(row, sg_scale, sg_start, steps)
        if opts.pop("pseudo_label", False):  # the same images as the row before; only the labels change
            gen = get_generator("synfer-tiny-relabel", {"source": str(runs / slug("+ semantic guidance"))})
        else:
            gen = get_generator("synfer-tiny", opts)
        write_generated(gen, conds, folder, protocol=proto.id, progress=progress, overwrite=True)
    write_results(out, score(folder, protocol, progress=progress, downstream=True))
    return out


def sweep_sg(scales: list[float], start: int, n: int = 256, steps: int = 25, world: dict | None = None) -> dict:
    """Pick lambda_g on *train*-split conditions (never the scored val suite) with the *second* world judge (never
    the judge that scores the rows: bench.judges.world.SECOND_JUDGE): its expression accuracy vs the requested
    expression for each scale (0 = no guidance). Returns {scale: accuracy}."""
    from bench.judges.world import second_judge_config

    conds = world_conditions(world or {"seed": 0, "image_size": 64}, "train", n, start=10**6)
    want = np.array([c.expression for c in conds])
    judge = judges.build_judge("world", second_judge_config(), train_if_missing=False)
    out = {}
    for s in scales:
        gen = get_generator("synfer-tiny", {"stage": "full", "steps": steps, "semantic_guidance_scale": s,
                                            "guidance_start": start})
        imgs = np.stack([x.image for x in gen.generate(conds)])
        out[s] = float((judge(imgs)["expression_prob"].argmax(1) == want).mean())
    return out


def run_study(a) -> int:
    """`augen study ablation` (its arguments: bench.cli.study): generate and score the rows, then the report (none
    with --rows)."""
    known = [slug(r) for r in ROWS]
    bad = [x for x in a.rows or () if x not in known]
    if bad:
        raise UsageError(f"--rows: unknown {', '.join(bad)} (known: {', '.join(known)})")
    runs = Path(a.runs)
    runs.mkdir(parents=True, exist_ok=True)
    sweep = {}
    if a.sweep:
        f = runs / "sweep.json"
        key = f"start={a.sg_start} steps={a.steps} scales={a.sweep}"
        old = json.loads(f.read_text()) if f.exists() else {}
        sweep = {float(k): v for k, v in (old.get(key) or sweep_sg([0.0, *a.sweep], a.sg_start, steps=a.steps)).items()}
        atomic_write_text(f, json.dumps({**old, key: {str(k): v for k, v in sweep.items()}}, indent=1))
        a.sg_scale = max(a.sweep, key=lambda k: sweep[float(k)])  # the best lambda_g on train-split conditions
        print("semantic guidance sweep (train-split conditions, judge expression accuracy):", sweep,
              "-> lambda_g", a.sg_scale)
    rows = [r for r in ROWS if a.rows is None or slug(r) in a.rows]
    paths = {row: run_row(row, runs, a.protocol, a.n, a.sg_scale, a.sg_start, a.steps, not a.quiet) for row in rows}
    if a.rows is not None:  # a partial run: the rows' results, no report
        print("\n".join(f"{r}: {p}" for r, p in paths.items()))
        return 0
    res = load(paths)
    if a.results:
        for p in paths.values():
            atomic_write_text(Path(a.results) / p.name, p.read_text())
    out = Path(a.out)
    grid = sample_grid(runs / slug("+ pseudo-labels"), out.with_name(out.stem + "_samples.png"))
    published = paper_rows()
    paper = ["| row | FER acc | AU acc |", "|---|---:|---:|"] + [
        f"| {r} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in published[r]) + " |" for r in ROWS]
    cmd = (f"augen study ablation --runs {a.runs} --out {a.out} --protocol {a.protocol} "
           f"--steps {a.steps} --sg-start {a.sg_start}" + (f" --n {a.n}" if a.n else "")
           + (f" --sweep {' '.join(map(str, a.sweep))}" if a.sweep else f" --sg-scale {a.sg_scale}")
           + (f" --results {a.results}" if a.results else ""))
    lines = [f"# SynFER ablation on {a.protocol}", "", "```", cmd, "```", "",
             f"Each row: `synfer-tiny` with {a.steps} DDIM steps, CFG 3; semantic guidance lambda_g "
             f"{a.sg_scale} from step {a.sg_start}. Cells: value [95% bootstrap interval].", "",
             results_table(res, ABLATION_COLUMNS, ci=True), "",
             *(["lambda_g chosen on 256 *train*-split conditions (not the scored suite) by the second world judge "
                "(not the one that scores the rows); its expression accuracy vs the request at each lambda_g: "
                + ", ".join(f"{k}: {v:.3f}" for k, v in sweep.items()),
                ""] if sweep else []),
             "Options of each row: " + "; ".join(f"{r}: `{json.dumps(res[r]['generator']['config'])}`"
                                                 for r in ROWS), "",
             "SynFER's published ablation (their Table; FER / AU accuracy of a classifier on generated images):", "",
             *paper, "", f"![samples of the last row with their claimed labels]({grid.name})", ""]
    atomic_write_text(out, "\n".join(lines))
    print("\n".join(lines))
    return 0
