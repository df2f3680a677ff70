"""`augen generate` (a generator on a protocol's conditions), `augen train` (a reference model), `augen run` (the
resumable, shardable pipeline) and `augen merge` (join a run's shards)."""

from __future__ import annotations

from pathlib import Path

from bench.core.protocol import DEFAULT_PROTOCOL


def cmd_generate(args) -> int:
    from bench.data.conditions import read_condition_file
    from bench.generation.base import get_generator, write_generated
    from bench.generation.options import parse_options
    from bench.scoring.protocols import load_protocol
    from bench.world.conditions import suite_conditions

    proto = load_protocol(args.protocol)
    if args.conditions:
        conds = read_condition_file(args.conditions)[: args.n or None]
    else:
        conds = suite_conditions(proto, args.n)
    gen = get_generator(args.generator, parse_options(args.option), world=proto.world.as_dict())
    write_generated(gen, conds, args.out, protocol=None if args.conditions else proto.id, progress=not args.quiet,
                    overwrite=args.overwrite)
    print(f"wrote {len(conds)} samples of {args.generator} to {args.out}")
    return 0


def cmd_train(args) -> int:
    from bench.core.errors import UsageError
    from bench.core.registry import TRAINERS
    from bench.generation.options import parse_options

    options = parse_options(args.option)
    for key in ("sd15", "data"):  # the sd15 config's inputs travel as options (the trainer checks them)
        if getattr(args, key, None) is not None:
            if args.config != "sd15":
                raise UsageError(f"--{key} is for --config sd15")
            options[key] = args.__dict__[key]
    out = TRAINERS.get(args.model)(args.config, options, progress=not args.quiet)
    print(f"trained {args.model} ({args.config}): {out}")
    return 0


def cmd_run(args) -> int:
    from bench.generation import runner

    return runner.run_from_args(args)


def cmd_merge(args) -> int:
    from bench.generation import runner
    from bench.generation.options import parse_options

    cfg = runner.RunConfig(args.generator, args.protocol, parse_options(args.option), args.shard_size, n=args.n)
    proto, conds = runner.conditions_for(cfg)
    folder = Path(args.work) / f"set-{runner.set_key(cfg, proto, conds, runner.generator_version(cfg))}"
    runner.merge(folder, cfg)
    print(f"merged: {folder}")
    return 0


def add_commands(sub) -> None:
    from bench.generation.runopts import add_arguments

    gen = sub.add_parser("generate", help="run a registered generator on a protocol's conditions -> SampleSet")
    gen.add_argument("generator", help="registered name (controls: real, shuffled, collapsed, noise; see augen list "
                                       "generators)")
    gen.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    gen.add_argument("--n", type=int, default=0, help="first n conditions only (default: all)")
    gen.add_argument("--out", required=True)
    gen.add_argument("--conditions", help="JSON/JSON-lines file of {prompt, intensity: [12 DISFA12 levels]} "
                     "entries (MAUGen's sample format) instead of the protocol's suite")
    gen.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="generator setting, e.g. steps=25 guidance_scale=3 (repeatable)")
    gen.add_argument("--overwrite", action="store_true")
    gen.add_argument("--quiet", action="store_true")
    gen.set_defaults(func=cmd_generate)

    tr = sub.add_parser("train", help="train a reference model: tiny (world train data, CPU) or sd15 (--sd15 FOLDER "
                                        "--data SET, GPU); resumable")
    tr.add_argument("model", help="a registered trainer (augen list trainers: vae, maugen, synfer)")
    tr.add_argument("--config", default="tiny", choices=("tiny", "sd15"))
    tr.add_argument("--sd15", metavar="FOLDER", help="sd15: local diffusers SD-1.5 weights (inpainting for maugen)")
    tr.add_argument("--data", metavar="SET", help="sd15: a labelled face SampleSet to train on (any image size)")
    tr.add_argument("--option", action="append", metavar="KEY=VALUE", help="config field override (changes its key)")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    rn = sub.add_parser("run", help="protocol x generator -> generate, judge, score, downstream -> results.json "
                                    "(resumable, shardable)")
    add_arguments(rn)
    rn.set_defaults(func=cmd_run)

    mg = sub.add_parser("merge", help="join a run's generated shards (after --shard i/N processes)")
    mg.add_argument("generator")
    mg.add_argument("--work", required=True)
    mg.add_argument("--protocol", default=DEFAULT_PROTOCOL)
    mg.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    mg.add_argument("--n", type=int, default=None)
    mg.add_argument("--shard-size", type=int, default=250)
    mg.set_defaults(func=cmd_merge)
