"""`augen world make|show|probe` (the embedded FACS world) and `augen judges train` (the world judge)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from bench.core.atomic import atomic_write_bytes


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
    buf = io.BytesIO()
    contact_sheet(samples, cols=args.cols).save(buf, format="PNG")
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote contact sheet of {len(samples)} {args.split} faces to {args.out}")
    return 0


def cmd_world_probe(args) -> int:
    """How separable is the world: the judge network on a small budget (weights not kept)."""
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

    from bench.judges.world import (
        SECOND_JUDGE,
        WEIGHTS_DIR,
        WorldJudgeConfig,
        judge_markdown,
        save_world_judge,
        train_world_judge,
    )

    cfg = WorldJudgeConfig()
    if args.epochs:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    if args.second:  # the second world judge: another seed and architecture (selection, judge independence)
        cfg = SECOND_JUDGE
    net, report = train_world_judge(cfg, progress=not args.quiet)
    path = save_world_judge(net, report, Path(args.out or WEIGHTS_DIR))
    if args.report:
        command = "augen judges train" + (" --second" if args.second else "") + (
            f" --epochs {args.epochs}" if args.epochs else "")
        atomic_write_bytes(args.report, judge_markdown(json.loads(path.with_suffix(".json").read_text()),
                                                       command=command).encode())
    print(f"wrote {path} (AU mean F1 {report['au_mean_f1']:.3f}, min {report['au_min_f1']:.3f}; "
          f"expression {report['expression_accuracy']:.3f})")
    return 0


def add_commands(sub) -> None:
    world = sub.add_parser("world", help="the embedded FACS world").add_subparsers(dest="world_cmd", required=True)

    def world_common(p):
        p.add_argument("--split", choices=("train", "val", "test"), default="train",
                       help="world split the faces come from (default: train)")
        p.add_argument("--seed", type=int, default=0, help="world seed")
        p.add_argument("--size", type=int, default=64, help="image side in pixels (32-256)")

    mk = world.add_parser("make", help="write world images + true labels as a SampleSet")
    world_common(mk)
    mk.add_argument("--n", type=int, required=True, help="number of samples (indices 0..n-1)")
    mk.add_argument("--out", required=True, help="SampleSet folder to create")
    mk.add_argument("--shard-size", type=int, default=0, help="write shards of this many images (resumable)")
    mk.add_argument("--workers", type=int, default=1, help="processes writing shards at once")
    mk.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    mk.add_argument("--quiet", action="store_true", help="no progress bar")
    mk.set_defaults(func=cmd_world_make)

    show = world.add_parser("show", help="write a labelled contact sheet PNG of world faces")
    world_common(show)
    show.add_argument("--n", type=int, default=24, help="number of faces (default 24)")
    show.add_argument("--start", type=int, default=0, help="first sample index")
    show.add_argument("--cols", type=int, default=6, help="faces per row of the sheet (default 6)")
    show.add_argument("--out", default="reports/world_contact_sheet.png", help="the PNG to write")
    show.set_defaults(func=cmd_world_show)

    pr = world.add_parser("probe", help="train the judge network on a small budget, report held-out accuracy/F1")
    world_common(pr)
    pr.add_argument("--n-train", type=int, default=16000, help="fresh world-train images per epoch")
    pr.add_argument("--n-test", type=int, default=4000, help="held-out world-test images scored")
    pr.add_argument("--epochs", type=int, default=6, help="training epochs")
    pr.add_argument("--quiet", action="store_true", help="no progress bars")
    pr.add_argument("--out", default="reports/world_difficulty", help="writes OUT.json and OUT.md")
    pr.set_defaults(func=cmd_world_probe)

    judges = sub.add_parser("judges", help="judges that read images").add_subparsers(dest="judges_cmd", required=True)
    jt = judges.add_parser("train", help="train the world judge (deterministic) and save it with its report")
    jt.add_argument("--out", help="weights folder (default: the package's bench/judges/weights)")
    jt.add_argument("--epochs", type=int, default=0, help="override the config's epochs (changes the judge id)")
    jt.add_argument("--second", action="store_true", help="train the second world judge (seed 1, residual "
                    "architecture), which selects generator settings so that the first judge stays independent")
    jt.add_argument("--report", default="reports/world_judge.md", help="markdown ceiling report ('' for none)")
    jt.add_argument("--quiet", action="store_true", help="no progress bars")
    jt.set_defaults(func=cmd_judges_train)
