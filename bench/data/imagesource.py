"""Where `augen import` finds images: a folder (searched recursively) or a tar archive, and how label keys are
matched to them. Everything is checked before anything is read or written:

    folder   image files (.png .jpg .jpeg .webp, any case) under it; symlinks refused by name; hidden entries and
             other files ignored
    tar      every member a regular file or a folder with a relative name inside the archive (no absolute path, no
             `..`, no link, no device), no name twice, at most MAX_MEMBERS members and MAX_TAR_BYTES unpacked;
             image members are then extracted into a work folder and read from there
    match    every label key names an image (a relative path inside the folder, or a stem for stem-keyed formats)
             and every image has a label; a missing or unlabelled image, or a stem two images share, is one
             DataError naming the label file and row or the image
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

from bench.core.archives import checked_tar_members
from bench.core.errors import DataError
from bench.data.safeio import contained_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_MEMBERS = 2_000_000
MAX_TAR_BYTES = 512 * 1024**3


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def list_images(folder: str | os.PathLike) -> list[str]:
    """Sorted relative posix paths of the image files under `folder`."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise DataError(folder, "image folder is missing, not a folder, or a symlink")
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                raise DataError(base / d, "is a symlink inside the image folder; symlinks are refused")
            if d.startswith("."):
                dirnames.remove(d)
        for name in filenames:
            if name.startswith(".") or not _is_image(name):
                continue
            path = base / name
            if path.is_symlink():
                raise DataError(path, "is a symlink inside the image folder; symlinks are refused")
            out.append(path.relative_to(folder).as_posix())
    if not out:
        raise DataError(folder, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(out)


def check_tar(tar_path: str | os.PathLike) -> list[tarfile.TarInfo]:
    """The tar's image members after checking every member (bench.core.archives: nothing escapes, no links, no
    name twice, bounded)."""
    images = [m for m in checked_tar_members(tar_path, MAX_MEMBERS, MAX_TAR_BYTES)
              if m.isfile() and _is_image(m.name) and not any(p.startswith(".") for p in PurePosixPath(m.name).parts)]
    if not images:
        raise DataError(tar_path, f"holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def extract_images(tar_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract the checked image members of a tar into `dest` (created); returns `dest`."""
    dest = Path(dest)
    members = check_tar(tar_path)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "r:*") as tf:
        for m in members:
            key = PurePosixPath(m.name).as_posix().removeprefix("./")
            target = dest / key
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            if src is None:
                raise DataError(tar_path, f"member {m.name!r} cannot be read")
            with src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
    return dest


def match_labels(keys: list[tuple[str, str, int]], images: list[str], folder: str | os.PathLike,
                 by_stem: bool = False) -> list[str]:
    """For label keys [(key, source, row)] the image each names (relative path), in key order; every image must
    be named once. `by_stem` matches a key to the image with that file stem."""
    if by_stem:
        stems: dict[str, str] = {}
        for im in images:
            stem = PurePosixPath(im).stem
            if stem in stems:
                raise DataError(Path(folder) / im, f"shares its stem {stem!r} with {stems[stem]}: stem-keyed labels "
                                                   f"cannot tell them apart")
            stems[stem] = im
        lookup = stems
    else:
        lookup = {im: im for im in images}
    out = []
    for key, source, row in keys:
        if not by_stem:
            contained_path(folder, key, source, row)  # refuses absolute paths, '..' and symlinks
            key = PurePosixPath(key).as_posix().removeprefix("./")
        if key not in lookup:
            raise DataError(source, f"labels {key}, which is not an image in {folder}", row)
        out.append(lookup[key])
    unlabelled = sorted(set(images) - set(out))
    if unlabelled:
        more = f" and {len(unlabelled) - 1} more" if len(unlabelled) > 1 else ""
        raise DataError(Path(folder) / unlabelled[0], f"has no label{more}")
    return out
