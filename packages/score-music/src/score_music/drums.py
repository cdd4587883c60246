"""Magenta's drum encoding: 9 drum classes, one 512-way event per sixteenth step.

Every General MIDI drum pitch belongs to one of nine classes (kick, snare, closed hi-hat, open hi-hat, low,
mid and high tom, crash, ride; Magenta's ``DEFAULT_DRUM_TYPE_PITCHES``). A step's event is the set of classes
that hit on it, written as an integer with bit ``i`` set when class ``i`` hits: 0 is a silent step, 1 a kick
alone, 3 kick and snare, …, 511 every class. Decoding plays each class's first (standard) pitch on the GM
percussion channel.

Magenta's ``cat-drums_2bar_small`` reads a different encoder input than its decoder writes: the encoder sees a
10-wide roll (the nine class bits plus a bit set on silent steps, ``drum_roll``), the decoder the 512-way events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from score_core.contracts import Note
from score_music.melody import quantize

__all__ = [
    "DRUM_CLASS_NAMES",
    "DRUM_CLASS_PITCHES",
    "NUM_DRUM_CLASSES",
    "NUM_DRUM_EVENTS",
    "ROLL_SIZE",
    "STEPS_PER_QUARTER",
    "class_of_pitch",
    "drum_events_to_notes",
    "drum_roll",
    "event_classes",
    "hits_to_event",
    "notes_to_drum_events",
]

DRUM_CLASS_NAMES = (
    "kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom", "high tom", "crash", "ride",
)
DRUM_CLASS_PITCHES: tuple[tuple[int, ...], ...] = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)
"""GM pitches of each class; the first is the one decoding plays."""
NUM_DRUM_CLASSES = len(DRUM_CLASS_PITCHES)
NUM_DRUM_EVENTS = 2**NUM_DRUM_CLASSES
"""512: every subset of the nine classes."""
ROLL_SIZE = NUM_DRUM_CLASSES + 1
"""Width of the encoder's roll input: the class bits and a silent-step bit."""
STEPS_PER_QUARTER = 4
KICK, SNARE = 0, 1

_CLASS_OF_PITCH = {pitch: index for index, pitches in enumerate(DRUM_CLASS_PITCHES) for pitch in pitches}
_BITS = np.array([[(event >> i) & 1 for i in range(NUM_DRUM_CLASSES)] for event in range(NUM_DRUM_EVENTS)],
                 dtype=bool)


def class_of_pitch(pitch: int) -> int | None:
    """The drum class of a GM drum pitch, or None for pitches outside Magenta's map."""
    return _CLASS_OF_PITCH.get(pitch)


def hits_to_event(classes: Iterable[int]) -> int:
    """The event of a step on which the given classes hit."""
    event = 0
    for index in classes:
        if not 0 <= index < NUM_DRUM_CLASSES:
            raise ValueError(f"drum class {index} is not in 0..{NUM_DRUM_CLASSES - 1}")
        event |= 1 << index
    return event


def event_classes(event: int) -> tuple[int, ...]:
    """The classes that hit in one event, lowest first."""
    if not 0 <= event < NUM_DRUM_EVENTS:
        raise ValueError(f"drum event {event} is not in 0..{NUM_DRUM_EVENTS - 1}")
    return tuple(i for i in range(NUM_DRUM_CLASSES) if event >> i & 1)


def class_hits(events: np.ndarray) -> np.ndarray:
    """Boolean (..., 9) array: which classes hit at each step of an event array."""
    return _BITS[np.asarray(events, dtype=np.int64)]


def drum_roll(events: np.ndarray) -> np.ndarray:
    """Magenta's roll input (float32, (..., 10)): the nine class bits, then 1 on silent steps."""
    hits = class_hits(events)
    silent = ~hits.any(axis=-1, keepdims=True)
    return np.concatenate([hits, silent], axis=-1).astype(np.float32)


def onsets_to_events(onsets: Iterable[tuple[int, int]], steps: int) -> np.ndarray:
    """Events (int64, (steps,)) from (GM pitch, step) onsets; unknown pitches and steps outside are dropped."""
    events = np.zeros(steps, dtype=np.int64)
    for pitch, step in onsets:
        index = _CLASS_OF_PITCH.get(pitch)
        if index is not None and 0 <= step < steps:
            events[step] |= 1 << index
    return events


def notes_to_drum_events(notes: Sequence[Note], *, qpm: float, steps: int, start: float = 0.0) -> np.ndarray:
    """Encode the drum notes among ``notes`` as ``steps`` events on the sixteenth grid at ``qpm``."""
    if qpm <= 0 or steps < 0:
        raise ValueError(f"need qpm > 0 and steps >= 0, got qpm={qpm}, steps={steps}")
    beats_per_second = qpm / 60.0
    return onsets_to_events(((n.pitch, quantize((n.start - start) * beats_per_second)) for n in notes if n.is_drum),
                            steps)


def drum_events_to_notes(
    events: np.ndarray,
    *,
    qpm: float,
    start: float = 0.0,
    velocity: int = 100,
    end_time: float | None = None,
) -> list[Note]:
    """Decode events into GM drum notes (``is_drum``, the standard pitch of each class), one step long each.

    Notes are cut at ``end_time`` when given; a hit at or after it is dropped."""
    array = np.asarray(events)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer) or (
            array.size and (array.min() < 0 or array.max() >= NUM_DRUM_EVENTS)):
        raise ValueError(f"drum events must be a 1-d integer array with values in 0..{NUM_DRUM_EVENTS - 1}")
    seconds_per_step = 60.0 / qpm / STEPS_PER_QUARTER
    notes: list[Note] = []
    for step in np.flatnonzero(array).tolist():
        onset = start + step * seconds_per_step
        end = onset + seconds_per_step if end_time is None else min(onset + seconds_per_step, end_time)
        if end <= onset:
            continue
        for index in event_classes(int(array[step])):
            notes.append(Note(pitch=DRUM_CLASS_PITCHES[index][0], velocity=velocity, start=onset, end=end,
                              is_drum=True))
    return notes


def groove_statistics(events: np.ndarray) -> dict[str, float]:
    """Figures of drum events (any shape, last axis = steps on the sixteenth grid from a bar line).

    ``eighth_share``: share of hits (one per class per step) on 8th-note positions (even steps);
    ``kick_snare_balance``: kicks / (kicks + snares); ``hits_per_bar``: class hits per 16 steps;
    ``empty_bar_rate``: share of bars without any hit."""
    array = np.asarray(events, dtype=np.int64)
    hits = class_hits(array)  # (..., steps, 9)
    per_step = hits.sum(axis=-1)
    total = int(per_step.sum())
    on_eighths = int(per_step[..., 0::2].sum())
    kicks, snares = int(hits[..., KICK].sum()), int(hits[..., SNARE].sum())
    steps = array.shape[-1]
    bars = per_step.reshape(-1, steps // 16, 16).sum(axis=-1) if steps % 16 == 0 else per_step.reshape(-1, 1)
    return {
        "eighth_share": on_eighths / total if total else 0.0,
        "kick_snare_balance": kicks / (kicks + snares) if kicks + snares else 0.0,
        "hits_per_bar": total / max(array.size / 16, 1e-9),
        "empty_bar_rate": float((bars == 0).mean()),
    }
