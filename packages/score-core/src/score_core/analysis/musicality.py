"""Musicality figures of a piece, each from a published definition (named in its docstring).

Every function takes notes (score_core ``Note``s, times in seconds) and, where bars matter, a ``TempoMap``.
Drum notes are left out of the pitch figures; the melody of a polyphonic part is its highest note at each
onset (Magenta's melody extraction rule).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from score_core.analysis.tempo import TempoMap
from score_core.contracts import Note

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
"""Pitch classes of a major scale over its tonic; natural minor shares the set of its relative major."""

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KRUMHANSL_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KRUMHANSL_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
CONSONANT_INTERVALS = frozenset({0, 3, 4, 5, 7, 8, 9})
"""Interval classes (semitones mod 12) counted consonant: unison/octave, thirds, sixths, fourth, fifth."""
BASS_PROGRAMS = range(32, 40)
"""General MIDI bass family."""


def pitched(notes: Iterable[Note]) -> list[Note]:
    """Non-drum notes sorted by onset, then pitch."""
    return sorted((n for n in notes if not n.is_drum), key=lambda n: (n.start, n.pitch))


def upper_parts(notes: Iterable[Note]) -> list[Note]:
    """The pitched notes above the bass: every non-drum note not of a GM bass program (all non-drum notes when
    every one is a bass note), so a band's melody figures are not taken over by its bass."""
    pitched_notes = [n for n in notes if not n.is_drum]
    return [n for n in pitched_notes if n.program not in BASS_PROGRAMS] or pitched_notes


def melody_line(notes: Iterable[Note], tolerance: float = 1e-3) -> list[Note]:
    """The highest non-drum note at each onset (onsets closer than ``tolerance`` s count as one)."""
    line: list[Note] = []
    for note in pitched(notes):
        if line and abs(note.start - line[-1].start) <= tolerance:
            if note.pitch > line[-1].pitch:
                line[-1] = note
        else:
            line.append(note)
    return line


def in_scale_fraction(notes: Iterable[Note]) -> float:
    """Share of pitched notes in the best-fitting diatonic scale ("scale consistency", Mogren 2016, C-RNN-GAN).

    Every note counts once; the 12 major scales are tried (each minor scale is the set of its relative major).
    NaN for no notes.
    """
    classes = np.array([n.pitch % 12 for n in pitched(notes)], dtype=np.int64)
    if classes.size == 0:
        return math.nan
    counts = np.bincount(classes, minlength=12)
    best = max(sum(counts[(tonic + step) % 12] for step in MAJOR_SCALE) for tonic in range(12))
    return float(best / classes.size)


def pitch_class_entropy(notes: Iterable[Note], tempo: TempoMap, duration: float, bars_per_window: int = 1) -> float:
    """Mean Shannon entropy (bits) of the pitch-class histogram per window of bars (PCHE; Wu & Yang 2020).

    Histograms count note onsets inside each window; windows without notes are skipped. 0 = one pitch class,
    log2(12) = 3.58 = all twelve equally. NaN when no window has notes.
    """
    notes = pitched(notes)
    bounds = _window_bounds(tempo, duration, bars_per_window)
    entropies = []
    for start, end in itertools.pairwise(bounds):
        classes = [n.pitch % 12 for n in notes if start <= n.start < end]
        if not classes:
            continue
        p = np.bincount(classes, minlength=12) / len(classes)
        p = p[p > 0]
        entropies.append(float(-(p * np.log2(p)).sum()))
    return float(np.mean(entropies)) if entropies else math.nan


def mean_abs_interval(notes: Iterable[Note]) -> float:
    """Mean absolute pitch step (semitones) between consecutive melody notes (MusPy's definition idea)."""
    pitches = np.array([n.pitch for n in melody_line(notes)], dtype=np.float64)
    if pitches.size < 2:
        return math.nan
    return float(np.mean(np.abs(np.diff(pitches))))


def notes_per_second(notes: Sequence[Note], duration: float) -> float:
    """Melody onsets per second: the `melody_line` of the `upper_parts` (a drums-only piece: every hit)."""
    if duration <= 0:
        return math.nan
    melody = melody_line(upper_parts(notes))
    return len(melody or notes) / duration


def empty_bar_rate(notes: Iterable[Note], tempo: TempoMap, duration: float) -> float:
    """Share of bars in which no note sounds (MusPy ``empty_measure_rate``, Dong et al. 2018). NaN for no bars."""
    bounds = _window_bounds(tempo, duration, 1)
    spans = [(n.start, n.end) for n in notes]
    bars = list(itertools.pairwise(bounds))
    if not bars:
        return math.nan
    empty = sum(1 for start, end in bars if not any(s < end and e > start for s, e in spans))
    return empty / len(bars)


def bar_onset_patterns(notes: Iterable[Note], tempo: TempoMap, duration: float, steps: int = 16) -> np.ndarray:
    """Binary (bars, steps) matrix: whether some note starts on each grid step of each full bar."""
    bounds = _window_bounds(tempo, duration, 1, full_only=True)
    patterns = np.zeros((max(len(bounds) - 1, 0), steps), dtype=bool)
    onsets = np.array(sorted(n.start for n in notes), dtype=np.float64)
    for bar, (start, end) in enumerate(itertools.pairwise(bounds)):
        inside = onsets[(onsets >= start - 0.5 * (end - start) / steps) & (onsets < end - 0.5 * (end - start) / steps)]
        step = np.clip(np.round((inside - start) / (end - start) * steps).astype(np.int64), 0, steps - 1)
        patterns[bar, step] = True
    return patterns


def groove_pattern_similarity(notes: Iterable[Note], tempo: TempoMap, duration: float, steps: int = 16) -> float:
    """Grooving pattern similarity (GPS, Wu & Yang 2020): mean over all pairs of bars of 1 − XOR/steps.

    Each bar is its binary onset pattern on a 16th grid; 1 = every bar has the same rhythm. NaN for < 2 bars.
    """
    patterns = bar_onset_patterns(notes, tempo, duration, steps)
    if patterns.shape[0] < 2:
        return math.nan
    p = patterns.astype(np.int64)
    differing = p @ (1 - p).T + (1 - p) @ p.T  # XOR counts for every pair
    upper = np.triu_indices(p.shape[0], k=1)
    return float(np.mean(1.0 - differing[upper] / steps))


def drums_on_eighths(notes: Iterable[Note], tempo: TempoMap, duration: float, tolerance: float = 0.25) -> float:
    """Share of drum onsets on the 8th-note grid (within ``tolerance`` of a 16th step). NaN for no drums."""
    onsets = np.array([n.start for n in notes if n.is_drum], dtype=np.float64)
    if onsets.size == 0:
        return math.nan
    beats = tempo.beat_times(duration + 60.0 / tempo.changes[-1][1])
    if beats.size < 2:
        return math.nan
    index = np.clip(np.searchsorted(beats, onsets, side="right") - 1, 0, beats.size - 2)
    position = (onsets - beats[index]) / (beats[index + 1] - beats[index]) * 4  # in 16ths from the beat
    off_grid = np.abs(position / 2 - np.round(position / 2)) * 2
    return float(np.mean(off_grid <= tolerance))


def bass_melody_consonance(bass: Iterable[Note], melody: Iterable[Note]) -> float:
    """Share of melody onsets whose interval to the sounding bass note is consonant (mod 12).

    Consonant interval classes: unison/octave, minor/major third and sixth, perfect fourth and fifth (common
    practice counts the fourth above the bass as a dissonance; pop usage does not, and we follow it). Melody
    onsets with no bass note sounding are left out; NaN when none is left.
    """
    bass = sorted(bass, key=lambda n: n.start)
    checked = consonant = 0
    for note in melody_line(melody):
        sounding = [b for b in bass if b.start <= note.start < b.end]
        if not sounding:
            continue
        low = min(sounding, key=lambda b: b.pitch)
        checked += 1
        consonant += abs(note.pitch - low.pitch) % 12 in CONSONANT_INTERVALS
    return consonant / checked if checked else math.nan


@dataclass(frozen=True)
class KeyEstimate:
    """A key from the Krumhansl–Schmuckler algorithm and its profile correlation."""

    tonic: int
    mode: str
    correlation: float

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"


def estimate_key(notes: Iterable[Note]) -> KeyEstimate | None:
    """Krumhansl–Schmuckler key finding: the key whose Krumhansl–Kessler profile correlates best (Pearson)
    with the duration-weighted pitch-class distribution. None when there are no pitched notes."""
    weights = np.zeros(12)
    for note in pitched(notes):
        weights[note.pitch % 12] += note.end - note.start
    if not weights.any():
        return None
    best: KeyEstimate | None = None
    for mode, profile in (("major", KRUMHANSL_MAJOR), ("minor", KRUMHANSL_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1]) if weights.std() > 0 else 0.0
            if best is None or r > best.correlation:
                best = KeyEstimate(tonic, mode, r)
    return best


@dataclass(frozen=True)
class Musicality:
    """The musicality figures of one piece (NaN where a figure is undefined)."""

    in_scale: float
    pitch_class_entropy: float
    mean_abs_interval: float
    notes_per_second: float
    empty_bar_rate: float
    groove_similarity: float
    drums_on_eighths: float
    bass_consonance: float
    key: str | None

    def as_dict(self) -> dict[str, float | str | None]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def musicality(notes: Sequence[Note], tempo: TempoMap, duration: float) -> Musicality:
    """All musicality figures of ``notes`` over ``duration`` seconds.

    The bass is the notes of the GM bass programs; the melody the top line of all other pitched notes.
    """
    bass = [n for n in notes if not n.is_drum and n.program in BASS_PROGRAMS]
    upper = [n for n in notes if not n.is_drum and n.program not in BASS_PROGRAMS]
    key = estimate_key(notes)
    return Musicality(
        in_scale=in_scale_fraction(notes),
        pitch_class_entropy=pitch_class_entropy(notes, tempo, duration),
        mean_abs_interval=mean_abs_interval(upper_parts(notes)),
        notes_per_second=notes_per_second(notes, duration),
        empty_bar_rate=empty_bar_rate(notes, tempo, duration),
        groove_similarity=groove_pattern_similarity(notes, tempo, duration),
        drums_on_eighths=drums_on_eighths(notes, tempo, duration),
        bass_consonance=bass_melody_consonance(bass, upper) if bass and upper else math.nan,
        key=key.name if key else None,
    )


def _window_bounds(tempo: TempoMap, duration: float, bars: int, full_only: bool = False) -> np.ndarray:
    """Boundaries of consecutive windows of ``bars`` bars; the last window ends at ``duration`` (or is dropped
    when ``full_only`` and it is shorter than a bar)."""
    downbeats = tempo.bar_times(duration)[::bars]
    if downbeats.size == 0:
        return np.array([0.0, duration]) if duration > 0 and not full_only else np.array([0.0])
    bounds = np.append(downbeats, duration)
    if full_only and bounds.size >= 2:
        bar_length = bars * tempo.beats_per_bar * 60.0 / tempo.changes[-1][1]
        if bounds[-1] - bounds[-2] < bar_length - 1e-6:
            bounds = bounds[:-1]
    return bounds
