"""Magenta's 90-class melody encoding: notes to events and back."""

from __future__ import annotations

import numpy as np
import pytest

from score_core.contracts import Note
from score_music.melody import (
    MAX_PITCH,
    MIN_PITCH,
    NO_EVENT,
    NOTE_OFF,
    NUM_CLASSES,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    events_to_notes,
    is_valid_events,
    notes_to_events,
    sounding_mask,
)

QPM = 120.0
STEP = 60.0 / QPM / STEPS_PER_QUARTER  # 0.125 s


def note(pitch: int, start_step: float, end_step: float, **kwargs: object) -> Note:
    return Note(pitch=pitch, velocity=80, start=start_step * STEP, end=end_step * STEP, **kwargs)


def on(pitch: int) -> int:
    return 2 + pitch - MIN_PITCH


def test_constants_match_magenta() -> None:
    assert (NUM_CLASSES, MIN_PITCH, MAX_PITCH, NO_EVENT, NOTE_OFF) == (90, 21, 108, 0, 1)
    assert (STEPS_PER_QUARTER, STEPS_PER_BAR) == (4, 16)
    assert on(MAX_PITCH) == NUM_CLASSES - 1


def test_encoding_of_a_simple_line() -> None:
    notes = [note(60, 0, 4), note(62, 4, 6), note(64, 8, 12)]
    events = notes_to_events(notes, qpm=QPM, steps=16)
    assert events.dtype == np.int64 and events.shape == (16,)
    expected = np.zeros(16, dtype=np.int64)
    expected[[0, 4, 6, 8, 12]] = [on(60), on(62), NOTE_OFF, on(64), NOTE_OFF]
    np.testing.assert_array_equal(events, expected)


def test_no_note_off_when_the_next_note_starts_right_away() -> None:
    events = notes_to_events([note(60, 0, 2), note(67, 2, 4)], qpm=QPM, steps=8)
    assert events.tolist() == [on(60), 0, on(67), 0, NOTE_OFF, 0, 0, 0]


def test_note_running_past_the_end_has_no_note_off() -> None:
    events = notes_to_events([note(60, 2, 40)], qpm=QPM, steps=8)
    assert events.tolist() == [0, 0, on(60), 0, 0, 0, 0, 0]


def test_round_trip_notes_events_notes() -> None:
    notes = [note(60, 0, 3), note(72, 3, 4), note(59, 6, 10), note(61, 10, 16), note(108, 20, 22), note(21, 24, 31)]
    events = notes_to_events(notes, qpm=QPM, steps=32)
    back = events_to_notes(events, qpm=QPM, velocity=80)
    assert [(n.pitch, n.start, n.end) for n in back] == [(n.pitch, n.start, n.end) for n in notes]
    np.testing.assert_array_equal(notes_to_events(back, qpm=QPM, steps=32), events)


def test_round_trip_with_start_offset_and_tempo() -> None:
    qpm, start = 90.0, 3.0
    step = 60.0 / qpm / 4
    notes = [Note(pitch=p, velocity=90, start=start + a * step, end=start + b * step) for p, a, b in
             [(64, 0, 2), (65, 2, 5), (67, 8, 16)]]  # fmt: skip
    events = notes_to_events(notes, qpm=qpm, steps=16, start=start)
    back = events_to_notes(events, qpm=qpm, start=start)
    assert [(n.pitch, round(n.start, 9), round(n.end, 9)) for n in back] == [
        (n.pitch, round(n.start, 9), round(n.end, 9)) for n in notes
    ]


def test_quantises_to_the_nearest_sixteenth() -> None:
    notes = [Note(pitch=60, velocity=90, start=0.06, end=0.49), Note(pitch=62, velocity=90, start=0.55, end=0.8)]
    # 0.06 s = 0.48 steps -> 0; 0.49 s = 3.92 -> 4; 0.55 s = 4.4 -> 4; 0.8 s = 6.4 -> 6.
    assert notes_to_events(notes, qpm=QPM, steps=8).tolist() == [on(60), 0, 0, 0, on(62), 0, NOTE_OFF, 0]


def test_highest_of_simultaneous_onsets_wins() -> None:
    chord = [note(60, 0, 4), note(67, 0, 4), note(64, 0, 4)]
    assert notes_to_events(chord, qpm=QPM, steps=6).tolist() == [on(67), 0, 0, 0, NOTE_OFF, 0]


def test_lower_onset_under_a_sounding_note_is_ignored() -> None:
    # Soprano holds 72 for a bar while an inner voice moves; the line keeps the top note.
    notes = [note(72, 0, 16), note(60, 0, 4), note(62, 4, 8), note(64, 8, 16)]
    events = notes_to_events(notes, qpm=QPM, steps=16)
    assert events.tolist() == [on(72)] + [0] * 15


def test_higher_onset_interrupts_and_held_note_is_not_resumed() -> None:
    notes = [note(60, 0, 16), note(72, 4, 8)]
    events = notes_to_events(notes, qpm=QPM, steps=16)
    expected = [on(60), 0, 0, 0, on(72), 0, 0, 0, NOTE_OFF] + [0] * 7
    assert events.tolist() == expected


def test_legato_overlap_of_one_step_lets_a_lower_note_in() -> None:
    notes = [note(67, 0, 5), note(65, 4, 8)]  # the first note overlaps the next by one step
    assert notes_to_events(notes, qpm=QPM, steps=10).tolist() == [on(67), 0, 0, 0, on(65), 0, 0, 0, NOTE_OFF, 0]


def test_same_pitch_repeated_is_re_attacked() -> None:
    notes = [note(60, 0, 2), note(60, 2, 4)]
    assert notes_to_events(notes, qpm=QPM, steps=5).tolist() == [on(60), 0, on(60), 0, NOTE_OFF]


def test_out_of_range_pitches_fold_by_octaves() -> None:
    notes = [note(12, 0, 2), note(120, 2, 4), note(0, 4, 6), note(127, 6, 8)]
    events = notes_to_events(notes, qpm=QPM, steps=9)
    assert events[[0, 2, 4, 6]].tolist() == [on(24), on(108), on(24), on(103)]


def test_drums_and_notes_outside_the_window_are_left_out() -> None:
    notes = [note(40, 0, 4, is_drum=True), note(60, 2, 3), note(62, 9, 10)]
    events = notes_to_events(notes, qpm=QPM, steps=4, start=0.0)
    assert events.tolist() == [0, 0, on(60), NOTE_OFF]
    late = notes_to_events([note(60, 0, 2), note(64, 4, 6)], qpm=QPM, steps=4, start=3 * STEP)
    assert late.tolist() == [0, on(64), 0, NOTE_OFF]


def test_events_to_notes_closes_at_end_time_or_end_of_events() -> None:
    events = np.array([on(60), 0, 0, 0], dtype=np.int64)
    assert events_to_notes(events, qpm=QPM)[0].end == pytest.approx(4 * STEP)
    assert events_to_notes(events, qpm=QPM, end_time=2.0)[0].end == pytest.approx(2.0)


def test_events_to_notes_sets_program_velocity_and_ignores_stray_note_offs() -> None:
    events = np.array([NOTE_OFF, 0, on(64), NOTE_OFF, NOTE_OFF], dtype=np.int64)
    (single,) = events_to_notes(events, qpm=QPM, program=5, velocity=33)
    assert (single.pitch, single.program, single.velocity) == (64, 5, 33)
    assert (single.start, single.end) == pytest.approx((2 * STEP, 3 * STEP))


def test_is_valid_events() -> None:
    assert is_valid_events(np.array([0, 1, 2, 89]))
    assert is_valid_events(np.zeros(0, dtype=np.int64))
    assert not is_valid_events(np.array([0, 90]))
    assert not is_valid_events(np.array([-1, 0]))
    assert not is_valid_events(np.array([0.0, 1.0]))
    assert not is_valid_events(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError):
        events_to_notes(np.array([95]), qpm=QPM)


def test_sounding_mask() -> None:
    events = np.array([0, on(60), 0, NOTE_OFF, 0, on(62), on(64), 0])
    assert sounding_mask(events).tolist() == [False, True, True, False, False, True, True, True]


def test_a_lower_onset_under_a_held_note_outside_the_line_is_ignored() -> None:
    # 67 loses to 72 at step 0 but still sounds when 72 ends; 55 starting then is not the top note.
    notes = [note(72, 0, 4), note(67, 0, 8), note(55, 4, 12), note(69, 8, 12)]
    assert notes_to_events(notes, qpm=QPM, steps=13).tolist() == [on(72), 0, 0, 0, NOTE_OFF, 0, 0, 0, on(69), 0,
                                                                   0, 0, NOTE_OFF]  # fmt: skip
