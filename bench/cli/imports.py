"""`augen import IMAGES --labels FILE --out SET`: a generator's photographs (or videos, frame by frame) and claimed
labels -> an aligned SampleSet (bench.generation.importer); `augen import-disfa DISFA --out SET`: DISFA the same way,
for training (bench.generation.disfa)."""

from __future__ import annotations

import sys

from bench.generation.importer import FACE_POLICIES, ImportConfig, import_images, summary


def cmd_import(args) -> int:
    cfg = ImportConfig(size=args.size, faces=args.faces, min_confidence=args.min_confidence,
                       shard_size=args.shard_size, fmt=args.format, name=args.name or "",
                       generator=args.generator, frame_stride=args.frame_stride, max_frames=args.max_frames,
                       face_check=args.face_check)
    stats = import_images(args.images, args.labels, args.out, cfg, workers=args.workers, progress=not args.quiet,
                          overwrite=args.overwrite, log=lambda line: print(line, file=sys.stderr))
    print(summary(args.out, stats))
    return 0


def cmd_import_disfa(args) -> int:
    from bench.generation.disfa import import_disfa, subjects_option

    cfg = ImportConfig(size=args.size, shard_size=args.shard_size, name=args.name or "", frame_stride=args.frame_stride,
                       max_frames=args.max_frames, face_check=args.face_check)
    stats = import_disfa(args.disfa, args.out, labels=args.labels, images=args.images,
                         subjects=subjects_option(args.fold, args.part, args.subjects), cfg=cfg, workers=args.workers,
                         progress=not args.quiet, overwrite=args.overwrite,
                         log=lambda line: print(line, file=sys.stderr))
    print(summary(args.out, stats))
    kept = {s: d["kept"] for s, d in stats["disfa"]["subjects"].items()}
    print(f"DISFA frames labelled and sent to the import, per subject: {kept}; captions: "
          f"{stats['disfa']['caption_rule']}")
    return 0


def cmd_head_regions(args) -> int:
    from bench.data.sampleset import SampleSet
    from bench.judges.faceapi.headregions import faceapi_head_regions

    ss = SampleSet(args.set)
    polys = faceapi_head_regions(ss, progress=not args.quiet)
    print(f"{args.set}: head regions of {len(polys)} faces written (head_regions.npy, head_regions.json)")
    return 0


def _writing_arguments(parser, unit: str) -> None:
    """How an import writes its set, the same for `import` and `import-disfa`: shards, workers, name, overwrite."""
    parser.add_argument("--shard-size", type=int, default=ImportConfig.shard_size,
                        help=f"{unit} per shard: the unit of resuming and of --workers")
    parser.add_argument("--workers", type=int, default=1, help="processes writing shards")
    parser.add_argument("--name", help="the set's name (default: the output folder's name)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_commands(sub) -> None:
    im = sub.add_parser("import", help="images or videos (folder, tar or one video) + claimed labels -> an aligned "
                                       "SampleSet of faces")
    im.add_argument("images", help="a folder of PNG/JPEG/WebP images and videos (.mp4, .mov, .mkv, .webm, ...; "
                                   "searched recursively), a tar of them, or one video; other files are skipped and "
                                   "listed in the set's import_log.csv")
    im.add_argument("--labels", required=True, help="the claimed labels: a SampleSet CSV, MAUGen JSON records, a "
                                                    "SynFER-style CSV, AffectNet's CSV, a LibreFace CSV or an "
                                                    "OpenFace folder")
    im.add_argument("--out", required=True, help="the SampleSet folder to write (appears complete or not at all)")
    im.add_argument("--format", default="auto",
                    choices=("auto", "sampleset", "maugen", "synfer", "affectnet", "libreface", "openface"),
                    help="the --labels format (default auto: recognised from the file)")
    im.add_argument("--size", type=int, default=ImportConfig.size, help="aligned crop side in px (default 256)")
    im.add_argument("--faces", choices=FACE_POLICIES, default=ImportConfig.faces,
                    help="an image with several faces: keep the largest (default), skip it, or fail; an image "
                         "with no face is skipped (fail: an error)")
    im.add_argument("--min-confidence", type=float, default=ImportConfig.min_confidence,
                    help=f"face detections below this score are not faces (default {ImportConfig.min_confidence})")
    im.add_argument("--no-face-check", dest="face_check", action="store_false",
                    help="keep every face face-api's detector finds; by default a face whose aligned crop holds no "
                         "face for MediaPipe's Face Landmarker is skipped as 'not a face'")
    im.add_argument("--frame-stride", type=int, default=ImportConfig.frame_stride, metavar="N",
                    help="videos: keep frames 0, N, 2N, ... (default 1: every frame); a frame is a row named "
                         "<video>_f<index>, labelled by its own label row or else by the video's")
    im.add_argument("--max-frames", type=int, default=ImportConfig.max_frames, metavar="M",
                    help="videos: keep at most M frames of each (default 0: no cap); decoding stops there")
    im.add_argument("--generator", default=ImportConfig.generator, help="the generator name to record")
    _writing_arguments(im, "images")
    im.set_defaults(func=cmd_import)

    d = sub.add_parser("import-disfa", help="DISFA's videos (or extracted frames) and AU intensity files -> an "
                                            "aligned SampleSet for training (12 AUs, captions, a subject split)")
    d.add_argument("disfa", help="DISFA's folder (holding ActionUnit_Labels/ and Videos_LeftCamera/)")
    d.add_argument("--out", required=True, help="the SampleSet folder to write")
    d.add_argument("--labels", help="the AU label folder (SNxxx/SNxxx_au{k}.txt; default DISFA/ActionUnit_Labels)")
    d.add_argument("--images", help="the videos (LeftVideoSNxxx_comp.avi, ...) or extracted frames (SNxxx/0.png, "
                                    "counted from 0); default DISFA/Videos_LeftCamera")
    d.add_argument("--fold", type=int, choices=(1, 2, 3),
                   help="a subject-exclusive fold (the three parts ME-GraphAU lists; docs/sources.md)")
    d.add_argument("--part", choices=("train", "test"), help="the fold's side: train (18 subjects) or test (9)")
    d.add_argument("--subjects", help="comma-separated subject ids instead of a fold (default: every subject)")
    d.add_argument("--frame-stride", type=int, default=1, metavar="N",
                   help="keep DISFA frames 1, 1+N, 1+2N, ... of each subject (default 1: all 4845)")
    d.add_argument("--max-frames", type=int, default=0, metavar="M", help="at most M frames per subject (0: no cap)")
    d.add_argument("--size", type=int, default=ImportConfig.size, help="aligned crop side in px (default 256)")
    d.add_argument("--no-face-check", dest="face_check", action="store_false",
                   help="keep every face face-api finds (default: MediaPipe must find a face in the crop too)")
    _writing_arguments(d, "frames")
    d.set_defaults(func=cmd_import_disfa)

    h = sub.add_parser("head-regions", help="write every face's head outline (face-api's 68 landmarks) into a "
                                            "SampleSet: the inpainting regions of `augen train maugen --config sd15`")
    h.add_argument("set", help="the SampleSet folder (its faces already cropped: imported or generated)")
    h.add_argument("--quiet", action="store_true", help="no progress bar")
    h.set_defaults(func=cmd_head_regions)
