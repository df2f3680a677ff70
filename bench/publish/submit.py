"""Submissions: a SampleSet (folder or tar) or a registered generator, checked, scored and filed for the
leaderboard under `leaderboards/results/<protocol>/<name>.json`.

    augen submit path/to/set            --protocol world-v1 [--name my-gen]
    augen submit path/to/set.tar.gz     --protocol world-v1
    augen submit generator:maugen-tiny  --protocol world-v1    (an `augen.generators` entry point, run by the runner)
    augen submit IMAGES --labels FILE   --protocol faces-v1 --reference REF    (photographs: imported, then scored)

Everything a submitter hands us is hostile until checked (docs/architecture.md, "Errors"). A set must answer the
protocol's condition suite: its manifest names the protocol, it holds exactly the suite's n samples named
`00000000.png`... in order, at the protocol's image size, and passes `validate` (every row and image). A tar
is inspected member by member before anything is extracted (no absolute or `..` paths, no links or devices,
bounded member count and total size) and is extracted into a temporary folder that is always removed.
Any failure raises one `DataError` naming the file (and row) and leaves the results folder untouched; the
result file appears only after scoring succeeds (atomic write). Beside it goes `<name>.samples.csv.gz`, the
per-sample table (bench.scoring.samples; written first, so the results file never names a missing table;
`--replace` replaces both).

One set, one entry: a set whose content hash is already filed under the protocol (any results file in its folder)
is refused before scoring, naming that entry; only `--replace` under that entry's own name rescores it. A name
taken by default from the generator that is a control's (`real`, `shuffled`, ...) is refused for a folder or tar
unless the set is the filed control's own (same content hash): controls are filed by `generator:NAME`, and a set
that merely calls itself `real` needs its own `--name`.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from bench.core.archives import checked_tar_members
from bench.core.errors import AlreadyExists, DataError
from bench.core.paths import PROTOCOLS, cache_root, results_root
from bench.core.protocol import DEFAULT_PROTOCOL, Protocol
from bench.core.results import write_results, write_samples
from bench.data.sampleset import SampleSet, open_checked
from bench.generation.controls import CONTROL_NAMES
from bench.pipeline import runner
from bench.scoring.protocols import load_protocol
from bench.scoring.samples import sample_table, score_with_samples

MAX_TAR_MEMBERS = 200_000  # files in one submitted tar
MAX_TAR_BYTES = 20 * 1024 ** 3  # their total unpacked size
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise DataError(name or "<empty>", "submission name must be 1-64 of [a-z0-9._-], starting with a letter "
                                           "or digit")
    return name


def filed_hashes(folder: Path) -> dict[str, dict]:
    """{entry name: its results' `sampleset` and `reference` content hashes} of every results file in a protocol's
    folder (timing files left out); an unreadable one is a DataError naming it."""
    out = {}
    for p in sorted(Path(folder).glob("*.json")):
        if p.name.endswith(".timing.json"):
            continue
        try:
            r = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(p, f"not a readable results JSON ({e})") from None
        out[p.stem] = {"sampleset": (r.get("sampleset") or {}).get("content_hash"),
                       "reference": (r.get("reference") or {}).get("content_hash")}
    return out


def check_not_filed(folder: Path, content_hash: str, name: str, replace: bool, where: str | Path,
                    reference_hash: str | None = None) -> None:
    """Refuse a set already filed in `folder` (same sampleset content hash; for photographs, against the same
    reference) under another entry, or under this one without `replace`."""
    same = [n for n, h in filed_hashes(folder).items() if h["sampleset"] == content_hash
            and (reference_hash is None or h["reference"] == reference_hash)]
    others = [n for n in same if not (replace and n == name)]
    if others:
        raise AlreadyExists(f"{where}: this set (content hash {content_hash[:12]}) is already filed as "
                            f"'{others[0]}' ({Path(folder) / others[0]}.json); one set is one entry (pass "
                            f"--name {others[0]} --replace to rescore that entry)")


def check_control_name(folder: Path, name: str, content_hash: str, where: str | Path) -> None:
    """A name taken from a submitted set's generator that is a control's: refused unless the set is the filed
    control's own (same content hash); the submitter names it with --name."""
    if name not in CONTROL_NAMES:
        return
    filed = filed_hashes(folder).get(name, {}).get("sampleset")
    if filed != content_hash:
        raise DataError(where, f"its generator is named {name!r}, a control's, but it is not the filed {name} "
                               f"control's set: give it its own name with --name (controls are filed by `augen "
                               f"submit generator:{name}`)")


def check_tar(path: Path) -> list[tarfile.TarInfo]:
    """Every member of a submitted tar, refused before extraction if any is unsafe (bench.core.archives)."""
    return checked_tar_members(path, MAX_TAR_MEMBERS, MAX_TAR_BYTES)


def extract_tar(path: Path, into: Path) -> Path:
    """Extract a checked tar into `into`; returns the SampleSet root (the folder holding manifest.yaml)."""
    check_tar(path)
    try:
        with tarfile.open(path, "r:*") as tf:
            tf.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(path, f"could not be extracted ({e})") from None
    roots = [p.parent for p in into.rglob("manifest.yaml") if not any(q.startswith("shard-") for q in
                                                                      p.relative_to(into).parts[:-1])]
    if len(roots) != 1:
        raise DataError(path, f"must hold exactly one SampleSet (manifest.yaml outside shards); found {len(roots)}")
    return roots[0]


def check_submission(root: Path, proto, where: Path | None = None) -> SampleSet:
    """The set answers `proto`'s condition suite and validates (every row and image, hashed from the same reads);
    returns the opened set, to be scored without opening it again."""
    where = where or root
    ss = open_checked(root)
    m = ss.manifest
    c = proto.conditions
    size = (proto.world.image_size,) * 2
    if m.protocol != proto.id:
        raise DataError(where / "manifest.yaml", f"protocol is {m.protocol!r}; this submission is for {proto.id!r}")
    if tuple(m.image_size) != size:
        raise DataError(where / "manifest.yaml", f"images are {tuple(m.image_size)}; {proto.id} needs {size}")
    if m.count != c.n:
        raise DataError(where / "manifest.yaml", f"holds {m.count} samples; {proto.id} asks for {c.n}")
    start = c.start or 0
    for i, file in enumerate(ss.claims().files):
        if file != f"{start + i:08d}.png":
            raise DataError(where / "labels.csv", f"file {file!r} should be {start + i:08d}.png (sample i answers "
                                                  f"condition {start} + i)", i + 1)
    return ss


def protocol_name(proto: Protocol) -> str:
    """How a run names a parsed protocol: its id when it ships with the package, else its file."""
    return proto.id if proto.path.parent == PROTOCOLS else str(proto.path)


def submit(source: str, protocol: str | Protocol = DEFAULT_PROTOCOL, name: str | None = None,
           results_dir: Path | None = None, downstream: bool = True, replace: bool = False,
           work: Path | None = None, progress: bool = False, options: dict | None = None, workers: int = 1) -> Path:
    """Check, score and file one submission; returns the results file."""
    proto = load_protocol(protocol)
    if proto.kind != "world":
        raise DataError(proto.path, f"submissions are scored under world protocols; {proto.id} is {proto.kind}-data "
                                    "(use augen downstream)")
    results_dir = Path(results_dir or results_root()) / proto.id
    if source.startswith("generator:"):
        gen = source.split(":", 1)[1]
        name = check_name(name or gen)
        out = results_dir / f"{name}.json"
        if out.exists() and not replace:
            raise AlreadyExists(f"{out} exists (pass --replace to rescore)")
        work = Path(work or cache_root() / "runs" / proto.id / name)  # resumable like any run
        cfg = runner.RunConfig(gen, protocol if isinstance(protocol, str) else protocol_name(proto),
                               options=dict(options or {}), downstream=downstream)
        merged: list[SampleSet] = []

        def check(ss: SampleSet) -> None:  # before scoring
            merged.append(ss)
            check_not_filed(results_dir, ss.content_hash(), name, replace, source)

        ran = runner.run(cfg, work, progress=progress, workers=workers, check=check, proto=proto)
        res = json.loads(ran.read_text())
        res["submission"] = {"name": name, "source": "generator"}
        table = sample_table(merged[0] if merged else ran.parent / res["sampleset"]["folder"], proto)
        res["samples"] = write_samples(out, table)
        write_results(out, res)
        return out
    src = Path(source)
    if not src.exists():
        raise DataError(src, "no such submission (a SampleSet folder, a .tar/.tar.gz of one, or generator:NAME)")
    tmp = Path(tempfile.mkdtemp(prefix="augen-submit-"))
    try:
        if src.is_file():
            root = extract_tar(src, tmp)
        elif src.is_symlink():
            raise DataError(src, "is a symlink; submit the folder itself")
        else:
            root = src
        where = src if src.is_dir() else root
        ss = check_submission(root, proto, where)
        m, content = ss.manifest, ss.content_hash()
        if name is None:
            name = check_name(str(m.generator.get("name", "")).lower())
            check_control_name(results_dir, name, content, src / "manifest.yaml" if src.is_dir() else src)
        name = check_name(name)
        out = results_dir / f"{name}.json"
        if out.exists() and not replace:
            raise AlreadyExists(f"{out} exists (pass --replace to rescore)")
        check_not_filed(results_dir, content, name, replace, src)
        res, samples = score_with_samples(ss, proto, progress=progress, downstream=downstream)
        res["submission"] = {"name": name, "source": "sampleset"}
        res["samples"] = write_samples(out, samples)
        write_results(out, res)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def submit_photographs(images: str | Path, labels: str | Path, protocol: str | Protocol, reference: str | Path, *,
                       name: str | None = None, results_dir: Path | None = None, train: str | Path | None = None,
                       replace: bool = False, progress: bool = False, workers: int = 1,
                       work: Path | None = None, **faces) -> Path:
    """A generator's photographs (folder or tar) with the labels it claims: imported (`augen import`, every input
    checked before anything is written; resumable under the cache), scored under a `kind: faces` protocol against
    `reference` and filed as `<results_dir>/<protocol>/<name>.json`; `faces` are score()'s faces options
    (feature_judges, data_root, downstream_results, device)."""
    from bench.generation.importer import ImportConfig, import_images
    from bench.scoring.score import score

    proto = load_protocol(protocol)
    if proto.kind != "faces":
        raise DataError(proto.path, f"photographs are scored under faces protocols; {proto.id} is {proto.kind}")
    images = Path(images)
    name = check_name(name or images.name.split(".")[0].lower())
    out = Path(results_dir or results_root()) / proto.id / f"{name}.json"
    if out.exists() and not replace:
        raise AlreadyExists(f"{out} exists (pass --replace to rescore)")
    root = Path(work or cache_root() / "imports" / proto.id / name)
    import_images(images, labels, root, ImportConfig(generator=name), workers=workers, progress=progress,
                  overwrite=True)
    ss, ref = SampleSet(root), SampleSet(reference)  # opened once: their hashes serve the check and the score
    check_not_filed(out.parent, ss.content_hash(), name, replace, images, ref.content_hash())  # one per reference
    res = score(ss, proto, reference=ref, train=train, progress=progress, **faces)
    res["submission"] = {"name": name, "source": "photographs", "labels": Path(labels).name}
    write_results(out, res)
    return out
