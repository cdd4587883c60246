"""SMPTE start timecodes (HH:MM:SS:FF) for the DAW hand-off: a MIDI file that lines up with the video."""

from __future__ import annotations

import re
from dataclasses import dataclass

import mido

from score_core.errors import ScoreError

SMPTE_RATES = (24.0, 25.0, 29.97, 30.0)
"""The frame rates a MIDI SMPTE Offset event (FF 54) can state."""

_PATTERN = re.compile(r"(\d{2}):(\d{2}):(\d{2})([:;])(\d{2})")


@dataclass(frozen=True)
class Timecode:
    """A start time as hours, minutes, seconds and frames at one of the SMPTE rates."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    rate: float

    def __str__(self) -> str:
        separator = ";" if self.rate == 29.97 else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{separator}{self.frames:02d}"

    def message(self) -> mido.MetaMessage:
        """The SMPTE Offset meta event (FF 54) for the first track of a MIDI file."""
        rate = 29.97 if self.rate == 29.97 else int(self.rate)
        return mido.MetaMessage("smpte_offset", frame_rate=rate, hours=self.hours, minutes=self.minutes,
                                seconds=self.seconds, frames=self.frames, sub_frames=0)


def smpte_rate(video_frame_rate: float) -> float:
    """The SMPTE rate for a video: the nearest of 24, 25, 29.97 and 30 (50 and 60 fps count as 25 and 30)."""
    rate = float(video_frame_rate)
    while rate > 31.0:
        rate /= 2
    return min(SMPTE_RATES, key=lambda candidate: abs(candidate - rate))


def check_timecode_text(text: str) -> None:
    """Raise a one-line ScoreError unless ``text`` reads HH:MM:SS:FF (or HH:MM:SS;FF for drop frame)."""
    parse_timecode(text, 30.0 if ";" not in text else 29.97)


def parse_timecode(text: str, video_frame_rate: float) -> Timecode:
    """Read HH:MM:SS:FF at the SMPTE rate of a video running at ``video_frame_rate`` frames per second.

    ``;`` before the frames (HH:MM:SS;FF) asks for 29.97 drop-frame whatever the video's rate.
    """
    match = _PATTERN.fullmatch(text.strip())
    if not match:
        raise ScoreError("--start-timecode", f"'{text}' is not HH:MM:SS:FF")
    hours, minutes, seconds, frames = (int(match.group(i)) for i in (1, 2, 3, 5))
    rate = 29.97 if match.group(4) == ";" else smpte_rate(video_frame_rate)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ScoreError("--start-timecode", f"'{text}' is not a time of day (at most 23:59:59)")
    if frames >= round(rate):
        raise ScoreError("--start-timecode", f"frame {frames} does not exist at {rate:g} frames per second")
    return Timecode(hours, minutes, seconds, frames, rate)
