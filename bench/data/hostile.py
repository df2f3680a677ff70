"""Hostile photographs, made on the spot from one real face photo: the inputs every photo reader must handle (used by
tests/test_photo_input.py and the face-judge report, bench/judges/faceapi/parity.py). Nothing here is shipped data.

`write_hostile(folder, face, crowd)` writes, for a uint8 RGB `face` photo (one face) and a `crowd` image (many faces):

    no_face.png        smooth noise, no face
    crowd.jpg          the crowd image as given (the report passes a 30-face mosaic)
    huge.png           a PNG header claiming 20,000 x 20,000 pixels (never decoded: refused from the header)
    cmyk.jpg           the face saved as a CMYK JPEG
    grey16.png         the face as 16-bit greyscale (mode I;16)
    greyscale.jpg      the face as 8-bit greyscale
    exif_rotated.jpg   the face stored rotated by 90 degrees with EXIF orientation 6 (display rotates it back)
    palette.png        the face quantized to a 256-colour palette
    rgba.png           the face with an alpha channel
    animated.png       two frames of the face (APNG)
    truncated.jpg      the first half of the face's JPEG bytes
    not_an_image.jpg   text with an image's name
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

HOSTILE = ("no_face.png", "crowd.jpg", "huge.png", "cmyk.jpg", "grey16.png", "greyscale.jpg", "exif_rotated.jpg",
           "palette.png", "rgba.png", "animated.png", "truncated.jpg", "not_an_image.jpg")
HUGE_SIDE = 20_000


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with one empty data chunk: a decompression bomb's
    signature at 100 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def write_hostile(folder: str | Path, face: np.ndarray, crowd: np.ndarray) -> dict[str, Path]:
    """Write the HOSTILE files into `folder` (created); {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    img = Image.fromarray(face)
    paths = {name: folder / name for name in HOSTILE}
    noise = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).resize((320, 240), Image.Resampling.BICUBIC).save(paths["no_face.png"])
    Image.fromarray(crowd).save(paths["crowd.jpg"], quality=92)
    paths["huge.png"].write_bytes(png_header_only(HUGE_SIDE, HUGE_SIDE))
    img.convert("CMYK").save(paths["cmyk.jpg"], quality=95)
    grey = np.asarray(img.convert("L"), np.uint16) * 257
    Image.fromarray(grey.astype(np.uint16)).save(paths["grey16.png"])  # mode I;16
    img.convert("L").save(paths["greyscale.jpg"], quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored turned 90 degrees counter-clockwise
    img.transpose(Image.Transpose.ROTATE_90).save(paths["exif_rotated.jpg"], quality=95, exif=exif)
    img.quantize(256).save(paths["palette.png"])
    rgba = img.convert("RGBA")
    rgba.putalpha(255)
    rgba.save(paths["rgba.png"])
    img.save(paths["animated.png"], save_all=True, append_images=[img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    buf = BytesIO()
    img.save(buf, format="JPEG", quality=95)
    paths["truncated.jpg"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    paths["not_an_image.jpg"].write_text("this is not a JPEG\n")
    return paths


def face_mosaic(photos: list[np.ndarray], boxes: list[list[tuple[float, float, float, float]]], n: int = 30,
                cols: int = 6, tile: int = 150) -> np.ndarray:
    """A grid of `n` face tiles (uint8 (rows * tile, cols * tile, 3)): each a square 1.6 times a face box (x, y, w,
    h) of `boxes[i]` in `photos[i]`, resized to `tile` px; faces are reused in order when there are fewer than n."""
    crops = []
    for photo, faces in zip(photos, boxes):
        img = Image.fromarray(photo)
        for x, y, w, h in faces:
            cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.6
            box = (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
            crops.append(np.asarray(img.crop(box).resize((tile, tile), Image.Resampling.BILINEAR)))
    if not crops:
        raise ValueError("face_mosaic: no face boxes given")
    crops = [crops[i % len(crops)] for i in range(n)]
    rows = -(-n // cols)
    grid = np.zeros((rows * tile, cols * tile, 3), np.uint8)
    for i, crop in enumerate(crops):
        grid[(i // cols) * tile:(i // cols + 1) * tile, (i % cols) * tile:(i % cols + 1) * tile] = crop
    return grid
