"""Cuts for grading a soundtrack, found independently of the run that wrote it, or read from hand labels.

`score run` finds shots from the mean absolute difference of luma thumbnails (score_core.media.events), and
builds its tempo map and phrases on them; grading the music against those same cuts flatters it. The detector
here looks at something else: the grey-level histogram of each whole frame, so a cut is where the distribution
of brightness jumps between consecutive frames (camera and object motion keep the histogram, a cut replaces
it). Hand labels (`read_cut_file`) take precedence over any detector.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError

HISTOGRAM_BINS = 32
GREY_SIZE = (36, 64)
"""(height, width) each frame is scaled to before its histogram is taken."""
MIN_DISTANCE = 0.15
"""Smallest histogram change (total variation, 0..1) that can be a cut ..."""
MAD_FACTOR = 6.0
"""... and it must stand this many robust standard deviations above the typical frame-to-frame change ..."""
LOCAL_RATIO = 3.0
"""... be this many times the median change within LOCAL_WINDOW seconds before it and the median after it (a
cut stands out on both sides; the last step of a dissolve stands out only against the still shot after it) ..."""
LOCAL_WINDOW = 0.5
MIN_GAP = 0.25
"""... and be the largest change within this many seconds (shorter shots are taken for flashes)."""


def histogram_change(video: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(times, change) for every decoded frame: the total-variation distance between its grey histogram and
    the previous frame's (0 for the first frame). Times count from the video stream's start."""
    from score_core.media._open import AV_ERRORS, open_video, short_reason

    times: list[float] = []
    changes: list[float] = []
    previous: np.ndarray | None = None
    height, width = GREY_SIZE
    with open_video(video) as (container, stream):
        stream.thread_type = "AUTO"
        origin: float | None = None
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                origin = frame.time if origin is None else origin
                grey = np.asarray(frame.reformat(width=width, height=height, format="gray").to_ndarray(), np.uint8)
                histogram = np.bincount((grey >> 3).ravel(), minlength=HISTOGRAM_BINS) / grey.size
                changes.append(0.0 if previous is None else 0.5 * float(np.abs(histogram - previous).sum()))
                times.append(frame.time - origin)
                previous = histogram
        except AV_ERRORS as exc:
            if not times:
                raise ScoreError(str(video), f"cannot be decoded ({short_reason(exc)})") from None
    return np.asarray(times), np.asarray(changes)


def cuts_from_change(times: np.ndarray, change: np.ndarray) -> list[float]:
    """Times of the frames whose histogram change stands out as a cut (see the module's constants)."""
    if change.size < 3:
        return []
    body = change[1:]
    median = float(np.median(body))
    threshold = max(median + MAD_FACTOR * 1.4826 * float(np.median(np.abs(body - median))), MIN_DISTANCE)
    candidates: list[int] = []
    for index in (int(i) for i in np.flatnonzero(change > threshold)):
        if index == 0:
            continue
        if change[index] >= LOCAL_RATIO * _busier_side(times, change, index):
            candidates.append(index)
    kept: list[int] = []
    for index in sorted(candidates, key=lambda i: -change[i]):
        if all(abs(times[index] - times[j]) >= MIN_GAP for j in kept):
            kept.append(index)
    return sorted(float(times[i]) for i in kept)


def _busier_side(times: np.ndarray, change: np.ndarray, index: int) -> float:
    """The larger of the median changes within LOCAL_WINDOW seconds before and after frame ``index`` (the first
    frame, which has no predecessor, left out); 0 where neither side has a frame."""
    frames = np.arange(change.size)
    close = np.abs(times - times[index]) <= LOCAL_WINDOW
    sides = [change[close & (frames > 0) & (frames < index)], change[close & (frames > index)]]
    return max((float(np.median(side)) for side in sides if side.size), default=0.0)


def histogram_cuts(video: str | Path) -> list[float]:
    """Hard cuts of ``video`` by the grey-histogram detector (independent of `score run`'s)."""
    return cuts_from_change(*histogram_change(video))


_TIMECODE = r"\d{1,2}:\d{2}:\d{2}[:;]\d{2}"
_EDL_EVENT = re.compile(rf"^\s*\d{{1,6}}\s+\S+\s+\S+\s+\S+(?:\s+\d+)?\s+({_TIMECODE})\s+({_TIMECODE})\s+"
                        rf"({_TIMECODE})\s+({_TIMECODE})\s*$")


def _timecode_seconds(text: str, frame_rate: float) -> float:
    hours, minutes, seconds, frames = (int(part) for part in re.split(r"[:;]", text))
    return hours * 3600 + minutes * 60 + seconds + frames / frame_rate


def _clock_seconds(text: str) -> float:
    """Seconds from "12.5", "1:02.5" or "0:01:02.500"."""
    parts = text.split(":")
    if len(parts) > 3 or not all(re.fullmatch(r"\d+(\.\d*)?", p) for p in parts):
        raise ValueError(text)
    value = 0.0
    for part in parts:
        value = value * 60 + float(part)
    return value


def read_cut_file(path: str | Path, frame_rate: float) -> list[float]:
    """Hand-labelled cut times (s) from ``path``: an EDL (CMX 3600: each event's record-in after the first,
    counted from the first event's record-in, timecodes at ``frame_rate``) or one time per line ("12.5",
    "1:02.5", "00:01:02:12" as a timecode); blank lines and lines starting with # are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise ScoreError(str(path), f"cannot be read ({error.strerror or error})") from None
    events = [_EDL_EVENT.match(line) for line in lines]
    if any(events):
        record_ins = sorted({_timecode_seconds(m.group(3), frame_rate) for m in events if m})
        return [t - record_ins[0] for t in record_ins[1:]]
    cuts: list[float] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#") or text.upper().startswith(("TITLE:", "FCM:")):
            continue
        try:
            cuts.append(_timecode_seconds(text, frame_rate) if re.fullmatch(_TIMECODE, text)
                        else _clock_seconds(text))
        except ValueError:
            raise ScoreError(str(path), f"line {number}: {text[:40]!r} is not a time (seconds, M:SS.s or "
                                        "HH:MM:SS:FF) or an EDL event") from None
    if not cuts:
        raise ScoreError(str(path), "holds no cut times")
    return sorted(set(cuts))
