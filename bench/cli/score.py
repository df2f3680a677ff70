"""`augen score` (a SampleSet under a world protocol), `augen table`, `augen validate`, and `augen downstream` (a
SampleSet under a real-data protocol)."""

from __future__ import annotations

from pathlib import Path

from bench.cli.helptext import protocol_help
from bench.core.protocol import DEFAULT_PROTOCOL


def print_au_judge(res: dict, au_readings: str | None) -> None:
    """Say so when an external AU tool's readings replaced the protocol judge's (its scores rank only with sets
    scored by the same readings), or name the proxy that read the AUs (blendshapes)."""
    judge = res.get("au_judge") or {}
    if judge.get("proxy"):
        print(f"AU readings: {judge['id']}, {judge['what']}")
        return
    if judge.get("id") and judge["id"] not in (res.get("judges") or {}):
        source = f"--au-readings {au_readings}" if au_readings else "the protocol's au_readings"
        print(f"AU judge: external readings {judge['id']} ({source}) replaced the protocol judge's AU readings in "
              "the alignment metrics")


def cmd_score(args) -> int:
    from bench.core.errors import UsageError
    from bench.core.results import format_table, write_results, write_samples
    from bench.scoring.protocols import load_protocol
    from bench.scoring.samples import score_with_samples

    proto = load_protocol(args.protocol)
    if proto.kind == "faces":
        return _score_faces(args, proto)
    if proto.kind == "real":
        raise UsageError(f"{proto.id} is a real-data protocol (recognizers trained on the set, tested on a real "
                         f"dataset): use `augen downstream {args.sampleset} --protocol {args.protocol} --data-root "
                         "DIR` (DIR: the dataset's local folder)")
    if args.reference or args.train_set or args.feature_judge or args.data_root or args.downstream_results:
        raise UsageError("--reference, --train-set, --feature-judge, --data-root and --downstream-results belong to "
                         "photograph (kind: faces) protocols")

    out = results_path(args, proto)
    res, samples = score_with_samples(args.sampleset, proto, progress=not args.quiet,
                                      au_readings=args.au_readings, downstream=args.downstream)
    res["samples"] = write_samples(out, samples)  # first, so the results never name a missing table
    write_results(out, res)
    print(format_table(res))
    print_au_judge(res, args.au_readings)
    print_standing(proto, res)
    print(f"results: {out}")
    print(f"per-sample table: {out.parent / res['samples']['file']}")
    return 0


def results_path(args, proto) -> Path:
    """Where `augen score` writes its results (--out, else inside the set), checked writable before any work."""
    from bench.core.errors import check_writable

    out = Path(args.out) if args.out else Path(args.sampleset) / f"results-{proto.id}.json"
    if not args.out:
        check_writable(out, "results (inside the set; give --out FILE to write elsewhere)")
    return out


def print_standing(proto, res: dict, name: str | None = None, filed_dir: Path | None = None) -> None:
    """The headline (or why it is missing) and where the result would rank among the filed ones (the workspace's,
    or `filed_dir`'s), as the board computes them (bench.publish.standing)."""
    from bench.core.paths import find_workspace
    from bench.publish.leaderboard import load_filed
    from bench.publish.standing import standing

    if filed_dir is None and (found := find_workspace()) is not None:
        filed_dir = found[0] / "leaderboards" / "results" / proto.id
    filed = None  # no workspace: nothing to compare with
    if filed_dir is not None:
        filed = load_filed(filed_dir) if filed_dir.is_dir() else []
    for line in standing(proto, name or "(this set)", res, filed):
        print(line)


def _score_faces(args, proto) -> int:
    from bench.core.errors import UsageError
    from bench.core.results import format_table, write_results
    from bench.scoring.score import score

    if not args.reference:
        raise UsageError(f"{args.protocol} scores photographs against a real face set: pass --reference REF (a set "
                         "made by `augen import`)")
    if args.downstream:
        raise UsageError(f"{args.protocol} trains on a real dataset: pass --data-root DIR (or --downstream-results "
                         "FILE) instead of --downstream")
    out = results_path(args, proto)
    res = score(args.sampleset, proto, reference=args.reference, au_readings=args.au_readings,
                progress=not args.quiet, **faces_options(args))
    write_results(out, res)
    print(format_table(res))
    print_au_judge(res, args.au_readings)
    print_standing(proto, res)
    print(f"results: {out}")
    return 0


def cmd_table(args) -> int:
    """Markdown (metrics x entries, one protocol hash) or the tidy CSV of bench.publish.frame (any results)."""
    from bench.core.atomic import atomic_write_text

    if args.format == "csv":
        from bench.publish.frame import frame_csv, results_frame

        text = frame_csv(results_frame(args.results))
    else:
        from bench.core.results import entry_names, load_results, markdown_table

        results = load_results(args.results)
        text = markdown_table(results, entry_names(results, args.results))
    if args.out:
        atomic_write_text(args.out, text)
    print(text, end="" if args.format == "csv" else "\n")
    return 0


def cmd_validate(args) -> int:
    from bench.data.sampleset import validate

    m = validate(args.sampleset)
    print(f"ok: {args.sampleset}: {m.count} images {m.image_size[0]}x{m.image_size[1]}, "
          f"generator {m.generator.get('name')} {m.generator.get('version', '')}".rstrip())
    return 0


def cmd_downstream(args) -> int:
    from bench.core.errors import UsageError
    from bench.core.results import format_table, write_results
    from bench.downstream.distributed import ddp_or_none, is_main
    from bench.scoring.protocols import load_protocol
    from bench.scoring.score import score

    proto = load_protocol(args.protocol)
    if proto.kind != "real":
        raise UsageError(f"{proto.id} is not a real-data protocol (kind: real); score sets under it with "
                         "`augen score`")
    res = score(args.sampleset, proto, data_root=args.data_root, progress=not args.quiet, device=args.device)
    if not is_main(ddp_or_none()):  # under accelerate launch the first process writes and prints
        return 0
    if args.out:
        write_results(args.out, res)
    print(format_table(res))
    return 0


def add_faces_arguments(parser) -> None:
    """What scoring photographs under a faces protocol takes (augen score, augen submit)."""
    parser.add_argument("--reference", help="faces protocols: the real face set (made by `augen import`) scored "
                                            "against")
    parser.add_argument("--train-set", help="faces protocols: the generator's declared training faces "
                                            "(memorization)")
    parser.add_argument("--feature-judge", action="append", default=[], metavar="KIND=WHERE",
                        help="faces protocols: FD also in these local weights' features: inception=FILE.pth, "
                             "dinov2=FOLDER, clip=FOLDER (CLIP adds the CLIP score of each image with its prompt)")
    parser.add_argument("--data-root", help="faces protocols: the dataset of the headline's real-data protocol "
                                            "(faces-v1: AffectNet); recognizers are trained on the set's claimed "
                                            "labels and tested there (the training value)")
    parser.add_argument("--downstream-results", help="faces protocols: that protocol's results for this set instead "
                                                     "(`augen downstream SET --protocol affectnet-v1 --out FILE`)")
    parser.add_argument("--device", default="cpu", help="faces protocols: where the downstream trainings run")


def faces_options(args) -> dict:
    """score()'s faces keyword arguments from the faces arguments (add_faces_arguments)."""
    from bench.scoring.faces import parse_feature_judges

    return {"train": args.train_set, "feature_judges": parse_feature_judges(args.feature_judge),
            "data_root": args.data_root, "downstream_results": args.downstream_results, "device": args.device}


def add_commands(sub) -> None:
    sc = sub.add_parser("score", help="score a SampleSet under a protocol (downstream too with --downstream)")
    sc.add_argument("sampleset", help="the SampleSet folder to score")
    sc.add_argument("--protocol", default=DEFAULT_PROTOCOL,
                    help=protocol_help("a world or faces protocol (real-data ones: augen downstream)"))
    sc.add_argument("--out", help="results JSON (default: SAMPLESET/results-<protocol>.json)")
    sc.add_argument("--au-readings", metavar="KIND:WHERE",
                    help="AU readings of an external tool replace the judge's: libreface:FILE.csv (rows keyed by "
                         "the `file` column; another column: libreface:FILE.csv:KEYCOLUMN) or openface:FOLDER; or "
                         "blendshapes (MediaPipe's blendshapes of the set's own images, an AU proxy; no WHERE)")
    add_faces_arguments(sc)
    sc.add_argument("--downstream", action="store_true",
                    help="also train the protocol's recognizers on the set (minutes; each training cached)")
    sc.add_argument("--quiet", action="store_true", help="no progress bars")
    sc.set_defaults(func=cmd_score)

    tb = sub.add_parser("table", help="results files as a markdown table (one protocol hash) or a tidy CSV")
    tb.add_argument("results", nargs="+", help="results JSON files (csv: folders too)")
    tb.add_argument("--format", choices=("md", "csv"), default="md",
                    help="md: metrics x entries (default); csv: one row per entry, metric and seed (docs/results.md)")
    tb.add_argument("--out", help="also write the table to this file")
    tb.set_defaults(func=cmd_table)

    val = sub.add_parser("validate", help="strictly check a SampleSet (manifest, hashes, every row and image)")
    val.add_argument("sampleset", help="the SampleSet folder to check")
    val.set_defaults(func=cmd_validate)

    dn = sub.add_parser("downstream", help="train recognizers on a SampleSet, test on a local real dataset "
                                           "(real-data protocols: affectnet-v1/v2, rafdb-v1, bp4d-v1, disfa-v1); "
                                           "under `accelerate launch --multi_gpu --num_processes N -m bench.cli "
                                           "downstream ...` each training runs on N processes (DDP)")
    dn.add_argument("sampleset", help="the SampleSet folder whose images and claimed labels train the recognizers")
    dn.add_argument("--protocol", required=True, help=protocol_help("a `kind: real` protocol", None))
    dn.add_argument("--data-root", required=True, help="the dataset's local folder (see the protocol's data:)")
    dn.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (under accelerate launch: each "
                                                    "process's own device)")
    dn.add_argument("--out", help="results JSON (default: print the table only)")
    dn.add_argument("--quiet", action="store_true", help="no progress bars")
    dn.set_defaults(func=cmd_downstream)
