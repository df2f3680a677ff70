"""Video files as frames for `augen import` (bench.generation.importer): each kept frame of a video becomes one row,
named `<video path without its suffix>_f<frame index, 6 digits>` (`frame_name`, e.g. `clips/talk_f000012`).

    VIDEO_SUFFIXES  the files read as videos (any case)
    probe           one pass over a video up to its last kept frame, before anything is written: every problem is one
                    DataError naming the file (not a video, no video stream, no frame, frames over MAX_FRAME_PIXELS
                    read from the header before any decoding, a packet or frame the decoder reports damaged, fewer
                    packets than the container lists: truncated); the kept frames' indices, times and pixel hashes
    read_frames     the kept frames' pixels again (in a shard's worker), each checked against the probe's hash
    parse_frame_name  `talk_f000012` -> ("talk", 12): how a label row names one frame

Which frames: frame i is the i-th frame the decoder puts out in presentation order, counted from 0 (as ffmpeg's
`select=eq(n\\,i)`; OpenFace's `frame` column counts from 1). With `stride` N and `max_frames` M the kept frames are
0, N, 2N, ... and at most M of them (M = 0: no cap); decoding stops after the last one. A variable frame rate changes
nothing in this count: the stride is over frames, not time, and each kept frame's time (s from the first frame, from
its timestamp) is recorded.

Pixels, the same bytes on every run and machine: PyAV (FFmpeg's libraries in the `av` wheel, pinned in
constraints.txt; imported on first use) decodes on one thread (H.264 and the other standard codecs decode
bit-exactly by specification); the YUV -> RGB conversion is swscale's bit-exact C path (`BITEXACT | ACCURATE_RND`,
bilinear with full chroma interpolation: the default SIMD paths may differ between CPUs by a level); a display
rotation (phone videos store portrait frames turned, as photos do with EXIF) is applied by quarter turns. Each kept
frame's sha256 is taken while probing; `read_frames` may seek to the keyframe before a shard's first frame, checks
every frame against its hash and, on any difference, decodes again from the start (a file changed since the probe
is then one DataError).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from bench.core.errors import DataError
from bench.data.safeio import MAX_PHOTO_PIXELS

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
#: a frame larger than this is refused from the stream's header, before decoding (a photo's limit: 8K video is 33 MP)
MAX_FRAME_PIXELS = MAX_PHOTO_PIXELS
FRAME_DIGITS = 6  # zero-padding of the frame index in a row's name (talk_f000012); longer indices are written whole
_FRAME_NAME = re.compile(r"(?P<video>.+)_f(?P<index>\d+)")


@dataclass(frozen=True)
class Frame:
    """One kept frame of a video."""

    video: str  # the video's path relative to the images folder (posix)
    index: int  # its place in presentation order, from 0
    pts: int | None  # its timestamp in the stream's time base (None: the container gives none)
    time: float  # seconds from the video's first frame
    digest: str  # sha256 of its upright RGB pixels

    @property
    def name(self) -> str:
        return frame_name(self.video, self.index)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` found in one video."""

    video: str  # path relative to the images folder (posix)
    width: int  # of the stored frames, before the display rotation
    height: int
    codec: str
    fps: float  # the stream's average frame rate (0: unknown)
    listed: int  # frames the container lists (0: it does not say)
    decoded: int  # frames decoded: all of them, or up to the last kept one
    complete: bool  # decoded to the end of the stream
    rotation: int  # display rotation applied, degrees counter-clockwise
    vfr: bool  # the frame durations differ (a variable frame rate)
    frames: tuple[Frame, ...]  # the kept frames

    def describe(self) -> str:
        """e.g. '72 frames, 640x360 h264 at 30 fps'."""
        count = f"{self.decoded} frames" if self.complete else f"{self.decoded}+ frames (stopped at the cap)"
        rate = "variable frame rate" if self.vfr else f"{self.fps:.4g} fps"
        turn = f", rotated {self.rotation} degrees" if self.rotation else ""
        return f"{count}, {self.width}x{self.height} {self.codec} at {rate}{turn}"


def is_video(rel: str) -> bool:
    return rel.lower().endswith(VIDEO_SUFFIXES)


def frame_name(video: str, index: int) -> str:
    """The row name of frame `index` of `video` (a relative path): its path without the suffix + `_f000012`."""
    return f"{PurePosixPath(video).with_suffix('').as_posix()}_f{index:0{FRAME_DIGITS}d}"


def parse_frame_name(key: str) -> tuple[str, int] | None:
    """`clips/talk_f000012` (or `talk_f12`) -> ('clips/talk', 12); None for any other name."""
    m = _FRAME_NAME.fullmatch(key)
    return (m.group("video"), int(m.group("index"))) if m else None


def decoder_id() -> str:
    """The decoder's versions, for the import plan's hash: other builds may decode other pixels."""
    av = _av()
    return f"pyav-{av.__version__} libavcodec-{'.'.join(map(str, av.library_versions['libavcodec']))}"


def _av():
    import av  # FFmpeg's libraries; pinned in constraints.txt

    return av


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _rgb(frame, av) -> np.ndarray:
    """A decoded frame -> upright (H, W, 3) uint8 RGB, bit-exact (module docstring)."""
    flags = av.video.reformatter.Interpolation
    rgb = frame.to_ndarray(format="rgb24", interpolation=flags.BILINEAR | flags.FULL_CHR_H_INT | flags.ACCURATE_RND
                           | flags.BITEXACT)
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _digest(rgb: np.ndarray) -> str:
    return hashlib.sha256(f"{rgb.shape}".encode() + rgb.tobytes()).hexdigest()


def _open(path: Path, av):
    """(container, its first video stream) or DataError."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"cannot be read as a video ({_reason(e)}): a damaged or truncated file, or not a "
                              f"video") from None
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams}))
        container.close()
        raise DataError(path, f"holds no video frames (no video stream; {f'only {kinds}' if kinds else 'no stream'})")
    stream = container.streams.video[0]
    stream.thread_count = 1  # one decoding thread: the frames' bytes do not depend on it, the cores are shared
    w, h = stream.codec_context.width, stream.codec_context.height
    if w * h > MAX_FRAME_PIXELS:
        container.close()
        raise DataError(path, f"frames are {w}x{h}, over the {MAX_FRAME_PIXELS} pixel limit (refused from the "
                              f"header)")
    return container, stream


def _decoded(path: Path, container, stream, av, whole: bool = True) -> Iterator[tuple[int, object]]:
    """(index, frame) in presentation order; a damaged packet or a decoder error is one DataError naming the frame
    reached. After the last frame of a `whole` stream (not after a seek), fewer packets than the container lists is
    refused as truncated, and no frame at all as empty."""
    index, packets = 0, 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and packet.dts is None:  # the flush packet
                continue
            packets += 1
            if packet.is_corrupt:
                raise DataError(path, f"is damaged or truncated: packet {packets} is incomplete (after {index} "
                                      f"frames)")
            for frame in packet.decode():
                if frame.width * frame.height > MAX_FRAME_PIXELS:
                    raise DataError(path, f"frame {index} is {frame.width}x{frame.height}, over the "
                                          f"{MAX_FRAME_PIXELS} pixel limit")
                yield index, frame
                index += 1
        for frame in stream.decode(None):  # the frames the decoder still holds
            yield index, frame
            index += 1
    except av.FFmpegError as e:
        raise DataError(path, f"is damaged or truncated: decoding stops after {index} frames ({_reason(e)})") \
            from None
    if not whole:
        return
    if stream.frames and packets < stream.frames:
        raise DataError(path, f"is truncated: the container lists {stream.frames} frames, the file holds "
                              f"{packets}")
    if index == 0:
        raise DataError(path, "holds no video frames (a video stream with nothing decodable)")


def probe(folder: str | os.PathLike, video: str, stride: int = 1, max_frames: int = 0) -> VideoInfo:
    """Decode `folder/video` up to its last kept frame (module docstring); every problem is one DataError naming it."""
    if stride < 1 or max_frames < 0:
        raise ValueError(f"stride must be >= 1 and max_frames >= 0, not {stride} and {max_frames}")
    av = _av()
    path = Path(folder) / video
    last = (max_frames - 1) * stride if max_frames else None  # the index of the last frame that can be kept
    kept, times, rotation, complete, decoded = [], [], 0, True, 0
    container, stream = _open(path, av)
    with container:
        first_time = None
        for index, frame in _decoded(path, container, stream, av):
            decoded = index + 1
            t = frame.time
            first_time = t if first_time is None and t is not None else first_time
            times.append(t)
            if index % stride == 0:
                rgb = _rgb(frame, av)
                rotation = (frame.rotation or 0) % 360
                rel = index / float(stream.average_rate) if t is None and stream.average_rate else \
                    (t - first_time if t is not None else 0.0)
                kept.append(Frame(video, index, frame.pts, round(rel, 6), _digest(rgb)))
            if last is not None and index >= last:
                complete = False
                break
        ctx = stream.codec_context
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        info = VideoInfo(video, ctx.width, ctx.height, ctx.name, fps, stream.frames, decoded, complete, rotation,
                         _variable(times), tuple(kept))
    return info


def _variable(times: list[float | None]) -> bool:
    """Frame durations differ by more than 10% of their median (timestamps rounded by a container do not count)."""
    t = np.array([x for x in times if x is not None], float)
    if len(t) < 3:
        return False
    d = np.diff(t)
    return bool(np.ptp(d) > 0.1 * np.median(d))


def read_frames(folder: str | os.PathLike, frames: list[Frame]) -> Iterator[np.ndarray]:
    """The pixels of `frames` (all of one video, in index order), each checked against the probe's hash. Seeks to
    the keyframe before the first when it has a timestamp; any difference falls back to decoding from the start."""
    if not frames:
        return
    path = Path(folder) / frames[0].video
    pts = [f.pts for f in frames]
    seekable = frames[0].index > 0 and None not in pts and len(set(pts)) == len(pts)
    done = 0
    if seekable:
        for rgb in _read_by_pts(path, frames):
            if rgb is None:  # a frame missed or other pixels after the seek: decode from the start instead
                break
            yield rgb
            done += 1
    if done < len(frames):
        yield from _read_by_index(path, frames[done:])


def _read_by_pts(path: Path, frames: list[Frame]) -> Iterator[np.ndarray | None]:
    av = _av()
    container, stream = _open(path, av)
    with container:
        try:
            container.seek(frames[0].pts, backward=True, any_frame=False, stream=stream)
        except av.FFmpegError:
            yield None
            return
        k = 0
        for _, frame in _decoded(path, container, stream, av, whole=False):
            if frame.pts is None or frame.pts < frames[k].pts:
                continue
            if frame.pts > frames[k].pts:  # passed the frame without seeing it
                yield None
                return
            rgb = _rgb(frame, av)
            if _digest(rgb) != frames[k].digest:
                yield None
                return
            yield rgb
            k += 1
            if k == len(frames):
                return
        yield None


def _read_by_index(path: Path, frames: list[Frame]) -> Iterator[np.ndarray]:
    av = _av()
    container, stream = _open(path, av)
    k = 0
    with container:
        for index, frame in _decoded(path, container, stream, av):
            if index < frames[k].index:
                continue
            rgb = _rgb(frame, av)
            if _digest(rgb) != frames[k].digest:
                raise DataError(path, f"frame {index} decodes to other pixels than when the import was planned (the "
                                      f"file changed?); rerun the import")
            yield rgb
            k += 1
            if k == len(frames):
                return
    raise DataError(path, f"has no frame {frames[k].index} any more (the file changed since the import was planned?)")
