"""Where `augen import` finds images: a folder (searched recursively) or a tar archive, what it leaves unread and
why, and how label keys are matched to the images. Everything is checked before anything is read or written:

    images   `open_images`: IMAGES is a folder, a tar archive or one video file (anything else: one DataError
             saying what it must be); one video is read as the only file of its folder
    folder   image files (.png .jpg .jpeg .webp, any case) and videos (bench.data.video.VIDEO_SUFFIXES: .mp4, .mov,
             ...; read frame by frame by the importer) under it; symlinks refused by name; hidden entries ignored;
             every other file is `Unread`: a format we know but do not read (HEIC, AVIF, TIFF, ... : UNSUPPORTED) or
             not an image
    tar      every member a regular file or a folder with a relative name inside the archive (no absolute path, no
             `..`, no link, no device), no name twice, at most MAX_MEMBERS members and MAX_TAR_BYTES unpacked;
             image and video members are then extracted into a work folder and read from there; other members are
             `Unread`
    match    `match_labels`: each label key names an image (a relative path inside the folder, or a stem for
             stem-keyed formats), an unread file, or nothing; images no label names are listed. A key escaping the
             folder, or a stem two images share, is one DataError naming the label file and row or the image
"""

from __future__ import annotations

import os
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bench.core.archives import checked_tar_members
from bench.core.errors import DataError
from bench.data.safeio import contained_path
from bench.data.video import is_video

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
#: formats we know but do not read (suffix -> name): their files are skipped as "unsupported format"
UNSUPPORTED = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL", ".jp2": "JPEG 2000",
               ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".gif": "GIF", ".psd": "PSD", ".svg": "SVG",
               ".dng": "DNG raw", ".cr2": "CR2 raw", ".nef": "NEF raw", ".arw": "ARW raw", ".raw": "raw"}
MAX_MEMBERS = 2_000_000
MAX_TAR_BYTES = 512 * 1024**3
IMAGES_ARE = "IMAGES must be a folder of PNG/JPEG/WebP images (and videos), a tar archive of them, or one video"


@dataclass(frozen=True)
class Unread:
    """A file among the images that is not read, and why."""

    file: str  # relative posix path
    reason: str  # "unsupported format" or "not an image"
    detail: str  # what to do about it
    fmt: str = ""  # the format's name, for an unsupported format


@dataclass
class Matched:
    """Label keys against the files found (`match_labels`)."""

    images: dict[int, str] = field(default_factory=dict)  # label index -> the image it names
    unread: dict[int, Unread] = field(default_factory=dict)  # label index -> the unread file it names
    no_image: list[int] = field(default_factory=list)  # label indices naming no file
    unlabelled: list[str] = field(default_factory=list)  # images no label names, sorted


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def why_unread(rel: str) -> Unread | None:
    """None for a file `augen import` reads (an image or a video), else why it does not."""
    if _is_image(rel) or is_video(rel):
        return None
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix in UNSUPPORTED:
        fmt = UNSUPPORTED[suffix]
        return Unread(rel, "unsupported format", f"{fmt} is not supported (convert to PNG or JPEG)", fmt)
    return Unread(rel, "not an image", f"not an image ({suffix or 'no suffix'}; images are "
                                       f"{', '.join(IMAGE_SUFFIXES)})")


def scan_folder(folder: str | os.PathLike) -> tuple[list[str], list[Unread]]:
    """(sorted relative posix paths of the image and video files under `folder`, the other files and why they are
    unread)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise DataError(folder, "image folder is missing, not a folder, or a symlink")
    images, unread = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                raise DataError(base / d, "is a symlink inside the image folder; symlinks are refused")
            if d.startswith("."):
                dirnames.remove(d)
        for name in filenames:
            if name.startswith("."):
                continue
            path = base / name
            if path.is_symlink():
                raise DataError(path, "is a symlink inside the image folder; symlinks are refused")
            rel = path.relative_to(folder).as_posix()
            why = why_unread(rel)
            if why is None:
                images.append(rel)
            else:
                unread.append(why)
    return sorted(images), sorted(unread, key=lambda u: u.file)


def list_images(folder: str | os.PathLike) -> list[str]:
    """Sorted relative posix paths of the image files under `folder` (DataError when there are none)."""
    images, unread = scan_folder(folder)
    check_some_images(folder, images, unread)
    return images


def check_some_images(where: str | os.PathLike, images: list[str], unread: list[Unread]) -> None:
    """One DataError when `where` holds no image we read, saying what it holds instead."""
    if images:
        return
    if not unread:
        raise DataError(where, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
    formats = Counter(u.fmt for u in unread if u.fmt)
    held = [f"{n} {fmt} file{'s' * (n > 1)}" for fmt, n in sorted(formats.items())]
    if others := sum(1 for u in unread if not u.fmt):
        held.append(f"{others} other file{'s' * (others > 1)} (not images)")
    why = f": {', '.join(sorted(formats))} {'is' if len(formats) == 1 else 'are'} not supported (convert to PNG or " \
          f"JPEG)" if formats else ""
    raise DataError(where, f"holds no PNG, JPEG or WebP image, only {', '.join(held)}{why}")


def check_tar(tar_path: str | os.PathLike) -> tuple[list[tarfile.TarInfo], list[Unread]]:
    """(the tar's image members, its other file members and why they are unread) after checking every member
    (bench.core.archives: nothing escapes, no links, no name twice, bounded)."""
    images, unread = [], []
    for m in checked_tar_members(tar_path, MAX_MEMBERS, MAX_TAR_BYTES):
        if not m.isfile() or any(p.startswith(".") for p in PurePosixPath(m.name).parts if p != "."):
            continue
        why = why_unread(_member_key(m))
        if why is None:
            images.append(m)
        else:
            unread.append(why)
    return images, sorted(unread, key=lambda u: u.file)


def _member_key(m: tarfile.TarInfo) -> str:
    return PurePosixPath(m.name).as_posix().removeprefix("./")


def extract_images(tar_path: str | os.PathLike, dest: str | os.PathLike) -> tuple[Path, list[Unread]]:
    """Extract the checked image members of a tar into `dest` (created); (`dest`, the unread members)."""
    dest = Path(dest)
    members, unread = check_tar(tar_path)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:*") as tf:
        for m in members:
            target = dest / _member_key(m)
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            if src is None:
                raise DataError(tar_path, f"member {m.name!r} cannot be read")
            with src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
    return dest, unread


def open_images(images: str | os.PathLike, work: str | os.PathLike) -> tuple[Path, list[str], list[Unread]]:
    """IMAGES (a folder, a tar extracted into `work`, or one video) -> (the folder to read, its images and videos,
    its unread files); anything else is one DataError saying what IMAGES must be."""
    images = Path(images)
    if not images.exists() and not images.is_symlink():
        raise DataError(images, f"does not exist; {IMAGES_ARE}")
    if images.is_file() and not images.is_symlink() and is_video(images.name):
        return images.parent, [images.name], []
    if images.is_dir() or images.is_symlink():
        folder, unread = images, None
    elif images.is_file() and tarfile.is_tarfile(images):
        folder, unread = extract_images(images, Path(work) / "images")
    else:
        raise DataError(images, f"is not a folder or a tar archive; {IMAGES_ARE}")
    found, unread_here = scan_folder(folder)
    unread = unread_here if unread is None else unread
    check_some_images(images, found, unread)
    return folder, found, unread


def match_labels(keys: list[tuple[str, str, int]], images: list[str], folder: str | os.PathLike,
                 by_stem: bool = False, unread: list[Unread] = ()) -> Matched:
    """Label keys [(key, source, row)] against the images and unread files of `folder`: which each names, which
    name nothing, which images no label names. `by_stem` matches a key to the file with that stem."""
    if by_stem:
        stems: dict[str, str] = {}
        for im in images:
            stem = PurePosixPath(im).stem
            if stem in stems:
                raise DataError(Path(folder) / im, f"shares its stem {stem!r} with {stems[stem]}: stem-keyed labels "
                                                   f"cannot tell them apart")
            stems[stem] = im
        lookup, others = stems, {PurePosixPath(u.file).stem: u for u in unread}
    else:
        lookup, others = {im: im for im in images}, {u.file: u for u in unread}
    out = Matched()
    for i, (key, source, row) in enumerate(keys):
        if not by_stem:
            contained_path(folder, key, source, row)  # refuses absolute paths, '..' and symlinks
            key = PurePosixPath(key).as_posix().removeprefix("./")
        if key in lookup:
            out.images[i] = lookup[key]
        elif key in others:
            out.unread[i] = others[key]
        else:
            out.no_image.append(i)
    out.unlabelled = sorted(set(images) - set(out.images.values()))
    return out
