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

`write_hostile_videos(folder, frames)` writes, for uint8 RGB `frames` of one size (even sides; H.264 by libx264 from
the `av` wheel, `write_video`):

    talk.mp4               the frames at 25 fps (a good video)
    truncated.mp4          the first half of talk.mp4's bytes (its index, written last, is lost)
    truncated_indexed.mp4  the first half of a copy with its index first (`faststart`): the index lists frames the
                           file no longer holds
    not_a_video.mp4        text with a video's name
    no_frames.mp4          what a muxer writes when no frame was encoded: a valid MP4 with no stream
    huge.mp4               one black 8192 x 8192 frame (over bench.data.video.MAX_FRAME_PIXELS; refused from the header)
    vfr.mp4                the frames at irregular times (VFR_MS: a variable frame rate, as phones record)
    rotated.mp4            the frames stored turned a quarter, with a display rotation of 90 degrees (a phone's
                           portrait video)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

HOSTILE = ("no_face.png", "crowd.jpg", "huge.png", "cmyk.jpg", "grey16.png", "greyscale.jpg", "exif_rotated.jpg",
           "palette.png", "rgba.png", "animated.png", "truncated.jpg", "not_an_image.jpg")
HUGE_SIDE = 20_000
HOSTILE_VIDEOS = ("talk.mp4", "truncated.mp4", "truncated_indexed.mp4", "not_a_video.mp4", "no_frames.mp4", "huge.mp4",
                  "vfr.mp4", "rotated.mp4")
HUGE_VIDEO_SIDE = 8192
VFR_MS = (0, 40, 80, 200, 210, 220, 500, 540, 560, 900, 940, 980)  # vfr.mp4's frame times (ms), cycled after 12


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


def write_video(path: str | Path, frames: Sequence[np.ndarray], times_ms: Sequence[int] | None = None,
                rotation: int = 0, faststart: bool = False) -> Path:
    """H.264 (libx264, yuv420p, one thread) of uint8 RGB `frames` (even sides) at 25 fps, or at `times_ms`; `rotation`:
    the display rotation stored (degrees counter-clockwise); `faststart`: the index before the frames."""
    import av

    path = Path(path)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream("libx264", rate=None if times_ms is not None else 25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"preset": "ultrafast", "threads": "1"}
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts, frame.time_base = (times_ms[i] if times_ms is not None else 40 * i), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_hostile_videos(folder: str | Path, frames: Sequence[np.ndarray]) -> dict[str, Path]:
    """Write the HOSTILE_VIDEOS into `folder` (created); {name: path}."""
    import av

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in HOSTILE_VIDEOS}
    data = write_video(paths["talk.mp4"], frames).read_bytes()
    paths["truncated.mp4"].write_bytes(data[: len(data) // 2])
    indexed = write_video(folder / "indexed.tmp.mp4", frames, faststart=True)
    paths["truncated_indexed.mp4"].write_bytes(indexed.read_bytes()[: indexed.stat().st_size // 2])
    indexed.unlink()
    paths["not_a_video.mp4"].write_text("this is not a video\n")
    with av.open(str(paths["no_frames.mp4"]), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()
    write_video(paths["huge.mp4"], [np.zeros((HUGE_VIDEO_SIDE, HUGE_VIDEO_SIDE, 3), np.uint8)])
    write_video(paths["vfr.mp4"], frames, [VFR_MS[i % len(VFR_MS)] + 1000 * (i // len(VFR_MS))
                                           for i in range(len(frames))])
    write_video(paths["rotated.mp4"], [np.ascontiguousarray(np.rot90(f, -1)) for f in frames], rotation=90)
    return paths
