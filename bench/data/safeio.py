"""Hostile-input helpers: contained paths, bare names, file hashes, guarded image decoding (errors: DataError,
bench.core.errors; atomic writes: bench.core.atomic).

Every reader in `bench.data` funnels user-supplied paths and images through here, so the rules
(no `..`, no absolute paths, no symlinks, no decompression bombs, no partial output) live in one place.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bench.core.errors import DataError
from bench.core.pinned import sha256_file  # noqa: F401  (the one file hash; re-exported for bench.data)

#: Largest image file we agree to open (bytes) and largest decoded size (pixels) when no size is expected.
MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096
#: The same limits for photographs (`read_photo`): a 50-megapixel camera still, not a 20k x 20k bomb.
MAX_PHOTO_BYTES = 64 * 1024 * 1024
MAX_PHOTO_PIXELS = 50_000_000
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")


# ------------------------------------------------------------------------------------------ paths

_BARE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")


def check_bare_name(name: str, where: str | os.PathLike, row: int | None = None) -> str:
    """A single file name with no folder part, no leading dot, portable characters only."""
    if not _BARE_NAME.match(name) or name in (".", ".."):
        raise DataError(where, f"file name {name!r} is not a bare file name (letters, digits, . _ -)", row)
    return name


def contained_path(root: str | os.PathLike, rel: str, where: str | os.PathLike, row: int | None = None) -> Path:
    """Resolve `rel` inside `root`, refusing absolute paths, `..`, backslashes and symlinks on the way.

    `where` and `row` name the place the path came from (a CSV file and its row) for the error.
    """
    if not rel or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel) or "\\" in rel or "\x00" in rel:
        raise DataError(where, f"path {rel!r} is absolute or malformed; paths must be relative to {root}", row)
    parts = Path(rel).parts
    if any(p in ("..", ".") for p in parts):
        raise DataError(where, f"path {rel!r} escapes its folder (contains '..' or '.')", row)
    root = Path(root)
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise DataError(where, f"path {rel!r} goes through a symlink ({current.name}); symlinks are refused", row)
    resolved_root = root.resolve()
    resolved = current.resolve()
    if resolved_root != resolved and resolved_root not in resolved.parents:
        raise DataError(where, f"path {rel!r} resolves outside {root}", row)
    return current


# ----------------------------------------------------------------------------------------- images


def _check_file(path: Path, fail, max_bytes: int) -> None:
    """Exists, is a regular file and no symlink, and is at most `max_bytes` (else `fail(message)` is raised)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise fail("image file is missing") from None
    if path.is_symlink():
        raise fail("image is a symlink; symlinks are refused")
    if not path.is_file():
        raise fail("image is not a regular file")
    if st.st_size > max_bytes:
        raise fail(f"image file is {st.st_size} bytes, over the {max_bytes} byte limit")


@contextlib.contextmanager
def _opened(path: Path, fail, formats: tuple[str, ...], max_pixels: int,
            expected_size: tuple[int, int] | None = None, data: bytes | None = None) -> Iterator[Image.Image]:
    """The one way an image file is opened (from its bytes when `data` is given): format, size and pixel count
    checked from the header before anything is decoded; bombs, corrupt and truncated files (also while the caller
    decodes) become `fail(message)`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path if data is None else io.BytesIO(data)) as im:
                if im.format not in formats:
                    raise fail(f"image format {im.format} is not one of {', '.join(formats)}")
                w, h = im.size
                if expected_size is not None and (h, w) != tuple(expected_size):
                    raise fail(f"image is {h}x{w}, expected {expected_size[0]}x{expected_size[1]}")
                if w * h > max_pixels:
                    raise fail(f"image is {h}x{w}, over the {max_pixels} pixel limit (decompression bomb?)")
                yield im
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise fail(f"decompression bomb refused: over the {max_pixels} pixel limit ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise fail(f"corrupt or truncated image ({str(e).replace(str(path), path.name)})") from None


def read_image_bytes(path: str | os.PathLike, *, where: str | os.PathLike | None = None,
                     row: int | None = None) -> bytes:
    """The bytes of one image file after the checks `read_image` makes before opening it (exists, a regular file,
    no symlink, at most MAX_IMAGE_BYTES): hash them and hand them to `read_image(..., data=...)` from one read."""
    path = Path(path)
    where = path if where is None else where

    def fail(msg: str) -> DataError:
        return DataError(where, f"{path.name}: {msg}", row)

    _check_file(path, fail, MAX_IMAGE_BYTES)
    with open(path, "rb") as f:
        return f.read()


def read_image(
    path: str | os.PathLike,
    expected_size: tuple[int, int] | None = None,
    *,
    where: str | os.PathLike | None = None,
    row: int | None = None,
    require_rgb: bool = True,
    formats: tuple[str, ...] = ("PNG",),
    data: bytes | None = None,
) -> np.ndarray:
    """Decode one image to (H, W, 3) uint8 after checking file size, format, mode and pixel count.

    `expected_size` is (height, width); it is checked from the header *before* decoding, so a
    decompression bomb never gets decoded. Without it the pixel count is capped at MAX_IMAGE_PIXELS.
    With `require_rgb=False`, grayscale/palette/RGBA images are converted to RGB (real datasets).
    `data`: the file's bytes, already read by the caller (decoded from memory; `path` names it in errors).
    """
    path = Path(path)
    where = path if where is None else where

    def fail(msg: str) -> DataError:
        return DataError(where, f"{path.name}: {msg}", row)

    if data is None:
        _check_file(path, fail, MAX_IMAGE_BYTES)
    elif len(data) > MAX_IMAGE_BYTES:
        raise fail(f"image file is {len(data)} bytes, over the {MAX_IMAGE_BYTES} byte limit")
    with _opened(path, fail, formats, MAX_IMAGE_PIXELS, expected_size, data) as im:
        if im.mode != "RGB":
            if require_rgb:
                raise fail(f"image mode is {im.mode}, expected RGB")
            im = im.convert("RGB")
        im.load()
        arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise fail(f"decoded to shape {arr.shape}, expected (H, W, 3)")
    return arr


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Any still PIL image -> 8-bit RGB, noting each conversion: 16/32-bit integer grey scaled (not clipped) to 8
    bits, alpha composited over white, CMYK / palette / greyscale / bilevel converted."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        wide = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or wide.max(initial=0) <= 65535 else float(wide.max())
        notes.append(f"{im.mode} grey scaled to 8 bits")
        im = Image.fromarray(np.clip(np.round(wide * 255.0 / top), 0, 255).astype(np.uint8), "L")
    if im.mode == "F":
        raise ValueError("floating-point pixels (mode F) are not a photograph")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        notes.append("palette converted")
    if im.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("RGB")
        notes.append("alpha composited over white")
    elif im.mode != "RGB":
        notes.append(f"{im.mode} converted to RGB")
        im = im.convert("RGB")
    return im


def read_photo(path: str | os.PathLike, *, where: str | os.PathLike | None = None,
               row: int | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Decode one user photograph (JPEG, PNG, WebP, any size up to MAX_PHOTO_PIXELS) to (H, W, 3) uint8 RGB, upright.

    Returns the pixels and the conversions made (`notes`): EXIF orientation applied, CMYK / greyscale / palette /
    16-bit converted, alpha composited over white. Refused with one DataError naming the file (and `where`/`row`):
    missing, symlink, over MAX_PHOTO_BYTES, another format, over MAX_PHOTO_PIXELS (checked from the header, before
    decoding), animated (more than one frame), truncated or corrupt.
    """
    path = Path(path)

    def fail(msg: str) -> DataError:
        return DataError(path, msg) if where is None else DataError(where, f"{path.name}: {msg}", row)

    _check_file(path, fail, MAX_PHOTO_BYTES)
    notes: list[str] = []
    with _opened(path, fail, PHOTO_FORMATS, MAX_PHOTO_PIXELS) as im:
        if getattr(im, "n_frames", 1) > 1:
            raise fail(f"image is animated ({im.n_frames} frames); give one still image")
        im.load()
        orientation = im.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(im)
        if orientation not in (1, None):
            notes.append(f"EXIF orientation {orientation} applied")
        arr = np.asarray(_to_rgb(upright, notes), dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise fail(f"decoded to shape {arr.shape}, expected (H, W, 3)")
    return arr, tuple(notes)
