"""Melody extraction for training, as Magenta does it: one line per piece, cut into windows sliding by a bar.

A piece becomes one event sequence (``melody.spans_to_events``) that starts on a bar line; ``windows`` cuts it
into ``bars``-bar windows every bar, keeps each distinct window once per piece (Magenta de-duplicates the
slices of a sequence too) and drops windows with fewer than ``MIN_DISTINCT_PITCHES`` note-on pitches or with
more than ``MAX_SILENCE`` of their steps silent. ``transpose`` shifts a window for augmentation.
"""

from __future__ import annotations

import io
import os
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

import mido
import numpy as np

from score_core.midi import read_midi
from score_music.melody import (
    FIRST_NOTE_ON,
    NUM_CLASSES,
    STEPS_PER_BAR,
    quantize,
    sounding_mask,
    spans_to_events,
)

if TYPE_CHECKING:
    from music21.stream import Score as Music21Score

__all__ = [
    "DUPLE_BAR_QUARTERS",
    "MAX_SILENCE",
    "MELODY_PROGRAMS",
    "MIN_DISTINCT_PITCHES",
    "bar_quarters",
    "midi_melody",
    "midi_windows",
    "music21_melody",
    "seconds_to_quarters",
    "transpose",
    "windows",
]

MELODY_PROGRAMS = range(32)
"""General MIDI programs a melody may come from (pianos, chromatic percussion, organs, guitars), as in Magenta."""
MIN_DISTINCT_PITCHES = 2
"""A window needs note-ons of at least this many different pitches."""
MAX_SILENCE = 0.5
"""A window may have at most this fraction of its steps with no note sounding."""
DUPLE_BAR_QUARTERS = (2.0, 4.0, 8.0)
"""Bar lengths (in quarter notes) whose bar lines fall on the 16-step bar grid: 2/4, 4/4, 2/2, 4/2."""

MidiSource = str | os.PathLike[str] | bytes


# ---------------------------------------------------------------------------------------------------- windows


def windows(
    events: np.ndarray,
    *,
    bars: int = 2,
    min_pitches: int = MIN_DISTINCT_PITCHES,
    max_silence: float = MAX_SILENCE,
) -> np.ndarray:
    """``bars``-bar windows of a bar-aligned event sequence, one starting at every bar, filtered and unique.

    Returns a uint8 array (N, bars * 16) in order of first appearance. A window that begins inside a note
    starts with no-events (the note is not re-attacked), as in Magenta.
    """
    array = np.asarray(events)
    size = bars * STEPS_PER_BAR
    sounding = sounding_mask(array)
    kept: list[np.ndarray] = []
    seen: set[bytes] = set()
    for begin in range(0, array.size - size + 1, STEPS_PER_BAR):
        window = array[begin : begin + size].astype(np.uint8)
        onsets = window[window >= FIRST_NOTE_ON]
        if np.unique(onsets).size < min_pitches:
            continue
        if 1.0 - sounding[begin : begin + size].mean() > max_silence:
            continue
        key = window.tobytes()
        if key not in seen:
            seen.add(key)
            kept.append(window)
    if not kept:
        return np.zeros((0, size), dtype=np.uint8)
    return np.stack(kept)


def transpose(events: np.ndarray, semitones: int) -> np.ndarray | None:
    """Events shifted by ``semitones``, or None when a note would leave the pitch range."""
    array = np.asarray(events)
    notes = array >= FIRST_NOTE_ON
    if semitones == 0 or not notes.any():
        return array.copy()
    shifted = array[notes].astype(np.int64) + semitones
    if shifted.min() < FIRST_NOTE_ON or shifted.max() >= NUM_CLASSES:
        return None
    result = array.copy()
    result[notes] = shifted.astype(array.dtype)
    return result


# ---------------------------------------------------------------------------------------------------- MIDI


def _whole_bars(steps: int) -> int:
    """Steps rounded up to whole bars: a last note ending on a bar line runs to the end (no empty bar)."""
    return -(-steps // STEPS_PER_BAR) * STEPS_PER_BAR


def _seconds_to_beats(source: MidiSource) -> tuple[list[float], list[float], list[float]]:
    """Breakpoints (seconds, beats, beats per second) of the file's tempo map, to turn seconds into quarters."""
    midi = mido.MidiFile(file=io.BytesIO(source)) if isinstance(source, bytes) else mido.MidiFile(os.fspath(source))
    changes: list[tuple[int, int]] = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                changes.append((tick, message.tempo))
    changes.sort(key=lambda change: change[0])
    tpb = midi.ticks_per_beat
    seconds, beats, rates = [0.0], [0.0], [1e6 / 500_000]
    for tick, tempo in changes:
        beat = tick / tpb
        if beat > beats[-1]:
            seconds.append(seconds[-1] + (beat - beats[-1]) / rates[-1])
            beats.append(beat)
            rates.append(1e6 / tempo)
        else:
            rates[-1] = 1e6 / tempo
    return seconds, beats, rates


def seconds_to_quarters(source: MidiSource) -> Callable[[float], float]:
    """A function from seconds to quarter notes through the tempo map of a MIDI file (path or bytes)."""
    seconds, beats, rates = _seconds_to_beats(source)

    def to_quarters(time: float) -> float:
        i = bisect_right(seconds, time) - 1
        return beats[i] + (time - seconds[i]) * rates[i]

    return to_quarters


def midi_melody(source: MidiSource, *, programs: Iterable[int] = MELODY_PROGRAMS) -> np.ndarray:
    """The melody of a MIDI file (path or bytes) as events from its first beat (bar lines assumed at beat 0).

    Keeps non-drum notes of ``programs``; every tempo change is honoured by working in quarter notes.
    """
    score = read_midi(source)
    allowed = set(programs)
    to_beats = seconds_to_quarters(source)
    spans = [
        (n.pitch, quantize(to_beats(n.start)), quantize(to_beats(n.end)))
        for n in score.notes
        if not n.is_drum and n.program in allowed
    ]
    length = max((end for _, _, end in spans), default=0)
    steps = _whole_bars(length)
    return spans_to_events(spans, steps)


def midi_windows(source: MidiSource, *, bars: int = 2) -> np.ndarray:
    """Training windows (uint8, (N, bars * 16)) of a MIDI file's melody."""
    return windows(midi_melody(source), bars=bars)


# ---------------------------------------------------------------------------------------------------- music21


def bar_quarters(score: Music21Score) -> list[float]:
    """Quarter notes per bar of each time signature in the score, in order (none when it states no metre)."""
    from music21 import meter

    return [float(ts.barDuration.quarterLength) for ts in score.recurse().getElementsByClass(meter.TimeSignature)]


def _bar_phase(part: object, bar: float) -> float:
    """Offset in quarters of the first full bar line (after a pickup), modulo the bar length."""
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)  # type: ignore[attr-defined]
    if len(measures) < 2:
        return 0.0
    return float(measures[1].offset) % bar


def _part_spans(part: object, phase: float) -> list[tuple[int, int, int]]:
    """(pitch, onset step, end step) of a part's notes, ties merged, chords reduced to their highest note."""
    spans: list[tuple[int, int, int]] = []
    open_ties: dict[int, int] = {}  # pitch -> index in spans of a note whose tie goes on
    for element in part.flatten().notes:  # type: ignore[attr-defined]
        length = float(element.quarterLength)
        if length <= 0:
            continue  # grace notes
        pitches = element.pitches
        if not pitches:
            continue
        pitch = round(max(p.ps for p in pitches))
        begin = float(element.offset) - phase
        on, off = quantize(begin), quantize(begin + length)
        tie = element.tie.type if element.tie is not None else None
        if tie in ("stop", "continue") and pitch in open_ties:
            index = open_ties[pitch]
            spans[index] = (pitch, spans[index][1], off)
            if tie == "stop":
                del open_ties[pitch]
            continue
        spans.append((pitch, on, off))
        if tie in ("start", "continue"):
            open_ties[pitch] = len(spans) - 1
    return spans


def music21_melody(
    score: Music21Score, *, duple_only: bool = True, part_names: Collection[str] | None = None
) -> np.ndarray | None:
    """The melody of a music21 score as events starting on a bar line, or None when there is none to take.

    Offsets are read in quarter notes (no tempo needed); all parts are merged and the highest note wins.
    ``part_names``, when the score has a part of one of these names, keeps only those parts (a chorale's
    voices without the horn or violin descant some chorale files add). With ``duple_only`` a score whose bars
    do not fall on the 16-step grid (3/4, 6/8, ...) or that has no time signature gives None.
    """
    bars = bar_quarters(score)
    if duple_only and (not bars or any(bar not in DUPLE_BAR_QUARTERS for bar in bars)):
        return None
    parts: list[Any] = list(score.parts) or [score]
    if part_names is not None:
        named = [part for part in parts if getattr(part, "partName", None) in part_names]
        parts = named or parts
    bar = bars[0] if bars else 4.0
    phase = _bar_phase(parts[0], bar)
    if phase:  # make the pickup a partial bar: bar lines at quarters phase + k * bar
        phase -= bar
    spans = [span for part in parts for span in _part_spans(part, phase)]
    if not spans:
        return None
    shift = min(on for _, on, _ in spans) // STEPS_PER_BAR * STEPS_PER_BAR  # start at the first note's bar
    spans = [(pitch, on - shift, off - shift) for pitch, on, off in spans]
    length = max(off for _, _, off in spans)
    return spans_to_events(spans, _whole_bars(length), legato_steps=0)
