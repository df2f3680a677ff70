"""`augen generate` (a generator on a protocol's conditions), `augen train` (a reference model), `augen run` (the
resumable, shardable pipeline) and `augen merge` (join a run's shards)."""

from __future__ import annotations

from pathlib import Path

from bench.cli.helptext import fill_help, list_options_argument, print_generator_options, protocol_help
from bench.core.protocol import DEFAULT_PROTOCOL


def cmd_generate(args) -> int:
    from bench.core.errors import UsageError

    if args.list_options:
        return print_generator_options(args.generator)
    if not args.out:
        raise UsageError("augen generate needs --out SET (the SampleSet folder to write)")
    from bench.data.conditions import read_condition_file
    from bench.generation.base import check_generator_options, get_generator, write_generated
    from bench.generation.options import parse_options
    from bench.scoring.protocols import load_protocol
    from bench.world.conditions import suite_conditions

    options = parse_options(args.option)
    check_generator_options(args.generator, options)  # a misspelt or mistyped option, before any work
    proto = load_protocol(args.protocol or DEFAULT_PROTOCOL)
    if args.conditions:
        conds = read_condition_file(args.conditions)[: args.n or None]
        if args.protocol:  # both: the file must be that protocol's suite (`augen conditions`), which is then recorded
            check_suite(conds, proto, args.conditions)
    else:
        conds = suite_conditions(proto, args.n)
    gen = get_generator(args.generator, options, world=proto.world.as_dict())
    if args.conditions and hasattr(gen, "check_prompts"):  # words its tokenizer lacks: refused by file and row
        gen.check_prompts(conds, file=args.conditions)
    recorded = proto.id if not args.conditions or args.protocol else None
    write_generated(gen, conds, args.out, protocol=recorded, progress=not args.quiet, overwrite=args.overwrite)
    print(f"wrote {len(conds)} samples of {args.generator} to {args.out}")
    return 0


def check_suite(conds: list, proto, file: str) -> None:
    """`--conditions FILE --protocol P`: FILE must hold P's suite (or its first conditions), as `augen conditions`
    exports it, so the set can record P; anything else is refused with what to do."""
    import numpy as np

    from bench.core.errors import UsageError
    from bench.world.conditions import suite_conditions

    fix = (f"drop --protocol (a set of your own conditions records no protocol) or export the suite with `augen "
           f"conditions --protocol {proto.id} --out FILE.jsonl`")
    if proto.conditions is None:
        raise UsageError(f"{proto.id} asks for no condition suite, so --conditions {file} cannot answer it: drop "
                         "--protocol (a set of your own conditions records no protocol)")
    suite = suite_conditions(proto)
    if len(conds) > len(suite):
        raise UsageError(f"--conditions {file} holds {len(conds)} conditions, {proto.id}'s suite {len(suite)}: {fix}")
    for i, (a, b) in enumerate(zip(conds, suite)):
        if (a.index, a.seed, a.expression) != (b.index, b.seed, b.expression) or not np.array_equal(
                a.aus, b.aus, equal_nan=True):
            raise UsageError(f"--conditions {file} is not {proto.id}'s condition suite (entry {i + 1} differs): {fix}")


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
    from bench.core.errors import UsageError
    from bench.pipeline import runner

    if args.list_options:
        return print_generator_options(args.generator)
    if not args.work:
        raise UsageError("augen run needs --work DIR (the run folder; reused to resume)")

    return runner.run_from_args(args)


def cmd_merge(args) -> int:
    from bench.generation.options import parse_options
    from bench.pipeline import runner

    cfg = runner.RunConfig(args.generator, args.protocol, parse_options(args.option), args.shard_size, n=args.n)
    proto, conds = runner.conditions_for(cfg)
    folder = Path(args.work) / f"set-{runner.set_key(cfg, proto, conds, runner.generator_version(cfg))}"
    runner.merge(folder, cfg)
    print(f"merged: {folder}")
    return 0


def add_commands(sub) -> None:
    from bench.pipeline.runopts import add_arguments

    gen = sub.add_parser("generate", help="run a registered generator on a protocol's conditions -> SampleSet")
    gen.add_argument("generator", help="registered name (controls: real, shuffled, collapsed, noise; see augen list "
                                       "generators)")
    gen.add_argument("--protocol", help=protocol_help("whose conditions to generate", DEFAULT_PROTOCOL) +
                     "; with --conditions, the file must be its suite (`augen conditions`) and the set records it")
    gen.add_argument("--n", type=int, default=0, help="first n conditions only (default: all)")
    gen.add_argument("--out", help="the SampleSet folder to write (required unless --list-options)")
    gen.add_argument("--conditions", help="JSON/JSON-lines file of {prompt, intensity: [12 DISFA12 levels]} "
                     "entries (MAUGen's sample format) instead of the protocol's suite")
    gen.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="generator setting, e.g. steps=25 guidance_scale=3 (repeatable; see --list-options)")
    list_options_argument(gen)
    gen.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    tr = sub.add_parser("train", help="train a reference model: tiny (world train data, CPU) or sd15 (--sd15 FOLDER "
                                        "--data SET, GPU); resumable")
    tr.add_argument("model", help="a registered trainer (augen list trainers: vae, maugen, synfer)")
    tr.add_argument("--config", default="tiny", choices=("tiny", "sd15"),
                    help="tiny: the world-trained model (CPU); sd15: Stable Diffusion 1.5 sized (GPU)")
    tr.add_argument("--sd15", metavar="FOLDER", help="sd15: local diffusers SD-1.5 weights (inpainting for maugen)")
    tr.add_argument("--data", metavar="SET", help="sd15: a labelled face SampleSet to train on (any image size)")
    tr.add_argument("--option", action="append", metavar="KEY=VALUE", help="config field override (changes its key)")
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.set_defaults(func=cmd_train)

    rn = sub.add_parser("run", help="protocol x generator -> generate, judge, score, downstream -> results.json "
                                    "(resumable, shardable)")
    add_arguments(rn)
    list_options_argument(rn)
    fill_help(rn)
    for action in rn._actions:  # --list-options needs no run folder (cmd_run asks for it otherwise)
        if action.dest == "work":
            action.required = False
            action.help += " (required unless --list-options)"
    rn.set_defaults(func=cmd_run)

    mg = sub.add_parser("merge", help="join a run's generated shards (after --shard i/N processes)")
    mg.add_argument("generator", help="the generator the run was made with")
    mg.add_argument("--work", required=True, help="the run folder (as given to augen run)")
    mg.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("the run's protocol"))
    mg.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="the run's generator settings (as given to augen run; they are part of its key)")
    mg.add_argument("--n", type=int, default=None, help="the run's --n (first n conditions)")
    mg.add_argument("--shard-size", type=int, default=250, help="the run's --shard-size (default 250)")
    mg.set_defaults(func=cmd_merge)
