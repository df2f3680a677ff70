"""`augen conditions`: export the condition suite a world protocol asks generators to answer (what sample i must
show: prompt, AU intensities, expression, identity, demographics), so images made outside the benchmark can be
written as a SampleSet that answers it (docs/getting-started.md)."""

from __future__ import annotations

from bench.cli.helptext import protocol_help
from bench.core.protocol import DEFAULT_PROTOCOL


def cmd_conditions(args) -> int:
    from bench.core.errors import UsageError
    from bench.data.conditions import export_conditions
    from bench.scoring.protocols import load_protocol
    from bench.world.conditions import suite_conditions

    proto = load_protocol(args.protocol)
    if proto.conditions is None:
        raise UsageError(f"{proto.id} is a {proto.kind} protocol and asks for no condition suite: world protocols "
                         "do (world-v2); photographs are imported with their own labels (`augen import`)")
    if args.n < 0:
        raise UsageError(f"--n must be >= 0, not {args.n}")
    conds = suite_conditions(proto, args.n or None)
    out = export_conditions(conds, args.out)
    print(f"wrote {len(conds)} conditions of {proto.id} to {out} (sample i answers condition i: "
          f"file {conds[0].index:08d}.png ...)")
    return 0


def add_commands(sub) -> None:
    c = sub.add_parser("conditions", help="export a world protocol's condition suite (what each sample must show)")
    c.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("a world protocol"))
    c.add_argument("--out", required=True, help="FILE.jsonl (read back by `augen generate --conditions`) or FILE.csv")
    c.add_argument("--n", type=int, default=0, help="first n conditions only (default: the whole suite)")
    c.set_defaults(func=cmd_conditions)
