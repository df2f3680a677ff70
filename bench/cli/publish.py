"""`augen submit`, `augen leaderboard`, `augen report` and `augen reproduce` (paper tables)."""

from __future__ import annotations

import time
from pathlib import Path

from bench.cli.helptext import list_options_argument, paper_tables, print_generator_options, protocol_help
from bench.cli.score import add_faces_arguments
from bench.core.protocol import DEFAULT_PROTOCOL


def cmd_submit(args) -> int:
    from bench.core.errors import UsageError

    if args.list_options:
        names = [s.partition(":")[2] for s in args.source if s.startswith("generator:")]
        if len(names) != 1 or len(args.source) != 1:
            raise UsageError("--list-options lists one generator's options: augen submit generator:NAME "
                             "--list-options")
        return print_generator_options(names[0])
    from bench.generation.options import parse_options
    from bench.publish.submit import submit
    from bench.scoring.protocols import load_protocol

    proto = load_protocol(args.protocol)  # parsed once, passed on
    if args.name and len(args.source) > 1:
        raise UsageError("augen submit: --name needs a single source")
    if args.labels or args.reference:  # photographs: import, then score under a faces protocol
        from bench.cli.score import faces_options
        from bench.publish.submit import submit_photographs

        if len(args.source) != 1 or not (args.labels and args.reference):
            raise UsageError("augen submit IMAGES --labels FILE --reference REF: one image folder or tar, its labels "
                             "and the real face set to score against")
        t0 = time.perf_counter()
        out = submit_photographs(args.source[0], args.labels, proto, args.reference, name=args.name,
                                 results_dir=args.results_dir and Path(args.results_dir), replace=args.replace,
                                 progress=not args.quiet, workers=args.workers, **faces_options(args))
        print(f"filed: {out} ({time.perf_counter() - t0:.0f} s)", flush=True)
        _standing(out, proto)
        return 0
    for source in args.source:  # one process for all: imports and the downstream worker pool are paid once
        t0 = time.perf_counter()
        out = submit(source, proto, args.name, args.results_dir and Path(args.results_dir),
                     downstream=not args.no_downstream, replace=args.replace, progress=not args.quiet,
                     options=parse_options(args.option), workers=args.workers)
        print(f"filed: {out} ({time.perf_counter() - t0:.0f} s)", flush=True)
        _standing(out, proto)
    return 0


def _standing(out: Path, proto) -> None:
    """Say the filed result's headline and rank among the results filed beside it (bench.publish.standing)."""
    import json

    from bench.cli.score import print_standing

    res = json.loads(Path(out).read_text())
    print_standing(proto, res, name=Path(out).stem, filed_dir=Path(out).parent)


def cmd_leaderboard(args) -> int:
    from bench.publish.leaderboard import build
    from bench.scoring.protocols import load_protocol

    proto = load_protocol(args.protocol)
    if proto.kind == "faces":  # photographs: one table per reference set, markdown only
        from bench.publish import facesboard
        from bench.publish.leaderboard import load_filed

        results = args.results_dir and Path(args.results_dir)
        md, page = facesboard.build(proto, load_filed(facesboard.default_folder(proto, results)),
                                    args.out and Path(args.out)), None
    else:
        md, page = build(args.protocol, args.results_dir and Path(args.results_dir), args.out, args.html,
                         data_root=args.data_root and Path(args.data_root))
    print(md.read_text())
    print(f"wrote {md}" + (f" and {page}" if page else ""))
    return 0


def cmd_report(args) -> int:
    from bench.core.errors import UsageError
    from bench.publish.report import build_report

    bad = [s for s in args.sets if "=" not in s]
    if bad:
        raise UsageError(f"--sets wants NAME=SAMPLESET, got {bad[0]!r}")
    sets = dict(s.split("=", 1) for s in args.sets) if args.sets else None  # None: the filed entries' own sets
    from bench.scoring.protocols import load_protocol

    results = args.results_dir and Path(args.results_dir)
    if load_protocol(args.protocol).kind == "faces":  # photographs: one section per reference set
        from bench.publish.facesreport import build_faces_report

        md, page = build_faces_report(load_protocol(args.protocol), Path(args.out), sets or {}, results)
    else:
        md, page = build_report(args.protocol, Path(args.out), sets, results,
                                data_root=args.data_root and Path(args.data_root))
    print(f"wrote {md} and {page}")
    return 0


def list_paper_tables() -> str:
    """`augen reproduce --list`: each paper table's id and title."""
    import yaml

    from bench.core.paths import PAPER_TABLES

    lines = []
    for name in paper_tables():
        title = (yaml.safe_load((PAPER_TABLES / f"{name}.yaml").read_text()) or {}).get("title", "")
        title = title.replace("{data}", "the protocol's").replace("{paper_data}", "the paper's")
        lines.append(f"{name:<22} {title}".rstrip())
    return "\n".join(lines)


def cmd_reproduce(args) -> int:
    from bench.core.atomic import atomic_write_text
    from bench.core.errors import UsageError

    if args.list:
        print(list_paper_tables())
        return 0
    if not args.table:
        raise UsageError(f"augen reproduce needs a table id ({', '.join(paper_tables())}) or a YAML path; "
                         "--list shows their titles")
    from bench.publish.papers import reproduce

    text = reproduce(args.table, args.protocol, tuple(Path(p) for p in args.results_dir) if args.results_dir else None)
    if args.out:
        atomic_write_text(args.out, text)
    print(text)
    return 0


def add_commands(sub) -> None:
    su = sub.add_parser("submit", help="check, score and file a submission (SampleSet folder/tar, or "
                                       "generator:NAME) under leaderboards/results/<protocol>/")
    su.add_argument("source", nargs="+", help="SampleSet folder, .tar/.tar.gz of one, or generator:NAME (entry "
                                              "point); several are scored in turn, stopping at the first error")
    su.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("the protocol to score under"))
    su.add_argument("--name", help="leaderboard name (default: the generator's name)")
    su.add_argument("--results-dir", help="default: leaderboards/results under the workspace (AUGEN_HOME, else the "
                                          "nearest folder holding leaderboards/ from here upward)")
    su.add_argument("--no-downstream", action="store_true",
                    help="skip the protocol's downstream family (recognizers trained on the set)")
    su.add_argument("--replace", action="store_true", help="rescore an existing entry")
    su.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="generator setting for generator:NAME (repeatable; see --list-options)")
    list_options_argument(su)
    su.add_argument("--workers", type=int, default=1, help="generation processes for generator:NAME (see augen "
                                                          "run --workers)")
    su.add_argument("--labels", help="photographs: the labels the generator claims (any `augen import` format)")
    add_faces_arguments(su)
    su.add_argument("--quiet", action="store_true", help="no progress bars")
    su.set_defaults(func=cmd_submit)

    lb = sub.add_parser("leaderboard", help="rank the filed results of one protocol hash -> LEADERBOARD.md + HTML")
    lb.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("whose filed results to rank"))
    lb.add_argument("--results-dir", help="default: leaderboards/results under the workspace")
    lb.add_argument("--out", help="markdown (default: leaderboards/LEADERBOARD.md)")
    lb.add_argument("--html", help="HTML page (default: leaderboards/index.html)")
    lb.add_argument("--data-root", help="real-data protocols: the dataset folder (its label files are hashed)")
    lb.set_defaults(func=cmd_leaderboard)

    rp = sub.add_parser("report", help="markdown + HTML report with figures from the filed results of a protocol")
    rp.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("whose filed results to report"))
    rp.add_argument("--out", required=True, help="folder for report.md, report.html and the figures")
    rp.add_argument("--results-dir", help="default: leaderboards/results under the workspace")
    rp.add_argument("--data-root", help="real-data protocols: the dataset folder (its label files are hashed)")
    rp.add_argument("--sets", nargs="*", default=[], metavar="NAME=SAMPLESET",
                    help="sample grids to include (default: each filed entry's own set, matched by content hash, "
                         "where `augen submit generator:NAME` left it in the run cache)")
    rp.set_defaults(func=cmd_report)

    rr = sub.add_parser("reproduce", help="a paper table (bench/publish/paper_tables/<id>.yaml) with our values "
                                          "beside")
    rr.add_argument("table", nargs="?", help=f"table id ({', '.join(paper_tables())}) or YAML path")
    rr.add_argument("--list", action="store_true", help="list the paper tables (id and title) and stop")
    rr.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=protocol_help("whose results stand beside"))
    rr.add_argument("--results-dir", action="append", help="where results live (default: leaderboards/results, "
                                                           "reports/results under the workspace)")
    rr.add_argument("--out", help="markdown file")
    rr.set_defaults(func=cmd_reproduce)
