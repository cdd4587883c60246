"""Key-normalised windows: every key of one tune lands on the same C major / A minor window, and back."""

from __future__ import annotations

import numpy as np
import pytest

from score_music.keynorm import (
    NEAR_SHIFT,
    augment_near_key,
    normalise_windows,
    normalising_shifts,
    sounding_pitches,
    transpose_windows,
)
from score_music.melody import FIRST_NOTE_ON, MIN_PITCH, NOTE_OFF, NUM_CLASSES


def _window(pitches: list[int], step: int = 4) -> np.ndarray:
    """One 32-step window: each pitch held for ``step`` sixteenths, the last one released."""
    events = np.zeros(32, np.int64)
    for index, pitch in enumerate(pitches):
        events[index * step] = FIRST_NOTE_ON + pitch - MIN_PITCH
    events[len(pitches) * step - 1] = NOTE_OFF
    return events


C_MAJOR_TUNE = [60, 64, 67, 72, 71, 67, 62, 60]  # arpeggio and a turn that cadences on C
A_MINOR_TUNE = [69, 72, 76, 74, 72, 71, 68, 69]  # with the leading tone G#


def test_sounding_pitches_follow_note_offs_and_rests() -> None:
    events = np.zeros(32, np.int64)
    events[2], events[5], events[6], events[9] = FIRST_NOTE_ON + 39, NOTE_OFF, FIRST_NOTE_ON + 41, NOTE_OFF
    pitches = sounding_pitches(events)[0]
    assert pitches[:2].tolist() == [-1, -1]
    assert pitches[2:5].tolist() == [60, 60, 60] and pitches[5] == -1
    assert pitches[6:9].tolist() == [62, 62, 62] and (pitches[9:] == -1).all()


@pytest.mark.parametrize("tune", [C_MAJOR_TUNE, A_MINOR_TUNE])
def test_every_key_of_a_tune_lands_in_one_key(tune: list[int]) -> None:
    base = _window(tune)
    keys = np.stack([transpose_windows(base[None], np.array([k]))[0] for k in range(-6, 6)])
    normalised, shifts = normalise_windows(keys)
    assert (np.abs(shifts) <= 6).all()
    classes = {tuple(sorted({int(p) % 12 for p in row[row >= 0]})) for row in sounding_pitches(normalised)}
    assert classes == {tuple(sorted({p % 12 for p in tune}))}  # the tune itself is already in C / A minor
    assert (normalised.max(axis=1) - base.max() <= 6).all()  # the nearer octave was taken
    assert np.array_equal(transpose_windows(normalised, -shifts), keys)


def test_a_window_at_the_top_of_the_range_moves_down() -> None:
    top = _window([107, 108, 107, 108])  # B and C at the top: C major, but ambiguous enough to need a move
    shifted = transpose_windows(top[None], np.array([-1]))  # B-flat/B: estimated key needs +1 or -11
    shift = normalising_shifts(shifted)[0]
    moved = shifted + np.where(shifted >= FIRST_NOTE_ON, shift, 0)
    assert moved.max() < NUM_CLASSES and moved[moved >= FIRST_NOTE_ON].min() >= FIRST_NOTE_ON


def test_an_empty_window_is_left_alone() -> None:
    empty = np.zeros((1, 32), np.int64)
    assert normalising_shifts(empty).tolist() == [0]


def test_augmentation_stays_near_the_key_and_in_range() -> None:
    batch = np.repeat(_window(C_MAJOR_TUNE)[None], 4000, axis=0)
    moved = augment_near_key(batch, np.random.default_rng(0))
    shifts = moved[:, 0] - batch[:, 0]
    near = np.abs(shifts) <= NEAR_SHIFT
    assert 0.82 <= near.mean() <= 0.89  # 3/4 near, plus the 5 of 12 wide shifts that fall near: 0.854
    assert set(shifts.tolist()) == set(range(-6, 6))
    top = np.repeat(_window([105, 107, 108, 107])[None], 200, axis=0)
    assert augment_near_key(top, np.random.default_rng(1)).max() < NUM_CLASSES
