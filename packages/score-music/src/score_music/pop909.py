"""The melody track of a POP909 song (Wang et al. 2020, MIT) as melody events starting on its first bar line.

A POP909 song folder ``NNN/`` holds ``NNN.mid`` (tracks MELODY, BRIDGE, PIANO) and ``beat_midi.txt`` (one row per
beat: time in seconds, a 2/4 downbeat flag and a 4/4 downbeat flag). Notes of the MELODY track are read in
quarter notes through the file's tempo map and quantised to sixteenths; bar lines fall on the annotated 4/4
downbeats, so the events start at the downbeat on or before the first melody note.
"""

from __future__ import annotations

import os
from pathlib import Path

import mido
import numpy as np

from score_music.extract import seconds_to_quarters
from score_music.melody import STEPS_PER_BAR, quantize, spans_to_events

__all__ = ["MELODY_TRACK", "default_pop909_root", "pop909_melody", "pop909_songs"]

MELODY_TRACK = "MELODY"


def default_pop909_root() -> Path:
    """``$SCORE_POP909`` if set, else the shared data folder ``/work/shared/data/music/pop909``."""
    return Path(os.environ.get("SCORE_POP909", "/work/shared/data/music/pop909")).expanduser()


def pop909_songs(root: Path) -> list[Path]:
    """The song folders (``001`` … ``909``) under ``root``, sorted; none when ``root`` is absent."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit() and (p / f"{p.name}.mid").is_file())


def _first_downbeat(song: Path) -> float | None:
    """Seconds of the first 4/4 downbeat annotated in ``beat_midi.txt``, or None when there is none."""
    path = song / "beat_midi.txt"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and float(fields[2]) == 1.0:
            return float(fields[0])
    return None


def pop909_melody(song: Path) -> np.ndarray | None:
    """Melody events (int64, whole bars) of one song folder, or None when it has no melody track or notes."""
    midi = mido.MidiFile(str(song / f"{song.name}.mid"))
    tracks = [t for t in midi.tracks if t.name.strip().upper() == MELODY_TRACK]
    if not tracks:
        return None
    tpb = midi.ticks_per_beat
    downbeat = _first_downbeat(song)
    phase = seconds_to_quarters(song / f"{song.name}.mid")(downbeat) if downbeat is not None else 0.0
    starts: dict[int, int] = {}
    spans: list[tuple[int, int, int]] = []
    tick = 0
    for message in tracks[0]:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            starts[message.note] = tick
        elif message.type in ("note_off", "note_on") and message.note in starts:
            begin = starts.pop(message.note)
            spans.append((message.note, quantize(begin / tpb - phase), quantize(tick / tpb - phase)))
    if not spans:
        return None
    first_bar = min(on for _, on, _ in spans) // STEPS_PER_BAR * STEPS_PER_BAR
    spans = [(pitch, on - first_bar, off - first_bar) for pitch, on, off in spans]
    length = max(off for _, _, off in spans)
    return spans_to_events(spans, -(-length // STEPS_PER_BAR) * STEPS_PER_BAR, legato_steps=0)
