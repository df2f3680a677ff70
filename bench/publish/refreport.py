"""Reports on the reference generators: how much of the world survives their autoencoder, and a markdown
table of scored runs (controls beside the reference) with the training record.

`vae_ceiling`: world *val* images -> VAE encode/decode -> the world judge, F1 against the true labels. No
latent generator using that VAE can show AUs the VAE cannot carry, so this bounds `au_f1_condition`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from bench.core.registry import metric_spec
from bench.data.aus import AU_INDEX, subset
from bench.data.sampleset import SampleSet
from bench.judges.world import load_world_judge, predict
from bench.metrics import alignment as A
from bench.scoring import protocols  # noqa: F401  (registers every metric, for their titles)
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

# the columns of the reference reports (headers: each metric's registered title)
COLUMNS = ("fd_world", "precision", "recall", "au_f1", "au_f1_condition", "au_pearson_condition",
           "expression_accuracy_condition", "vendi", "skin_tone_entropy")
# the columns of SynFER's ablation table, read on the world: expression and AU control, claimed-label accuracy, FD
ABLATION_COLUMNS = ("expression_accuracy_condition", "expression_accuracy", "au_f1_condition", "au_pearson_condition",
                    "fd_world", "downstream_expression_accuracy_1x")


@torch.no_grad()
def vae_ceiling(vae, n: int = 1024, aus: str = "DISFA12", seed: int = 0) -> dict:
    """Judge F1 (and r) on VAE reconstructions of world val images vs their true labels, and on the originals."""
    net, _ = load_world_judge(train_if_missing=False)
    p = sample_params(WorldConfig(seed=seed), "val", np.arange(n))
    x = render(p, 64)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    rec = []
    for lo in range(0, n, 128):
        z = vae.encode(t[lo:lo + 128]).latent_dist.mean
        rec.append(vae.decode(z).sample.clamp(-1, 1))
    r = torch.cat(rec)
    psnr = float((-10 * torch.log10(((r - t) / 2).pow(2).mean((1, 2, 3)).clamp_min(1e-10))).mean())  # <= 100 dB
    xr = ((r + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    cols = [AU_INDEX[a] for a in subset(aus)]
    truth = (p.aus[:, cols] >= 1.0).astype(float)
    out = {"n": n, "aus": aus, "psnr_db": round(psnr, 2)}
    for name, imgs in (("original", x), ("reconstructed", xr)):
        j = predict(net, imgs)
        out[f"au_f1_{name}"] = round(A.nanmean(A.f1_per_column(truth, (j["au_prob"][:, cols] >= 0.5).astype(float))), 4)
        out[f"au_r_{name}"] = round(A.nanmean(A.pearson_per_column(p.aus[:, cols], j["au_intensity"][:, cols])), 4)
        out[f"expression_{name}"] = round(A.accuracy(p.expression, j["expression_prob"].argmax(1)), 4)
    return out


def results_table(results: dict[str, dict], columns=COLUMNS, ci: bool = False) -> str:
    """Markdown: one row per run (name -> results JSON) over `columns` (metric names); with `ci`, each cell
    carries its 95% interval, and a last column the share of samples the generator relabelled (if it recorded one
    in its stats)."""
    relabel = ci and any("relabelled" in r["generator"].get("stats", {}) for r in results.values())
    head = "| run | " + " | ".join(metric_spec(c)["title"] for c in columns) + (" | relabelled |" if relabel else " |")
    lines = [head, "|---|" + "---:|" * (len(columns) + relabel)]
    for name, r in results.items():
        cells = []
        for key in columns:
            m = r["metrics"].get(key)
            v = None if m is None else m["value"]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("n/a")
            elif ci and m.get("ci95") and None not in m["ci95"]:
                cells.append(f"{v:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]")
            else:
                cells.append(f"{v:.3f}")
        if relabel:
            st = r["generator"].get("stats", {})
            cells.append(f"{st['relabelled'] / st['n']:.1%}" if st.get("n") else "n/a")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_au_table(results: dict[str, dict], key: str = "au_f1") -> str:
    names = list(results)
    aus = sorted({a for r in results.values() for a in (r["metrics"].get(key, {}).get("per_au") or {})})
    lines = ["| AU | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for a in aus:
        vals = [results[n]["metrics"].get(key, {}).get("per_au", {}).get(a) for n in names]
        lines.append(f"| {a} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in vals) + " |")
    return "\n".join(lines)


def _span(vals: list[float]) -> str:
    lo, hi = f"{min(vals):.2f}", f"{max(vals):.2f}"
    return lo if lo == hi else f"{lo}-{hi}"


def labelled_split(results: dict[str, dict]) -> list[str]:
    """For each run that labels only some AUs: requested-vs-judge F1 on the AUs it labels beside the AUs it does not
    (an AU counts as labelled where its claimed-vs-judge F1 exists)."""
    out = []
    for name, r in results.items():
        claimed = r["metrics"].get("au_f1", {}).get("per_au") or {}
        asked = {a: v for a, v in (r["metrics"].get("au_f1_condition", {}).get("per_au") or {}).items()
                 if v is not None}
        yes = [v for a, v in asked.items() if claimed.get(a) is not None]
        no = {a: v for a, v in asked.items() if claimed.get(a) is None}
        if not yes or not no:
            continue
        out.append(f"- `{name}`: requested-vs-judge F1 {_span(yes)} on the {len(yes)} AUs it labels, "
                   f"{_span(list(no.values()))} on the {len(no)} it does not ({', '.join(sorted(no))}).")
    return out


def bench_paragraph(data: dict, group: str) -> str:
    """The throughput of one benchmark group of a pytest-benchmark JSON (reports/bench.json): the benchmark against
    its in-run baseline, seconds per round and images per second."""
    runs = [b for b in data["benchmarks"] if b.get("group") == group]
    main = next((b for b in runs if b.get("extra_info", {}).get("baseline")), None)
    if main is None:
        raise ValueError(f"benchmark group {group!r} has no benchmark with a baseline "
                         f"(groups: {', '.join(sorted({b.get('group') or '' for b in data['benchmarks']}))})")
    base = next(b for b in data["benchmarks"] if b["name"] == main["extra_info"]["baseline"])
    items = main["extra_info"].get("items")
    t, tb = main["stats"]["mean"], base["stats"]["mean"]
    rate = f" ({items / t:.3g} {main['extra_info'].get('unit', 'img')}/s)" if items else ""
    return (f"`tox -e bench` (`{main['name']}`, run {data.get('datetime', '')[:10]}): {t:.2f} s per round{rate}, "
            f"against {tb:.2f} s for `{base['name']}` in the same run: **{t / tb:.3f}x** its time.")


def load(paths: dict[str, str | Path]) -> dict[str, dict]:
    return {k: json.loads(Path(v).read_text()) for k, v in paths.items()}


def sample_grid(sampleset: str | Path, out: str | Path, n: int = 18, cols: int = 6) -> Path:
    """Contact sheet of the first n samples of a set, each captioned with the labels the set claims."""
    from bench.world.make import contact_sheet

    ss = SampleSet(sampleset)
    samples = [s for _, s in zip(range(n), ss)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(samples, cols=cols).save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m bench.publish.refreport OUT.md --title T --training training.json --ceiling ceiling.json
    [--bench bench.json --bench-group GROUP] NAME=results.json...

    Writes the reference generator's report: training record, VAE ceiling, controls-vs-reference table, the per-AU
    F1 tables, requested-vs-judge F1 on the AUs each run labels and on those it does not, and the throughput of a
    benchmark group of `tox -e bench`. Every number comes from the files named.

    python -m bench.publish.refreport OUT.md --judge JUDGE.json [--title T] [--judge-command CMD]

    Writes a world judge's held-out report (reports/world_judge.md from bench/judges/weights/<id>.json,
    reports/world_difficulty.md from reports/world_difficulty.json) without training it again.
    """
    import argparse

    from bench.core.atomic import atomic_write_text

    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("runs", nargs="*", help="NAME=results.json")
    ap.add_argument("--title")
    ap.add_argument("--judge", help="a world judge's report JSON: write its markdown report instead")
    ap.add_argument("--judge-command", default="augen judges train", help="the command that trained the judge")
    ap.add_argument("--bench", help="pytest-benchmark JSON (reports/bench.json) for the throughput section")
    ap.add_argument("--bench-group", default="maugen-tiny-sampling", help="its benchmark group to report")
    ap.add_argument("--training", help="training.json of the reference checkpoint")
    ap.add_argument("--ceiling", help="vae_ceiling JSON")
    ap.add_argument("--grid", help="sample grid PNG (relative to the report)")
    ap.add_argument("--command", action="append", default=[], help="commands that produced the numbers")
    ap.add_argument("--ablation", action="store_true", help="SynFER-ablation columns with 95%% intervals")
    a = ap.parse_args(argv)
    if a.judge:
        from bench.judges.world import judge_markdown

        text = judge_markdown(json.loads(Path(a.judge).read_text()), a.title or "", a.judge_command)
        atomic_write_text(a.out, text)
        print(text)
        return 0
    if not a.runs or not a.title:
        ap.error("a report of runs needs NAME=results.json arguments and --title")
    res = load(dict(r.split("=", 1) for r in a.runs))
    lines = [f"# {a.title}", ""]
    if a.command:
        lines += ["Commands:", "", "```", *a.command, "```", ""]
    if a.training:
        t = json.loads(Path(a.training).read_text())
        last = [e for e in t["log"] if "step" in e][-1]
        secs = sum(e.get("seconds_this_run", 0) for e in t["log"])
        lines += [f"Checkpoint `{t['key']}` (`{t['command']}`): {t['config'].get('steps')} steps of batch "
                  f"{t['config'].get('batch')} on fresh world-train faces, {secs / 60:.1f} min on this machine; "
                  f"final losses " + ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k != "step") + ".", ""]
    if a.ceiling:
        c = json.loads(Path(a.ceiling).read_text())
        lines += [f"VAE ceiling ({c['n']} world-val images, {c['aus']}): reconstruction PSNR {c['psnr_db']} dB; the "
                  f"world judge's AU F1 vs truth is {c['au_f1_original']:.3f} on the originals and "
                  f"{c['au_f1_reconstructed']:.3f} on the reconstructions (r {c['au_r_original']:.3f} -> "
                  f"{c['au_r_reconstructed']:.3f}; expression {c['expression_original']:.3f} -> "
                  f"{c['expression_reconstructed']:.3f}). No generator on this VAE can show more than it carries.",
                  ""]
    table = results_table(res, ABLATION_COLUMNS, ci=True) if a.ablation else results_table(res)
    lines += [table, "", "Per-AU F1, claimed labels vs the judge's reading:", "", per_au_table(res), "",
              "Per-AU F1, requested AUs vs the judge's reading:", "", per_au_table(res, "au_f1_condition"), ""]
    split = labelled_split(res)
    if split:
        lines += ["AUs a run labels and AUs it does not (requested vs the judge's reading):", "", *split, ""]
    if a.grid:
        lines += [f"![samples with their claimed labels]({a.grid})", ""]
    if a.bench:
        lines += ["## Throughput", "", bench_paragraph(json.loads(Path(a.bench).read_text()), a.bench_group), ""]
    atomic_write_text(a.out, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
