"""The SampleSet: the one on-disk format every generator writes and every harness reads.

A SampleSet is a folder::

    manifest.yaml   format, name, generator, protocol, count, image_size, labelled_aus, labels_sha256
    labels.csv      file, AU01..AU26 (intensity 0-5, empty = not labelled), [AUxx_p], expression,
                    prompt, identity, seed, [demographic columns]; rows sorted by file, names unique
    images/         one RGB PNG per row, all of one size

or, for large sets written by several processes, a folder of `shard-00000/`... sub-SampleSets plus a
top-level manifest listing them (written last, so a set without it is incomplete).

The writer is atomic (a set appears complete or not at all); the reader streams rows and images in
O(1) memory and validates strictly: every problem is one `DataError` naming the file and row.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from bench.core.atomic import atomic_dir, atomic_write_text
from bench.core.errors import DataError
from bench.data.aus import AU_COLUMNS, AU_INDEX, AU_P_COLUMNS, AUS, N_AUS, N_EXPRESSIONS
from bench.data.safeio import check_bare_name, read_image, read_image_bytes, sha256_file
from bench.data.setindex import _DIGESTS, Claims, _claims_from, _remember, _stat_key

FORMAT = "augen-sampleset/1"
#: Optional demographic columns and the number of classes each may take (integer codes 0..n-1).
DEMOGRAPHIC_COLUMNS: dict[str, int] = {"skin_tone": 6, "gender": 2, "age_group": 3, "race7": 7, "age9": 9}
BASE_COLUMNS = ("file", *AU_COLUMNS)
TAIL_COLUMNS = ("expression", "prompt", "identity", "seed")
MAX_PROMPT_CHARS = 2000
PNG_COMPRESS_LEVEL = 1  # fast; PNG is lossless at every level


@dataclass
class Sample:
    """One image with the labels a generator (or dataset) claims for it."""

    image: np.ndarray | None  # (H, W, 3) uint8, or None when only labels were read
    intensity: np.ndarray  # (17,) float32 canonical AU intensities 0-5, NaN = not labelled
    expression: int = -1  # AffectNet code 0-7, -1 = not labelled
    prob: np.ndarray | None = None  # (17,) float32 occurrence probabilities 0-1, NaN = not given
    prompt: str = ""  # text the sample was generated from
    identity: str = ""  # identity key ('' = unknown)
    seed: int = -1  # generation seed (-1 = unknown)
    attributes: dict[str, int] = field(default_factory=dict)  # demographic codes, see DEMOGRAPHIC_COLUMNS
    file: str = ""  # file name inside images/ (or a dataset-relative path)
    meta: dict[str, Any] = field(default_factory=dict)  # reader-specific extras, never written


@dataclass(frozen=True)
class Manifest:
    """What manifest.yaml says about a SampleSet (or one shard of it)."""

    name: str  # human name of the set
    generator: dict  # {name, version, config} of what produced the images
    count: int  # number of rows = number of images
    image_size: tuple[int, int]  # (height, width), one size per set
    labels_sha256: str  # sha256 of labels.csv (sharded: of the shard hashes joined by newlines)
    labelled_aus: tuple[int, ...] = AUS  # AUs every row must label (others must be empty)
    expression_labelled: bool = True  # every row must carry an expression code
    protocol: str | None = None  # protocol id the set was generated for
    created: str = ""  # ISO-8601 time of writing (not part of any content hash)
    columns: tuple[str, ...] = ()  # labels.csv header
    shards: tuple[dict, ...] = ()  # [{dir, count, labels_sha256}] for a sharded set
    format: str = FORMAT

    def to_yaml(self) -> str:
        d = dataclasses.asdict(self)
        d["image_size"], d["labelled_aus"] = list(self.image_size), list(self.labelled_aus)
        d["columns"], d["shards"] = list(self.columns), [dict(s) for s in self.shards]
        return yaml.safe_dump(d, sort_keys=False)

    @staticmethod
    def load(path: Path) -> Manifest:
        if not path.is_file():
            raise DataError(path, "manifest.yaml is missing: not a SampleSet (a folder of images and a label file "
                                  "becomes one with `augen import IMAGES --labels FILE --out SET`), or an "
                                  "incomplete one")
        try:
            d = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise DataError(path, f"manifest is not valid YAML ({e})") from None
        if not isinstance(d, dict):
            raise DataError(path, "manifest is not a mapping")
        if d.get("format") != FORMAT:
            raise DataError(path, f"format is {d.get('format')!r}, expected {FORMAT!r}")
        known = {f.name for f in dataclasses.fields(Manifest)}
        if extra := sorted(set(d) - known):
            raise DataError(path, f"unknown manifest keys: {', '.join(extra)}")
        m = Manifest(
            name=_field(d, path, "name", _scalar_text, "the set's name (text)"),
            generator=_field(d, path, "generator", _mapping, "a mapping such as {name: my-gen, version: '1'}"),
            count=_field(d, path, "count", _integer, "an integer (the number of rows)"),
            image_size=_field(d, path, "image_size", _int_pair, "a list [height, width] of integers"),
            labels_sha256=_field(d, path, "labels_sha256", _scalar_text, "the sha256 of labels.csv (hex text)"),
            labelled_aus=_field(d, path, "labelled_aus", _int_list, "a list of AU numbers such as [1, 2, 4]", AUS),
            expression_labelled=_field(d, path, "expression_labelled", _boolean, "true or false", True),
            protocol=_field(d, path, "protocol", _optional_text, "a protocol id or null", None),
            created=str(d.get("created", "") or ""),
            columns=_field(d, path, "columns", _text_list, "a list of labels.csv's column names", ()),
            shards=_field(d, path, "shards", _mapping_list, "a list of {dir, count, labels_sha256} mappings", ()),
        )
        if m.count < 0 or len(m.image_size) != 2 or min(m.image_size) < 8 or max(m.image_size) > 4096:
            raise DataError(path, f"count {m.count} or image_size {m.image_size} out of range")
        if bad := [a for a in m.labelled_aus if a not in AU_INDEX]:
            raise DataError(path, f"labelled_aus names non-canonical AUs {bad}")
        return m


_REQUIRED = object()


def _field(d: dict, path: Path, key: str, convert, want: str, default: Any = _REQUIRED) -> Any:
    """Manifest field `key` converted, or one DataError naming the field, what it holds and what it should be."""
    if default is not _REQUIRED and (key not in d or d[key] is None and default in (None, ())):
        return default
    if key not in d:
        raise DataError(path, f"manifest field {key!r} is missing: give {want}")
    value = convert(d[key])
    if value is None:
        raise DataError(path, f"manifest field {key!r} is {d[key]!r}: give {want}")
    return value


def _scalar_text(v: Any) -> str | None:
    return str(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else None


def _optional_text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _mapping(v: Any) -> dict | None:
    return dict(v) if isinstance(v, dict) else None


def _integer(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, str) and v.strip().isdigit() else None


def _boolean(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _int_list(v: Any) -> tuple[int, ...] | None:
    if not isinstance(v, (list, tuple)):
        return None
    out = [_integer(x) for x in v]
    return None if any(x is None for x in out) else tuple(out)


def _int_pair(v: Any) -> tuple[int, int] | None:
    out = _int_list(v)
    return out if out is not None and len(out) == 2 else None


def _text_list(v: Any) -> tuple[str, ...] | None:
    return tuple(v) if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v) else None


def _mapping_list(v: Any) -> tuple[dict, ...] | None:
    return tuple(dict(x) for x in v) if isinstance(v, (list, tuple)) and all(isinstance(x, dict) for x in v) else None


def header_for(with_prob: bool = False, attributes: Sequence[str] = ()) -> tuple[str, ...]:
    """labels.csv header for a set with/without occurrence probabilities and with these demographic columns."""
    for a in attributes:
        if a not in DEMOGRAPHIC_COLUMNS:
            raise KeyError(f"unknown demographic column {a!r}; known: {', '.join(DEMOGRAPHIC_COLUMNS)}")
    return (*BASE_COLUMNS, *(AU_P_COLUMNS if with_prob else ()), *TAIL_COLUMNS, *attributes)


def _fmt(v: float) -> str:
    """Shortest text that reads back to the same float32 ('4.49', not '4.489999771118164')."""
    return "" if math.isnan(v) else str(np.float32(v))


# ------------------------------------------------------------------------------------------ writer


class SampleSetWriter:
    """Write a SampleSet atomically: use as a context manager, `add` samples, the set appears on exit.

    Images get names `{index:08d}.png` unless a sample carries its own `file`; names must increase.
    On any error (bad label, wrong image size, exception in the block) nothing is left at `root`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        name: str,
        generator: dict,
        image_size: tuple[int, int],
        labelled_aus: Sequence[int] = AUS,
        expression_labelled: bool = True,
        with_prob: bool = False,
        attributes: Sequence[str] = (),
        protocol: str | None = None,
        overwrite: bool = False,
        created: str | None = None,
    ):
        self.root = Path(root)
        self.columns = header_for(with_prob, attributes)
        self.manifest_fields = dict(
            name=name, generator=dict(generator), image_size=tuple(image_size),
            labelled_aus=tuple(labelled_aus), expression_labelled=expression_labelled, protocol=protocol,
            created=created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            columns=self.columns,
        )
        self._labelled = np.zeros(N_AUS, dtype=bool)
        self._labelled[[AU_INDEX[a] for a in labelled_aus]] = True
        self._overwrite = overwrite
        self._count = 0
        self._last_file = ""

    def __enter__(self) -> SampleSetWriter:
        self._ctx = atomic_dir(self.root, overwrite=self._overwrite)
        self._tmp = self._ctx.__enter__()
        (self._tmp / "images").mkdir()
        self._csv_file = open(self._tmp / "labels.csv", "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file, lineterminator="\n")
        self._csv.writerow(self.columns)
        return self

    def add(self, sample: Sample) -> str:
        """Validate and write one sample; returns its file name."""
        where, row = self.root / "labels.csv", self._count + 1
        file = sample.file or f"{self._count:08d}.png"
        check_bare_name(file, where, row)
        if not file.endswith(".png"):
            raise DataError(where, f"file {file!r} must end in .png", row)
        if file <= self._last_file:
            raise DataError(where, f"file {file!r} does not come after {self._last_file!r} (sorted, unique)", row)
        img = np.asarray(sample.image)
        if img.dtype != np.uint8 or img.shape != (*self.manifest_fields["image_size"], 3):
            raise DataError(where, f"{file}: image {img.dtype} {img.shape} is not uint8 "
                                   f"{(*self.manifest_fields['image_size'], 3)}", row)
        values = _encode_row(sample, file, self.columns, self._labelled,
                             self.manifest_fields["expression_labelled"], where, row)
        Image.fromarray(img, "RGB").save(self._tmp / "images" / file, format="PNG",
                                         compress_level=PNG_COMPRESS_LEVEL)
        self._csv.writerow(values)
        self._count += 1
        self._last_file = file
        return file

    def __exit__(self, exc_type, exc, tb) -> None:
        self._csv_file.close()
        if exc_type is None:
            m = Manifest(count=self._count, labels_sha256=sha256_file(self._tmp / "labels.csv"),
                         **self.manifest_fields)
            atomic_write_text(self._tmp / "manifest.yaml", m.to_yaml())
        self._ctx.__exit__(exc_type, exc, tb)


def _encode_row(s: Sample, file: str, columns: tuple[str, ...], labelled: np.ndarray, need_expr: bool,
                where: Path, row: int) -> list[str]:
    inten = np.asarray(s.intensity, dtype=np.float32).reshape(-1)
    if inten.shape != (N_AUS,):
        raise DataError(where, f"{file}: intensity has shape {inten.shape}, expected ({N_AUS},)", row)
    for i, col in enumerate(AU_COLUMNS):
        v = float(inten[i])
        if labelled[i] and math.isnan(v):
            raise DataError(where, f"{file}: {col} is NaN but the set labels it", row)
        if not labelled[i] and not math.isnan(v):
            raise DataError(where, f"{file}: {col} = {v} but the set does not label it", row)
        if not math.isnan(v) and not 0.0 <= v <= 5.0:
            raise DataError(where, f"{file}: {col} = {v} outside 0-5", row)
    out = {"file": file, **{c: _fmt(float(inten[i])) for i, c in enumerate(AU_COLUMNS)}}
    if AU_P_COLUMNS[0] in columns:
        prob = np.full(N_AUS, np.nan, np.float32) if s.prob is None else np.asarray(s.prob, np.float32)
        if prob.shape != (N_AUS,) or np.any((prob < 0) | (prob > 1)):
            raise DataError(where, f"{file}: occurrence probabilities must be ({N_AUS},) in 0-1", row)
        out.update({c: _fmt(float(prob[i])) for i, c in enumerate(AU_P_COLUMNS)})
    if need_expr and not 0 <= s.expression < N_EXPRESSIONS:
        raise DataError(where, f"{file}: expression {s.expression} outside 0-{N_EXPRESSIONS - 1}", row)
    if len(s.prompt) > MAX_PROMPT_CHARS:
        raise DataError(where, f"{file}: prompt longer than {MAX_PROMPT_CHARS} characters", row)
    out.update(expression=str(s.expression) if s.expression >= 0 else "", prompt=s.prompt,
               identity=s.identity, seed=str(s.seed) if s.seed >= 0 else "")
    for key in s.attributes:
        if key not in columns:
            raise DataError(where, f"{file}: attribute {key!r} is not a column of this set", row)
    for col in columns[columns.index("seed") + 1:]:
        v = s.attributes.get(col, -1)
        if v != -1 and not 0 <= v < DEMOGRAPHIC_COLUMNS[col]:
            raise DataError(where, f"{file}: {col} = {v} outside 0-{DEMOGRAPHIC_COLUMNS[col] - 1}", row)
        out[col] = "" if v == -1 else str(int(v))
    return [out[c] for c in columns]


def finalize_shards(root: str | os.PathLike, *, name: str, generator: dict, protocol: str | None = None,
                    created: str | None = None) -> Manifest:
    """Join the complete `shard-*` sub-sets under `root` into one set by writing the top manifest."""
    root = Path(root)
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("shard-"))
    if not dirs:
        raise DataError(root, "no shard-* folders to join")
    shards, first = [], None
    for d in dirs:
        m = Manifest.load(d / "manifest.yaml")
        first = first or m
        if (m.image_size, m.labelled_aus, m.columns) != (first.image_size, first.labelled_aus, first.columns):
            raise DataError(d, "shard disagrees with the first shard on image_size, labelled_aus or columns")
        shards.append({"dir": d.name, "count": m.count, "labels_sha256": m.labels_sha256})
    joined = hashlib.sha256("\n".join(s["labels_sha256"] for s in shards).encode()).hexdigest()
    top = Manifest(name=name, generator=dict(generator), count=sum(s["count"] for s in shards),
                   image_size=first.image_size, labels_sha256=joined, labelled_aus=first.labelled_aus,
                   expression_labelled=first.expression_labelled, protocol=protocol,
                   created=created or first.created, columns=first.columns, shards=tuple(shards))
    atomic_write_text(root / "manifest.yaml", top.to_yaml())
    return top


# ------------------------------------------------------------------------------------------ reader


class SampleSet:
    """Read a SampleSet: manifest checked on open, rows and images streamed and validated.

    `SampleSet(root)` verifies the manifest, the labels.csv hash(es), row counts and the number of
    files in images/; `rows()` yields label-only Samples, iteration yields Samples with images,
    `batches(n)` yields stacked (n, H, W, 3) uint8 arrays with their label arrays.

    An opened set is the object every stage is handed (bench.scoring): what it computes once it keeps, so labels.csv
    is parsed once (`claims()`), every image is read once for its hash (`image_digests()`, `content_hash()`; a
    sharded set's parts share theirs), and `verify_images()` hashes and decodes each image from one read.
    """

    def __init__(self, root: str | os.PathLike, check: bool = True):
        self.root = Path(root)
        if self.root.is_symlink() or not self.root.is_dir():
            raise DataError(self.root, "SampleSet folder is missing, not a folder, or a symlink")
        self._claims: Claims | None = None  # computed once (claims())
        self._digests: list[bytes] | None = None  # sha256 of every image's bytes, row order (image_digests())
        self._content_hash: str | None = None
        self.manifest = Manifest.load(self.root / "manifest.yaml")
        if self.manifest.shards:
            self.parts = [SampleSet(self._shard_dir(s), check=check) for s in self.manifest.shards]
        else:
            self.parts = [self]
        if check:
            self._check()

    def _shard_dir(self, s: dict) -> Path:
        d = str(s.get("dir", ""))
        check_bare_name(d, self.root / "manifest.yaml")
        if not d.startswith("shard-"):
            raise DataError(self.root / "manifest.yaml", f"shard folder {d!r} must be named shard-*")
        path = self.root / d
        if path.is_symlink():
            raise DataError(self.root / "manifest.yaml", f"shard folder {d!r} is a symlink")
        return path

    def _check(self) -> None:
        m, mpath = self.manifest, self.root / "manifest.yaml"
        if m.shards:
            for s, part in zip(m.shards, self.parts):
                if part.manifest.count != s.get("count") or part.manifest.labels_sha256 != s.get("labels_sha256"):
                    raise DataError(mpath, f"shard {s.get('dir')} count/sha256 differ from its own manifest")
                if part.manifest.image_size != m.image_size or part.manifest.labelled_aus != m.labelled_aus:
                    raise DataError(mpath, f"shard {s.get('dir')} image_size/labelled_aus differ from the set's")
            joined = hashlib.sha256("\n".join(s["labels_sha256"] for s in m.shards).encode()).hexdigest()
            if joined != m.labels_sha256:
                raise DataError(mpath, "labels_sha256 does not match the shards' hashes")
            if sum(p.manifest.count for p in self.parts) != m.count:
                raise DataError(mpath, f"count {m.count} is not the sum of the shard counts")
            return
        labels = self.root / "labels.csv"
        if not labels.is_file() or labels.is_symlink():
            raise DataError(labels, "labels.csv is missing (or a symlink)")
        digest = sha256_file(labels)
        if digest != m.labels_sha256:
            raise DataError(mpath, f"labels_sha256 {m.labels_sha256[:12]}... does not match labels.csv "
                                   f"({digest[:12]}...): labels.csv changed after the set was written (this hash seals "
                                   "it); restore the file, or write a new set with the edited labels (photographs: "
                                   "`augen import IMAGES --labels EDITED.csv --out NEW`; generated sets: generate "
                                   "again)")
        n = len(self.claims())
        if n != m.count:
            raise DataError(mpath, f"count is {m.count} but labels.csv has {n} rows")
        images = self.root / "images"
        if images.is_symlink() or not images.is_dir():
            raise DataError(images, "images/ folder is missing (or a symlink)")
        with os.scandir(images) as it:
            n_files = sum(1 for _ in it)
        if n_files != n:
            raise DataError(images, f"holds {n_files} entries but labels.csv lists {n} images")

    def __len__(self) -> int:
        return self.manifest.count

    def claims(self) -> Claims:
        """Every row's file name and claimed labels as arrays (labels.csv parsed and validated on first call)."""
        if self._claims is None:
            if self.manifest.shards:
                self._claims = Claims.join([p.claims() for p in self.parts])
            else:
                self._claims = _claims_from(self._parse_rows(), 0, self.manifest.count)
        return self._claims

    def image_path(self, i: int) -> tuple[Path, Path, int]:
        """(image file, the labels.csv that lists it, its row there) of row i."""
        c = self.claims()
        part = self.parts[int(c.part[i])].root
        return part / "images" / c.files[i], part / "labels.csv", int(c.row[i])

    def image_digests(self) -> list[bytes]:
        """sha256 of every image file's bytes, in row order: each file read once per opened set (a sharded set's
        parts compute theirs, and the set joins them); a PNG of another size is a DataError naming file and row."""
        if self._digests is None:
            if self.manifest.shards:
                self._digests = [d for p in self.parts for d in p.image_digests()]
            else:
                self._digests = [self._known_digest(i) for i in range(len(self.claims()))]
        return self._digests

    def _read(self, i: int) -> bytes:
        path, where, row = self.image_path(i)
        return read_image_bytes(path, where=where, row=row)

    def _digest(self, i: int, data: bytes) -> bytes:
        self._check_png_size(data, i)
        digest = hashlib.sha256(data).digest()
        _remember(self.image_path(i)[0], digest)
        return digest

    def _known_digest(self, i: int) -> bytes:
        """Row i's digest from this process's memo when its file is unchanged since hashed, else read and hashed."""
        try:
            known = _DIGESTS.get(_stat_key(self.image_path(i)[0]))
        except OSError:  # missing or unreadable: _read names it
            known = None
        return known if known is not None else self._digest(i, self._read(i))

    def content_hash(self) -> str:
        """sha256 over the labels hash and every image's bytes, in row order: the key for cached features."""
        if self._content_hash is None:
            h = hashlib.sha256(self.manifest.labels_sha256.encode())
            for file, digest in zip(self.claims().files, self.image_digests()):
                h.update(file.encode() + b"\0" + digest)
            self._content_hash = h.hexdigest()
        return self._content_hash

    def verify_images(self) -> None:
        """Decode and check every image (the strict half of `validate`), each from the one read that also records
        its hash for `content_hash`."""
        if self.manifest.shards:
            for p in self.parts:
                p.verify_images()
            self._digests = None  # joined again from the parts' (now recorded) digests
            return
        digests = []
        for i in range(len(self.claims())):
            data = self._read(i)
            path, where, row = self.image_path(i)
            read_image(path, self.image_size, where=where, row=row, data=data)  # its messages, as validate gave
            digests.append(self._digest(i, data))
        self._digests = digests

    def _check_png_size(self, data: bytes, i: int) -> None:
        """A PNG whose header size is not the set's is one DataError naming the file and row here, in the calling
        process (decoding happens later in loader workers, whose errors reach the user as a long traceback)."""
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
            w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            if (h, w) != tuple(self.image_size):
                path, where, row = self.image_path(i)
                raise DataError(where, f"{path.name}: image is {h}x{w}, the set's image_size is "
                                f"{self.image_size[0]}x{self.image_size[1]} (one size per set)", row)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.manifest.image_size

    # -- rows -----------------------------------------------------------------------------------

    def _parse_rows(self) -> Iterator[Sample]:
        path = self.root / "labels.csv"
        m = self.manifest
        labelled = np.zeros(N_AUS, dtype=bool)
        labelled[[AU_INDEX[a] for a in m.labelled_aus]] = True
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, strict=True)
            try:
                header = tuple(next(reader))
            except StopIteration:
                raise DataError(path, "labels.csv is empty (no header)") from None
            except csv.Error as e:
                raise DataError(path, f"malformed CSV header ({e})") from None
            _check_header(header, path)
            if m.columns and header != m.columns:
                raise DataError(path, "header differs from the manifest's columns")
            last = ""
            row = 0
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except (csv.Error, UnicodeDecodeError) as e:
                    raise DataError(path, f"malformed CSV ({e})", row + 1) from None
                row += 1
                s = _decode_row(values, header, labelled, m.expression_labelled, path, row)
                if s.file <= last:
                    kind = "duplicate file name" if s.file == last else "rows are not sorted by file"
                    raise DataError(path, f"{kind}: {s.file!r} after {last!r}", row)
                last = s.file
                s.meta["row"] = row
                yield s

    def rows(self) -> Iterator[Sample]:
        """Label-only Samples (image None), every row validated, in file order, shard by shard."""
        for part in self.parts:
            for s in part._parse_rows():
                s.meta["dir"] = part.root
                yield s

    def load_image(self, sample: Sample) -> np.ndarray:
        """Decode (and validate) the image of a row produced by `rows()`."""
        root = sample.meta.get("dir", self.root)
        return read_image(Path(root) / "images" / sample.file, self.image_size,
                          where=Path(root) / "labels.csv", row=sample.meta.get("row"))

    def __iter__(self) -> Iterator[Sample]:
        for s in self.rows():
            s.image = self.load_image(s)
            yield s

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Dicts of stacked arrays: image (B,H,W,3) uint8, intensity (B,17), expression (B,), file (B,)."""
        buf: list[Sample] = []
        for s in self:
            buf.append(s)
            if len(buf) == batch_size:
                yield _stack(buf)
                buf = []
        if buf:
            yield _stack(buf)


def _stack(samples: list[Sample]) -> dict[str, np.ndarray]:
    return {
        "image": np.stack([s.image for s in samples]),
        "intensity": np.stack([s.intensity for s in samples]),
        "expression": np.array([s.expression for s in samples], dtype=np.int64),
        "file": np.array([s.file for s in samples]),
    }


def _check_header(header: tuple[str, ...], path: Path) -> None:
    known = set(BASE_COLUMNS) | set(AU_P_COLUMNS) | set(TAIL_COLUMNS) | set(DEMOGRAPHIC_COLUMNS)
    if unknown := [c for c in header if c not in known]:
        raise DataError(path, f"unknown columns: {', '.join(unknown)} (AU columns are AU01..AU26 of the canonical 17)")
    if missing := [c for c in (*BASE_COLUMNS, *TAIL_COLUMNS) if c not in header]:
        raise DataError(path, f"missing columns: {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise DataError(path, "duplicate column names in header")
    has_p = [c in header for c in AU_P_COLUMNS]
    if any(has_p) and not all(has_p):
        raise DataError(path, "occurrence columns AUxx_p must be given for all 17 AUs or none")


def _decode_row(values: list[str], header: tuple[str, ...], labelled: np.ndarray, need_expr: bool,
                path: Path, row: int) -> Sample:
    if len(values) != len(header):
        raise DataError(path, f"has {len(values)} fields, header has {len(header)}", row)
    d = dict(zip(header, values))
    file = check_bare_name(d["file"], path, row)
    if not file.endswith(".png"):
        raise DataError(path, f"file {file!r} must be a .png", row)

    def num(col: str, lo: float, hi: float) -> float:
        text = d[col].strip()
        if text == "" or text.lower() == "nan":
            return math.nan
        try:
            v = float(text)
        except ValueError:
            raise DataError(path, f"{file}: {col} = {text!r} is not a number", row) from None
        if not lo <= v <= hi:  # also refuses inf
            raise DataError(path, f"{file}: {col} = {v} outside {lo:g}-{hi:g}", row)
        return v

    inten = np.array([num(c, 0.0, 5.0) for c in AU_COLUMNS], dtype=np.float32)
    nan = np.isnan(inten)
    if (bad := np.flatnonzero(nan & labelled)).size:
        raise DataError(path, f"{file}: {AU_COLUMNS[bad[0]]} is empty/NaN but the set labels it", row)
    if (bad := np.flatnonzero(~nan & ~labelled)).size:
        raise DataError(path, f"{file}: {AU_COLUMNS[bad[0]]} has a value but the set does not label it", row)
    prob = None
    if AU_P_COLUMNS[0] in d:
        prob = np.array([num(c, 0.0, 1.0) for c in AU_P_COLUMNS], dtype=np.float32)
    expression = _int_field(d["expression"], 0, N_EXPRESSIONS - 1, "expression", file, path, row)
    if need_expr and expression < 0:
        raise DataError(path, f"{file}: expression is empty but the set labels expressions", row)
    seed = _int_field(d["seed"], 0, 2**63 - 1, "seed", file, path, row)
    attributes = {}
    for col, n in DEMOGRAPHIC_COLUMNS.items():
        if col in d and (v := _int_field(d[col], 0, n - 1, col, file, path, row)) >= 0:
            attributes[col] = v
    if len(d["prompt"]) > MAX_PROMPT_CHARS:
        raise DataError(path, f"{file}: prompt longer than {MAX_PROMPT_CHARS} characters", row)
    return Sample(image=None, intensity=inten, expression=expression, prob=prob, prompt=d["prompt"],
                  identity=d["identity"], seed=seed, attributes=attributes, file=file)


def _int_field(text: str, lo: int, hi: int, col: str, file: str, path: Path, row: int) -> int:
    text = text.strip()
    if text == "":
        return -1
    try:
        v = int(text)
    except ValueError:
        raise DataError(path, f"{file}: {col} = {text!r} is not an integer", row) from None
    if not lo <= v <= hi:
        raise DataError(path, f"{file}: {col} = {v} outside {lo}-{hi}", row)
    return v


def validate(root: str | os.PathLike) -> Manifest:
    """Strict full check: manifest, hashes, every row and every image decoded. Returns the manifest."""
    return open_checked(root).manifest


def opened(source: SampleSet | str | os.PathLike) -> SampleSet:
    """`source` itself when it is an opened set, else the set at that folder, opened (and checked) now."""
    return source if isinstance(source, SampleSet) else SampleSet(source)


def open_checked(root: str | os.PathLike) -> SampleSet:
    """The opened set after the strict full check (`validate`), its content hash already known from the same
    reads: hand it on to scoring instead of opening the folder again."""
    ss = SampleSet(root)
    ss.verify_images()
    return ss

