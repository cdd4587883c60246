"""DAW hand-off: `score run --start-timecode` writes an SMPTE offset that places the MIDI file at the video's time."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from score_core.testing import run_score
from score_core.timecode import parse_timecode, smpte_rate

LIGHT = ("--vision", "color-stats", "--music", "arpeggio", "--no-audio")
ENV = {"SCORE_PLUGINS": "example,studio"}


def test_the_midi_file_starts_at_the_given_timecode(clip: Path, tmp_path: Path) -> None:
    done = run_score("run", clip, *LIGHT, "--start-timecode", "01:00:10:12", "-o", tmp_path, env=ENV)
    assert done.returncode == 0, done.stderr
    first = mido.MidiFile(tmp_path / "clip.mid").tracks[0]
    [offset] = [m for m in first if m.type == "smpte_offset"]
    assert (offset.hours, offset.minutes, offset.seconds, offset.frames) == (1, 0, 10, 12)
    assert offset.frame_rate == 25  # the clip runs at 25 fps
    assert all(m.time == 0 for m in first[: first.index(offset) + 1])  # before any event that takes time


@pytest.mark.parametrize(
    ("timecode", "cause"),
    [("1:00:00", "is not HH:MM:SS:FF"), ("24:00:00:00", "not a time of day"),
     ("00:00:00:25", "frame 25 does not exist at 25 frames per second")],
)
def test_a_bad_timecode_is_one_line_and_writes_nothing(clip: Path, tmp_path: Path, timecode: str, cause: str) -> None:
    done = run_score("run", clip, *LIGHT, "--start-timecode", timecode, "-o", tmp_path, env=ENV)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("score: error: --start-timecode")
    assert cause in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_smpte_rates_follow_the_video() -> None:
    assert [smpte_rate(r) for r in (23.976, 24, 25, 29.97, 30, 50, 59.94, 60)] == [
        24.0, 24.0, 25.0, 29.97, 30.0, 25.0, 29.97, 30.0]
    assert str(parse_timecode("10:00:00;04", 25.0)) == "10:00:00;04"
