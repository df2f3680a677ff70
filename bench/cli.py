"""The `augen` command line: one subcommand per user task (argparse; later issues add score/submit/...)."""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from bench.data.safeio import DataError, atomic_write_bytes


def _world_cfg(args):
    from bench.world.params import WorldConfig

    return WorldConfig(seed=args.seed, image_size=args.size)


def cmd_world_make(args) -> int:
    from bench.world.make import make_world_set

    m = make_world_set(args.out, _world_cfg(args), args.split, args.n, shard_size=args.shard_size,
                       workers=args.workers, progress=not args.quiet, overwrite=args.overwrite)
    print(f"wrote {m.count} {args.split} images ({m.image_size[0]}x{m.image_size[1]}) to {args.out}")
    return 0


def cmd_world_show(args) -> int:
    from bench.world.make import contact_sheet, world_batches

    cfg = _world_cfg(args)
    samples = [s for batch in world_batches(cfg, args.split, args.start, args.start + args.n) for s in batch]
    out = Path(args.out)
    buf = io.BytesIO()
    contact_sheet(samples, cols=args.cols).save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    print(f"wrote contact sheet of {len(samples)} {args.split} faces to {out}")
    return 0


def cmd_world_probe(args) -> int:
    """How separable is the world: the judge network on a small budget (weights not kept)."""
    import json

    from bench.judges.world import WorldJudgeConfig, judge_markdown, train_world_judge

    cfg = WorldJudgeConfig(world_seed=args.seed, image_size=args.size, train_per_epoch=args.n_train,
                           epochs=args.epochs, n_eval=args.n_test)
    _, res = train_world_judge(cfg, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr))
    out = Path(args.out)
    atomic_write_bytes(out.with_suffix(".json"), json.dumps(res, indent=1, sort_keys=True).encode())
    command = "augen world probe " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "augen world probe"
    text = judge_markdown(res, "How separable is the world? (difficulty probe)", command)
    atomic_write_bytes(out.with_suffix(".md"), text.encode())
    print(f"expression accuracy {res['expression_accuracy']:.3f}, mean AU F1 {res['au_mean_f1']:.3f}; "
          f"wrote {out.with_suffix('.md')}")
    return 0


def cmd_judges_train(args) -> int:
    import dataclasses

    from bench.judges.world import WorldJudgeConfig, judge_markdown, save_world_judge, train_world_judge

    cfg = WorldJudgeConfig()
    if args.epochs:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    net, report = train_world_judge(cfg, progress=not args.quiet)
    path = save_world_judge(net, report, Path(args.out))
    if args.report:
        import json

        atomic_write_bytes(args.report, judge_markdown(json.loads(path.with_suffix(".json").read_text())).encode())
    print(f"wrote {path} (AU mean F1 {report['au_mean_f1']:.3f}, min {report['au_min_f1']:.3f}; "
          f"expression {report['expression_accuracy']:.3f})")
    return 0


def _options(pairs: list[str]) -> dict:
    """`--option key=value` pairs -> kwargs (values parsed as YAML scalars: 25 -> int, 3.0 -> float)."""
    import yaml

    out = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or not k.isidentifier():
            raise ValueError(f"--option wants KEY=VALUE, got {p!r}")
        out[k] = yaml.safe_load(v)
    return out


def cmd_generate(args) -> int:
    from bench.controls import world_conditions
    from bench.generators import get_generator, read_condition_file, write_generated
    from bench.protocols import load_protocol

    proto = load_protocol(args.protocol)
    c = proto["conditions"]
    if args.conditions:
        conds = read_condition_file(args.conditions)[: args.n or None]
    else:
        conds = world_conditions(proto["world"], c["split"], args.n or c["n"])
    kwargs = _options(args.option)
    if args.generator in ("real", "shuffled", "collapsed", "noise"):
        kwargs["world"] = proto["world"]
    gen = get_generator(args.generator, **kwargs)
    write_generated(gen, conds, args.out, protocol=None if args.conditions else proto.id, progress=not args.quiet,
                    overwrite=args.overwrite)
    print(f"wrote {len(conds)} samples of {args.generator} to {args.out}")
    return 0


def cmd_train(args) -> int:
    if args.model == "vae":
        from reference.common.autoencoder import TinyVAEConfig, train_tiny_vae

        out = train_tiny_vae(TinyVAEConfig(**_options(args.option)), progress=not args.quiet)
    elif args.model == "maugen":
        if args.config != "tiny":
            raise ValueError("only --config tiny trains here; sd15 MAUGen starts from local SD-1.5 inpainting "
                             "weights (reference.maugen.config.from_sd15_folder) and trains on a GPU")
        from reference.maugen.config import MAUGenTinyConfig
        from reference.maugen.train import train_tiny_maugen

        out = train_tiny_maugen(MAUGenTinyConfig(**_options(args.option)), progress=not args.quiet)
    elif args.model == "synfer":
        if args.config != "tiny":
            raise ValueError("only --config tiny trains here; sd15 SynFER starts from local SD-1.5 weights "
                             "(reference.synfer.config.from_sd15_folder) and trains on a GPU")
        from reference.synfer.config import SynFERTinyConfig
        from reference.synfer.train import train_tiny_synfer

        out = train_tiny_synfer(SynFERTinyConfig(**_options(args.option)), progress=not args.quiet)
    else:
        raise ValueError(f"unknown model {args.model!r}")
    print(f"trained {args.model} ({args.config}): {out}")
    return 0


def cmd_score(args) -> int:
    from bench.results import format_table, write_results
    from bench.score import score_sampleset

    res = score_sampleset(args.sampleset, args.protocol, progress=not args.quiet, au_readings=args.au_readings,
                          downstream=args.downstream)
    out = Path(args.out) if args.out else Path(args.sampleset) / f"results-{res['protocol']['id']}.json"
    write_results(out, res)
    print(format_table(res))
    print(f"results: {out}")
    return 0


def cmd_table(args) -> int:
    from bench.results import load_results, markdown_table

    text = markdown_table(load_results(args.results))
    if args.out:
        atomic_write_bytes(args.out, text.encode())
    print(text)
    return 0


def cmd_validate(args) -> int:
    from bench.data.sampleset import validate

    m = validate(args.sampleset)
    print(f"ok: {args.sampleset}: {m.count} images {m.image_size[0]}x{m.image_size[1]}, "
          f"generator {m.generator.get('name')} {m.generator.get('version', '')}".rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="augen", description="AUGen-Bench: score generators of AU-labelled faces")
    sub = ap.add_subparsers(dest="command", required=True)

    world = sub.add_parser("world", help="the embedded FACS world").add_subparsers(dest="world_cmd", required=True)

    def world_common(p):
        p.add_argument("--split", choices=("train", "val", "test"), default="train")
        p.add_argument("--seed", type=int, default=0, help="world seed")
        p.add_argument("--size", type=int, default=64, help="image side in pixels (32-256)")

    mk = world.add_parser("make", help="write world images + true labels as a SampleSet")
    world_common(mk)
    mk.add_argument("--n", type=int, required=True, help="number of samples (indices 0..n-1)")
    mk.add_argument("--out", required=True, help="SampleSet folder to create")
    mk.add_argument("--shard-size", type=int, default=0, help="write shards of this many images (resumable)")
    mk.add_argument("--workers", type=int, default=1, help="processes writing shards at once")
    mk.add_argument("--overwrite", action="store_true")
    mk.add_argument("--quiet", action="store_true", help="no progress bar")
    mk.set_defaults(func=cmd_world_make)

    show = world.add_parser("show", help="write a labelled contact sheet PNG of world faces")
    world_common(show)
    show.add_argument("--n", type=int, default=24)
    show.add_argument("--start", type=int, default=0, help="first sample index")
    show.add_argument("--cols", type=int, default=6)
    show.add_argument("--out", default="reports/world_contact_sheet.png")
    show.set_defaults(func=cmd_world_show)

    pr = world.add_parser("probe", help="train the judge network on a small budget, report held-out accuracy/F1")
    world_common(pr)
    pr.add_argument("--n-train", type=int, default=16000, help="fresh world-train images per epoch")
    pr.add_argument("--n-test", type=int, default=4000)
    pr.add_argument("--epochs", type=int, default=6)
    pr.add_argument("--quiet", action="store_true")
    pr.add_argument("--out", default="reports/world_difficulty", help="writes OUT.json and OUT.md")
    pr.set_defaults(func=cmd_world_probe)

    gen = sub.add_parser("generate", help="run a registered generator on a protocol's conditions -> SampleSet")
    gen.add_argument("generator", help="registered name (controls: real, shuffled, collapsed, noise)")
    gen.add_argument("--protocol", default="world-v1")
    gen.add_argument("--n", type=int, default=0, help="first n conditions only (default: all)")
    gen.add_argument("--out", required=True)
    gen.add_argument("--conditions", help="JSON/JSON-lines file of {prompt, intensity: [12 DISFA12 levels]} "
                     "entries (MAUGen's sample format) instead of the protocol's suite")
    gen.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="generator setting, e.g. steps=25 guidance_scale=3 (repeatable)")
    gen.add_argument("--overwrite", action="store_true")
    gen.add_argument("--quiet", action="store_true")
    gen.set_defaults(func=cmd_generate)

    tr = sub.add_parser("train", help="train a reference generator's tiny config on world train data (resumable)")
    tr.add_argument("model", choices=("vae", "maugen", "synfer"))
    tr.add_argument("--config", default="tiny", choices=("tiny", "sd15"))
    tr.add_argument("--option", action="append", metavar="KEY=VALUE", help="config field override (changes its key)")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    sc = sub.add_parser("score", help="score a SampleSet under a protocol (downstream too with --downstream)")
    sc.add_argument("sampleset")
    sc.add_argument("--protocol", default="world-v1")
    sc.add_argument("--out", help="results JSON (default: SAMPLESET/results-<protocol>.json)")
    sc.add_argument("--au-readings", help="AU judge from a tool: libreface:FILE.csv or openface:FOLDER")
    sc.add_argument("--downstream", action="store_true",
                    help="also train the protocol's recognizers on the set (minutes; each training cached)")
    sc.add_argument("--quiet", action="store_true")
    sc.set_defaults(func=cmd_score)

    tb = sub.add_parser("table", help="markdown table of results files (one protocol hash)")
    tb.add_argument("results", nargs="+")
    tb.add_argument("--out")
    tb.set_defaults(func=cmd_table)

    judges = sub.add_parser("judges", help="judges that read images").add_subparsers(dest="judges_cmd", required=True)
    jt = judges.add_parser("train", help="train the world judge (deterministic) and save it with its report")
    jt.add_argument("--out", default=str(Path(__file__).parent / "judges" / "weights"))
    jt.add_argument("--epochs", type=int, default=0, help="override the config's epochs (changes the judge id)")
    jt.add_argument("--report", default="reports/world_judge.md", help="markdown ceiling report ('' for none)")
    jt.add_argument("--quiet", action="store_true")
    jt.set_defaults(func=cmd_judges_train)

    val = sub.add_parser("validate", help="strictly check a SampleSet (manifest, hashes, every row and image)")
    val.add_argument("sampleset")
    val.set_defaults(func=cmd_validate)

    from bench import runner

    rn = sub.add_parser("run", help="protocol x generator -> generate, judge, score, downstream -> results.json "
                                    "(resumable, shardable)")
    runner.add_arguments(rn)
    rn.set_defaults(func=runner.run_from_args)
    dn = sub.add_parser("downstream", help="train recognizers on a SampleSet, test on a local real dataset "
                                           "(real-data protocols: affectnet-v1, bp4d-v1)")
    dn.add_argument("sampleset")
    dn.add_argument("--protocol", required=True, help="a `kind: real` protocol")
    dn.add_argument("--data-root", required=True, help="the dataset's local folder (see the protocol's data:)")
    dn.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    dn.add_argument("--out", help="results JSON (default: print the table only)")
    dn.add_argument("--quiet", action="store_true")
    dn.set_defaults(func=cmd_downstream)
    mg = sub.add_parser("merge", help="join a run's generated shards (after --shard i/N processes)")
    mg.add_argument("generator")
    mg.add_argument("--work", required=True)
    mg.add_argument("--protocol", default="world-v1")
    mg.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    mg.add_argument("--n", type=int, default=None)
    mg.add_argument("--shard-size", type=int, default=250)
    mg.set_defaults(func=cmd_merge)

    su = sub.add_parser("submit", help="check, score and file a submission (SampleSet folder/tar, or "
                                       "generator:NAME) under leaderboards/results/<protocol>/")
    su.add_argument("source", nargs="+", help="SampleSet folder, .tar/.tar.gz of one, or generator:NAME (entry "
                                              "point); several are scored in turn, stopping at the first error")
    su.add_argument("--protocol", default="world-v1")
    su.add_argument("--name", help="leaderboard name (default: the generator's name)")
    su.add_argument("--results-dir", help="default: leaderboards/results")
    su.add_argument("--no-downstream", action="store_true")
    su.add_argument("--replace", action="store_true", help="rescore an existing entry")
    su.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="generator setting")
    su.add_argument("--workers", type=int, default=1, help="generation processes for generator:NAME (see augen "
                                                          "run --workers)")
    su.add_argument("--quiet", action="store_true")
    su.set_defaults(func=cmd_submit)
    lb = sub.add_parser("leaderboard", help="rank the filed results of one protocol hash -> LEADERBOARD.md + HTML")
    lb.add_argument("--protocol", default="world-v1")
    lb.add_argument("--results-dir", help="default: leaderboards/results")
    lb.add_argument("--out", help="markdown (default: leaderboards/LEADERBOARD.md)")
    lb.add_argument("--html", help="HTML page (default: leaderboards/index.html)")
    lb.add_argument("--data-root", help="real-data protocols: the dataset folder (its label files are hashed)")
    lb.set_defaults(func=cmd_leaderboard)
    rp = sub.add_parser("report", help="markdown + HTML report with figures from the filed results of a protocol")
    rp.add_argument("--protocol", default="world-v1")
    rp.add_argument("--out", required=True, help="folder for report.md, report.html and the figures")
    rp.add_argument("--results-dir", help="default: leaderboards/results")
    rp.add_argument("--sets", nargs="*", default=[], metavar="NAME=SAMPLESET",
                    help="sample grids to include (default: sets of `augen submit generator:NAME` runs in the cache)")
    rp.set_defaults(func=cmd_report)
    rr = sub.add_parser("reproduce", help="a paper table (reports/paper_tables/<id>.yaml) with our values beside")
    rr.add_argument("table", help="table id or YAML path")
    rr.add_argument("--protocol", default="world-v1")
    rr.add_argument("--results-dir", action="append", help="where results live (default: leaderboards/results, "
                                                           "reports/results)")
    rr.add_argument("--out", help="markdown file")
    rr.set_defaults(func=cmd_reproduce)
    return ap


def cmd_report(args) -> int:
    from bench.report import build_report

    sets = dict(s.split("=", 1) for s in args.sets)
    if not args.sets:  # the sets `augen submit generator:NAME` generated, if they are still in the cache
        from bench.judges.cache import cache_root

        for d in sorted((cache_root() / "runs" / args.protocol).glob("*/set-*/manifest.yaml")):
            sets.setdefault(d.parent.parent.name, str(d.parent))
    md, page = build_report(args.protocol, Path(args.out), sets, args.results_dir and Path(args.results_dir))
    print(f"wrote {md} and {page}")
    return 0


def cmd_reproduce(args) -> int:
    from bench.report import RESULT_ROOTS, reproduce

    text = reproduce(args.table, args.protocol, tuple(Path(p) for p in args.results_dir or RESULT_ROOTS))
    if args.out:
        atomic_write_bytes(args.out, text.encode())
    print(text)
    return 0


def cmd_submit(args) -> int:
    from bench.submit import submit

    if args.name and len(args.source) > 1:
        raise SystemExit("augen submit: --name needs a single source")
    for source in args.source:  # one process for all: imports and the downstream worker pool are paid once
        t0 = time.perf_counter()
        out = submit(source, args.protocol, args.name, args.results_dir and Path(args.results_dir),
                     downstream=not args.no_downstream, replace=args.replace, progress=not args.quiet,
                     options=_options(args.option), workers=args.workers)
        print(f"filed: {out} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


def cmd_leaderboard(args) -> int:
    from bench.leaderboard import build

    md, page = build(args.protocol, args.results_dir and Path(args.results_dir), args.out, args.html,
                     data_root=args.data_root and Path(args.data_root))
    print(md.read_text())
    print(f"wrote {md} and {page}")
    return 0


def cmd_downstream(args) -> int:
    from bench.realdata import score_real_downstream
    from bench.results import format_table, write_results

    res = score_real_downstream(args.sampleset, args.protocol, args.data_root, progress=not args.quiet,
                                device=args.device)
    if args.out:
        write_results(args.out, res)
    print(format_table(res))
    return 0


def cmd_merge(args) -> int:
    from bench import runner

    cfg = runner.RunConfig(args.generator, args.protocol, _options(args.option), args.shard_size, n=args.n)
    proto, conds = runner.conditions_for(cfg)
    folder = Path(args.work) / f"set-{runner.set_key(cfg, proto, conds, runner._generator_version(cfg))}"
    runner.merge(folder, cfg)
    print(f"merged: {folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, FileExistsError, FileNotFoundError, KeyError, ValueError) as e:
        print(f"augen: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
