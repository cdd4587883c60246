"""Magenta's 90-class monophonic melody encoding on a sixteenth-note grid.

One event per step: ``NO_EVENT`` (0, the previous state goes on), ``NOTE_OFF`` (1) or a note-on
``2 + (pitch - MIN_PITCH)`` for pitches 21..108. Four steps per quarter note, 4/4, so a bar is 16 steps and
MusicVAE's 2-bar window is 32 steps.

Polyphony is reduced to one line by a skyline rule: a new onset interrupts the note before it, except that an
onset *below* a note that is still sounding (any earlier note, in the line or not) is ignored, so the highest
sounding note wins; among notes starting on the same step the highest wins. For performed MIDI, a note that
ends at most one step after an onset counts as a legato overlap and does not block it (scores allow none). A
held note is never re-attacked: when the line's note ends under a held higher note, the line rests (note-off)
until the next onset that is on top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from score_core.contracts import Note

__all__ = [
    "MAX_PITCH",
    "MIN_PITCH",
    "NOTE_OFF",
    "NO_EVENT",
    "NUM_CLASSES",
    "STEPS_PER_BAR",
    "STEPS_PER_QUARTER",
    "events_to_notes",
    "fold_pitch",
    "is_valid_events",
    "notes_to_events",
    "sounding_mask",
    "spans_to_events",
]

NUM_CLASSES = 90
MIN_PITCH = 21
MAX_PITCH = 108
NO_EVENT = 0
NOTE_OFF = 1
STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
FIRST_NOTE_ON = 2
"""Class of the lowest note-on (pitch ``MIN_PITCH``)."""


def fold_pitch(pitch: int) -> int:
    """Move a MIDI pitch by whole octaves into MIN_PITCH..MAX_PITCH."""
    while pitch < MIN_PITCH:
        pitch += 12
    while pitch > MAX_PITCH:
        pitch -= 12
    return pitch


def quantize(beats: float) -> int:
    """Nearest sixteenth step of a time in quarter notes (halves round up, as Magenta's quantiser does)."""
    return int(np.floor(beats * STEPS_PER_QUARTER + 0.5))


def spans_to_events(spans: Sequence[tuple[int, int, int]], steps: int, *, legato_steps: int = 1) -> np.ndarray:
    """Events (int64, (steps,)) from (pitch, onset step, end step) spans; the module docstring gives the rules.

    Spans starting outside 0..steps-1 are dropped; pitches are folded into range; an end step not after the
    onset becomes onset + 1. A note ending at most ``legato_steps`` after an onset does not block it (use 0 for
    exact scores, where a lower voice's passing note just before the top note ends must not take over).
    """
    events = np.zeros(steps, dtype=np.int64)
    groups: dict[int, list[tuple[int, int]]] = {}
    for pitch, on, off in spans:
        if 0 <= on < steps:
            groups.setdefault(on, []).append((fold_pitch(pitch), max(off, on + 1)))
    active: list[tuple[int, int]] = []  # (pitch, end) of every note started earlier, sounding or not in the line
    current: tuple[int, int] | None = None  # the line's note
    for on in sorted(groups):
        active = [(pitch, off) for pitch, off in active if off > on + legato_steps]
        best = max(groups[on])
        taken = best[0] >= max((pitch for pitch, _ in active), default=-1)
        if current is not None and current[1] <= on:
            if current[1] < on or not taken:
                events[current[1]] = NOTE_OFF
            current = None
        if taken:
            events[on] = FIRST_NOTE_ON + best[0] - MIN_PITCH
            current = best
        active.extend(groups[on])
    if current is not None and current[1] < steps:
        events[current[1]] = NOTE_OFF
    return events


def notes_to_events(notes: Sequence[Note], *, qpm: float, steps: int, start: float = 0.0) -> np.ndarray:
    """Encode notes as ``steps`` melody events (int64) on the sixteenth grid at ``qpm``, from ``start`` seconds.

    Drum notes are skipped. Onsets and releases are quantised to the nearest step; notes starting before
    ``start`` or after the last step are left out.
    """
    if qpm <= 0 or steps < 0:
        raise ValueError(f"need qpm > 0 and steps >= 0, got qpm={qpm}, steps={steps}")
    beats_per_second = qpm / 60.0
    spans = [
        (n.pitch, quantize((n.start - start) * beats_per_second), quantize((n.end - start) * beats_per_second))
        for n in notes
        if not n.is_drum
    ]
    return spans_to_events(spans, steps)


def events_to_notes(
    events: np.ndarray,
    *,
    qpm: float,
    start: float = 0.0,
    program: int = 0,
    velocity: int = 90,
    end_time: float | None = None,
) -> list[Note]:
    """Decode melody events into notes: each note lasts until a note-off, the next note-on or the end.

    A note still sounding after the last event ends at ``end_time`` when given, else at the end of the events.
    Note-offs with nothing sounding are ignored.
    """
    if not is_valid_events(events):
        raise ValueError("events must be a 1-d integer array with values in 0..89")
    seconds_per_step = 60.0 / qpm / STEPS_PER_QUARTER
    array = np.asarray(events)
    notes: list[Note] = []
    pitch: int | None = None
    onset = 0

    def close(step: int, end: float | None = None) -> None:
        assert pitch is not None
        note_start = start + onset * seconds_per_step
        note_end = start + step * seconds_per_step if end is None else end
        if note_end > note_start:
            notes.append(Note(pitch=pitch, velocity=velocity, start=note_start, end=note_end, program=program))

    for step, event in enumerate(array.tolist()):
        if event == NO_EVENT:
            continue
        if pitch is not None:
            close(step)
            pitch = None
        if event >= FIRST_NOTE_ON:
            pitch, onset = MIN_PITCH + event - FIRST_NOTE_ON, step
    if pitch is not None:
        close(len(array), end_time)
    return notes


def is_valid_events(events: object) -> bool:
    """Whether ``events`` is a 1-d integer array whose values are classes 0..NUM_CLASSES-1."""
    array = np.asarray(events)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        return False
    return bool(array.size == 0 or (array.min() >= 0 and array.max() < NUM_CLASSES))


def sounding_mask(events: np.ndarray) -> np.ndarray:
    """Boolean (len,) array: whether a note sounds at each step (the last non-empty event is a note-on)."""
    array = np.asarray(events)
    marked = np.flatnonzero(array != NO_EVENT)
    if marked.size == 0:
        return np.zeros(array.shape, dtype=bool)
    # Index of the last marked step at or before each step (-1 before the first).
    last = np.searchsorted(marked, np.arange(array.size), side="right") - 1
    state = np.where(last >= 0, array[marked[np.maximum(last, 0)]], NO_EVENT)
    return state >= FIRST_NOTE_ON
