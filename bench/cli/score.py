"""`augen score` (a SampleSet under a world protocol), `augen table`, `augen validate`, and `augen downstream` (a
SampleSet under a real-data protocol)."""

from __future__ import annotations

from pathlib import Path


def cmd_score(args) -> int:
    from bench.core.results import format_table, write_results
    from bench.scoring.score import score_sampleset

    res = score_sampleset(args.sampleset, args.protocol, progress=not args.quiet, au_readings=args.au_readings,
                          downstream=args.downstream)
    out = Path(args.out) if args.out else Path(args.sampleset) / f"results-{res['protocol']['id']}.json"
    write_results(out, res)
    print(format_table(res))
    print(f"results: {out}")
    return 0


def cmd_table(args) -> int:
    from bench.core.atomic import atomic_write_text
    from bench.core.results import load_results, markdown_table

    text = markdown_table(load_results(args.results))
    if args.out:
        atomic_write_text(args.out, text)
    print(text)
    return 0


def cmd_validate(args) -> int:
    from bench.data.sampleset import validate

    m = validate(args.sampleset)
    print(f"ok: {args.sampleset}: {m.count} images {m.image_size[0]}x{m.image_size[1]}, "
          f"generator {m.generator.get('name')} {m.generator.get('version', '')}".rstrip())
    return 0


def cmd_downstream(args) -> int:
    from bench.core.results import format_table, write_results
    from bench.downstream.realdata import score_real_downstream
    from bench.scoring.protocols import load_protocol

    res = score_real_downstream(args.sampleset, load_protocol(args.protocol), args.data_root, progress=not args.quiet,
                                device=args.device)
    if args.out:
        write_results(args.out, res)
    print(format_table(res))
    return 0


def add_commands(sub) -> None:
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

    val = sub.add_parser("validate", help="strictly check a SampleSet (manifest, hashes, every row and image)")
    val.add_argument("sampleset")
    val.set_defaults(func=cmd_validate)

    dn = sub.add_parser("downstream", help="train recognizers on a SampleSet, test on a local real dataset "
                                           "(real-data protocols: affectnet-v1, bp4d-v1)")
    dn.add_argument("sampleset")
    dn.add_argument("--protocol", required=True, help="a `kind: real` protocol")
    dn.add_argument("--data-root", required=True, help="the dataset's local folder (see the protocol's data:)")
    dn.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    dn.add_argument("--out", help="results JSON (default: print the table only)")
    dn.add_argument("--quiet", action="store_true")
    dn.set_defaults(func=cmd_downstream)
