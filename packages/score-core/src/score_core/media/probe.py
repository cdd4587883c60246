"""Find out what a video file holds: duration, frame rate, size, rotation, codec, audio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from score_core.contracts import VideoInfo
from score_core.errors import ScoreError
from score_core.media._open import (
    AV_ERRORS,
    normalise_rotation,
    open_video,
    seconds,
    short_reason,
    truncation_time,
)

_FALLBACK_RATE = 25.0


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video stream of `path`, decoding its first frame to prove it is readable.

    The duration comes from the stream, else the container, else from decoding to the last frame; the frame
    rate is the stream's average rate, else measured from the decoded timestamps. Every failure is a
    ScoreError naming the file with a one-line cause.
    """
    with open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        first = first_frame(path, frames)
        cut = truncation_time(path, stream)
        if cut is not None:
            raise ScoreError(str(path), f"corrupt or truncated at {cut:.1f} s (the file ends before its last frames)")
        rotation = normalise_rotation(first.rotation)
        duration = seconds(stream.duration, stream.time_base)
        if not duration and container.duration:
            duration = container.duration / av.time_base
        rate = float(stream.average_rate) if stream.average_rate else None
        if not duration or not rate:
            duration, rate = _measure_by_decoding(first, frames, duration, rate, stream)
        return VideoInfo(
            path=str(path),
            duration=duration,
            frame_rate=rate,
            frame_count=stream.frames or None,
            width=stream.codec_context.width or first.width,
            height=stream.codec_context.height or first.height,
            rotation=rotation,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )


def first_frame(path: str | Path, frames: Iterator[VideoFrame]) -> VideoFrame:
    """The first decoded frame, or a ScoreError saying the file holds none or is corrupt."""
    try:
        frame = next(frames, None)
    except AV_ERRORS as exc:
        raise ScoreError(
            str(path), f"corrupt or truncated: its first video frame cannot be decoded ({short_reason(exc)})"
        ) from None
    if frame is None:
        raise ScoreError(str(path), "holds no video frames")
    return frame


def _measure_by_decoding(
    first: VideoFrame,
    frames: Iterator[VideoFrame],
    duration: float | None,
    rate: float | None,
    stream: VideoStream,
) -> tuple[float, float]:
    """Duration and average rate from the timestamps of every frame, for containers that declare neither."""
    start = first.time if first.time is not None else 0.0
    last, count = start, 1
    try:
        for frame in frames:
            count += 1
            if frame.time is not None:
                last = max(last, frame.time)
    except AV_ERRORS:
        pass  # a damaged tail: measure what could be decoded
    span = last - start
    if not rate:
        rate = (count - 1) / span if count > 1 and span > 0 else float(stream.guessed_rate or _FALLBACK_RATE)
    if not duration:
        duration = span + 1.0 / rate
    return duration, rate
