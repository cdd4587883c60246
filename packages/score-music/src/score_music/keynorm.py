"""Key-normalised melody windows: each window moved to C major / A minor by its own Krumhansl–Schmuckler key.

The melody model learns windows in one key (plus a small transposition augmentation), so its capacity goes to
melody rather than to twelve copies of it, and its prior samples come out in C major / A minor for the pipeline
to move into the piece's key (`score_core.keys.key_parts`). A window's key is the best of the 24 rotated
Krumhansl–Kessler profiles correlated with its duration-weighted pitch classes (its sounding steps);
`normalising_shifts` gives the transposition to C major / A minor, the one of the two octave choices that keeps
the window's notes in range and nearer to where they were.
"""

from __future__ import annotations

import numpy as np

from score_core.keys import MAJOR_PROFILE, MINOR_PROFILE
from score_music.melody import FIRST_NOTE_ON, MIN_PITCH, NUM_CLASSES

__all__ = [
    "NEAR_SHIFT",
    "WIDE_SHARE",
    "augment_near_key",
    "normalise_windows",
    "normalising_shifts",
    "shift_where_it_fits",
    "sounding_pitches",
    "transpose_windows",
]

NEAR_SHIFT = 2
"""Augmentation around the normalised key: a shift in -NEAR_SHIFT..NEAR_SHIFT semitones."""
WIDE_SHARE = 0.25
"""Share of augmented windows shifted to any of the twelve keys instead, so a caller's window in any key that
skips normalisation still meets a model that has seen every key."""
_MINOR_TONIC = 9  # A: minor windows go to A minor, the relative minor of C major


def sounding_pitches(windows: np.ndarray) -> np.ndarray:
    """MIDI pitch sounding at each step of each window (int64, same shape), -1 where none sounds."""
    events = np.atleast_2d(np.asarray(windows, dtype=np.int64))
    steps = np.arange(events.shape[1])
    changes = events != 0  # a note-on or a note-off decides what sounds from here on
    last_change = np.maximum.accumulate(np.where(changes, steps, -1), axis=1)
    decided = np.take_along_axis(events, np.maximum(last_change, 0), axis=1)
    sounding = (last_change >= 0) & (decided >= FIRST_NOTE_ON)
    return np.where(sounding, decided - FIRST_NOTE_ON + MIN_PITCH, -1)


def _key_scores(windows: np.ndarray) -> np.ndarray:
    """Correlation of each window's pitch-class weights with the 24 profiles: (N, 24), major keys first."""
    pitches = sounding_pitches(windows)
    weights = np.zeros((pitches.shape[0], 12))
    rows, cols = np.nonzero(pitches >= 0)
    np.add.at(weights, (rows, pitches[rows, cols] % 12), 1.0)
    profiles = np.stack([np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE) for tonic in range(12)])
    w = weights - weights.mean(axis=1, keepdims=True)
    p = profiles - profiles.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(w, axis=1, keepdims=True) * np.linalg.norm(p, axis=1)[None, :]
    return np.divide(w @ p.T, norms, out=np.zeros((len(w), 24)), where=norms > 0)


def _range(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    notes = windows >= FIRST_NOTE_ON
    low = np.where(notes, windows, NUM_CLASSES).min(axis=1)
    high = np.where(notes, windows, 0).max(axis=1)
    return low, high


def normalising_shifts(windows: np.ndarray) -> np.ndarray:
    """Semitones (int64, -6..+6) that move each window to C major / A minor; 0 for a window with no notes.

    Of the two octave choices the smaller move is taken unless it would push a note out of the model's range.
    """
    events = np.atleast_2d(np.asarray(windows, dtype=np.int64))
    scores = _key_scores(events)
    best = scores.argmax(axis=1)
    tonic, minor = best % 12, best >= 12
    down = -((tonic - np.where(minor, _MINOR_TONIC, 0)) % 12)  # -11..0
    up = down + 12
    low, high = _range(events)
    first = np.where(-down <= up, down, up)
    second = np.where(-down <= up, up, down)
    fits = (low + first >= FIRST_NOTE_ON) & (high + first < NUM_CLASSES)
    shifts = np.where(fits, first, second)
    fits_second = (low + shifts >= FIRST_NOTE_ON) & (high + shifts < NUM_CLASSES)
    no_notes = ~(events >= FIRST_NOTE_ON).any(axis=1)
    return np.where(fits_second & ~no_notes, shifts, 0).astype(np.int64)


def transpose_windows(windows: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Windows with each row's note-ons moved by its shift (the caller keeps them in range)."""
    events = np.atleast_2d(np.asarray(windows))
    moved = events.astype(np.int64) + np.where(events >= FIRST_NOTE_ON, np.asarray(shifts)[:, None], 0)
    return moved.astype(events.dtype)


def normalise_windows(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windows moved to C major / A minor, the shift applied to each); undo with ``transpose_windows(w, -s)``."""
    shifts = normalising_shifts(windows)
    return transpose_windows(windows, shifts), shifts


def shift_where_it_fits(windows: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Windows moved by their shifts, except a window the shift would push out of range, which stays."""
    events = np.asarray(windows)
    low, high = _range(events.astype(np.int64))
    fits = (low + shifts >= FIRST_NOTE_ON) & (high + shifts < NUM_CLASSES)
    return transpose_windows(events, np.where(fits, shifts, 0))


def augment_near_key(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift each normalised window by -NEAR_SHIFT..NEAR_SHIFT semitones, or (WIDE_SHARE of them) -6..+5.

    A shift that would push a note out of range leaves the window where it is.
    """
    count = np.asarray(batch).shape[0]
    near = rng.integers(-NEAR_SHIFT, NEAR_SHIFT + 1, size=count)
    wide = rng.integers(-6, 6, size=count)
    return shift_where_it_fits(batch, np.where(rng.random(count) < WIDE_SHARE, wide, near))
