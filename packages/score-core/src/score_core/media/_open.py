"""Opening media files with PyAV and turning its exceptions into one-line ScoreErrors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import av.container
from av.video.stream import VideoStream

from score_core.errors import ScoreError

#: The exceptions PyAV raises for unreadable, corrupt or unsupported input.
AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError, EOFError)


def short_reason(exc: BaseException) -> str:
    """A short, lower-case, path-free reason from a PyAV or OS exception."""
    reason = str(getattr(exc, "strerror", None) or exc).strip()
    reason = reason.splitlines()[0].strip().rstrip(".") if reason else type(exc).__name__
    if len(reason) > 80:
        reason = reason[:77] + "..."
    return reason[:1].lower() + reason[1:]


def literal(path: str | Path) -> str:
    """``path`` as FFmpeg must be given it to open that file: absolute, so that a name such as ``file:x.mp4``
    or ``http:clip.mp4`` is never read as a URL."""
    return os.path.abspath(path)


def check_readable_file(path: str | Path) -> Path:
    """Return `path` as a Path, or raise ScoreError if it is missing, a directory or unreadable."""
    file = Path(path)
    if not file.exists():
        raise ScoreError(str(path), "no such file")
    if file.is_dir():
        raise ScoreError(str(path), "is a directory, not a video file")
    if not os.access(file, os.R_OK):
        raise ScoreError(str(path), "permission denied")
    if file.stat().st_size == 0:
        raise ScoreError(str(path), "is an empty file")
    return file


@contextmanager
def open_video(path: str | Path) -> Iterator[tuple[av.container.InputContainer, VideoStream]]:
    """Open `path` for reading and yield (container, first video stream); closes the container on exit."""
    file = check_readable_file(path)
    try:
        container = av.open(literal(file), mode="r")
    except av.EOFError:
        raise ScoreError(str(path), "corrupt or truncated: the file ends inside its header") from None
    except AV_ERRORS as exc:
        raise ScoreError(str(path), f"not a video file ({short_reason(exc)})") from None
    try:
        if not container.streams.video:
            if container.streams.audio:
                raise ScoreError(str(path), "has no video stream (audio only)")
            raise ScoreError(str(path), "has no video stream")
        yield container, container.streams.video[0]
    finally:
        container.close()


def seconds(value: int | None, time_base: Fraction | None) -> float | None:
    """A timestamp in stream units as seconds, or None when either part is unknown."""
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def normalise_rotation(counter_clockwise: float | int | None) -> int:
    """Clockwise display rotation in {0, 90, 180, 270} from PyAV's counter-clockwise angle."""
    if not counter_clockwise:
        return 0
    return round(-float(counter_clockwise) / 90.0) % 4 * 90


def truncation_time(path: str | Path, stream: VideoStream) -> float | None:
    """Where a file cut short stops: the time (seconds from the stream's start) of the first frame whose
    data the container's index places beyond the end of the file; None when the index fits (or is absent).

    Needed because FFmpeg reports a truncated MP4 as a normal end of stream, not as an error.
    """
    size = Path(path).stat().st_size
    cut: int | None = None
    for entry in stream.index_entries:
        if entry.pos + entry.size > size and (cut is None or entry.timestamp < cut):
            cut = entry.timestamp
    if cut is None or stream.time_base is None:
        return None
    start = stream.start_time or 0
    return max(0.0, float((cut - start) * stream.time_base))
