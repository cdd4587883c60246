"""Form figures: does material come back (recurrence, leitmotifs), does the melody move like one, do the drums
sit where a groove puts them.

- recurrence share: the fraction of 4-bar windows (bar grid from the tempo map, windows with at least two melody
  notes) whose note events (16th-step onset, pitch) come back somewhere else in the piece, not overlapping,
  starting on any bar, transposed or not, with a note-event F1 of at least 0.8;
- repeated-note share: consecutive melody notes of the same pitch, of all consecutive pairs;
- leitmotif test: music under shots that look alike (the same subject returning) against music under shots
  that do not, by the cosine of their duration-weighted pitch-class profiles;
- drum placement: snare hits on beats 2 or 4, kick hits on beats 1 or 3, each of all such hits (±1/8 beat).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from score_core.analysis.musicality import melody_line, upper_parts
from score_core.analysis.tempo import TempoMap
from score_core.contracts import Note

WINDOW_BARS = 4
RECURRENCE_F1 = 0.8
STEPS_PER_BAR = 16
KICKS = frozenset({35, 36})
SNARES = frozenset({37, 38, 40})
BEAT_TOLERANCE = 0.125
"""A drum hit is on a beat when within this fraction of a beat of it."""
SAME_LOOK = 0.9
"""Shots whose colour signatures have at least this cosine are taken as the same subject returning."""


def _window_events(melody: Sequence[Note], start: float, end: float) -> frozenset[tuple[int, int]]:
    step = (end - start) / (WINDOW_BARS * STEPS_PER_BAR)
    return frozenset((round((n.start - start) / step), n.pitch) for n in melody if start - step / 2 <= n.start
                     < end - step / 2)


def _best_f1(a: frozenset[tuple[int, int]], b: frozenset[tuple[int, int]]) -> float:
    if not a or not b:
        return 0.0
    best = 0
    for shift in range(-12, 13):
        moved = {(t, p + shift) for t, p in b}
        best = max(best, len(a & moved))
    return 2 * best / (len(a) + len(b))


def recurrence_share(notes: Sequence[Note], tempo: TempoMap, duration: float) -> float:
    """Share of 4-bar windows that recur elsewhere (see the module docstring); NaN with fewer than 8 bars."""
    melody = melody_line(upper_parts(notes))
    bars = tempo.bar_times(duration + 1e-3)  # the bar line at the very end too
    bars = bars[bars <= duration + 1e-6]
    if bars.size < 2 * WINDOW_BARS + 1:
        return math.nan
    spans = [(float(bars[i]), float(bars[i + WINDOW_BARS])) for i in range(bars.size - WINDOW_BARS)]
    events = [_window_events(melody, a, b) for a, b in spans]
    windows = range(0, len(spans), WINDOW_BARS)
    counted = recurring = 0
    for i in windows:
        if len(events[i]) < 2:
            continue
        counted += 1
        if any(abs(j - i) >= WINDOW_BARS and _best_f1(events[i], events[j]) >= RECURRENCE_F1
               for j in range(len(spans))):
            recurring += 1
    return recurring / counted if counted else math.nan


def repeated_note_share(notes: Sequence[Note]) -> float:
    """Consecutive melody notes of equal pitch, of all consecutive pairs (NaN with fewer than two notes)."""
    pitches = [n.pitch for n in melody_line(upper_parts(notes))]
    if len(pitches) < 2:
        return math.nan
    return sum(a == b for a, b in itertools.pairwise(pitches)) / (len(pitches) - 1)


@dataclass(frozen=True)
class DrumPlacement:
    snare_on_2_or_4: float
    kick_on_1_or_3: float
    hits: int


def drum_placement(notes: Sequence[Note], tempo: TempoMap, duration: float) -> DrumPlacement:
    """Where the snare and kick hits fall in the bar (NaN shares when there are none)."""
    beats = tempo.beat_times(duration + 1.0)
    drums = [n for n in notes if n.is_drum and n.pitch in KICKS | SNARES]
    if beats.size < 2 or not drums:
        return DrumPlacement(math.nan, math.nan, len(drums))

    def beat_in_bar(time: float) -> int | None:
        index = int(np.clip(np.searchsorted(beats, time), 1, beats.size - 1))
        nearest = index if abs(beats[index] - time) < abs(beats[index - 1] - time) else index - 1
        length = float(beats[min(nearest + 1, beats.size - 1)] - beats[max(nearest - 1, 0)]) / 2
        if abs(beats[nearest] - time) > BEAT_TOLERANCE * length:
            return None
        return nearest % tempo.beats_per_bar  # beat 0 is the first downbeat

    def share(pitches: frozenset[int], wanted: set[int]) -> float:
        hits = [beat_in_bar(n.start) for n in drums if n.pitch in pitches]
        return sum(b in wanted for b in hits) / len(hits) if hits else math.nan

    return DrumPlacement(share(SNARES, {1, 3}), share(KICKS, {0, 2}), len(drums))


def pitch_class_profile(notes: Sequence[Note], start: float, end: float) -> np.ndarray:
    """Seconds each pitch class sounds inside [start, end) (pitched notes only)."""
    profile = np.zeros(12)
    for note in notes:
        overlap = min(note.end, end) - max(note.start, start)
        if not note.is_drum and overlap > 0:
            profile[note.pitch % 12] += overlap
    return profile


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 1e-12 else math.nan


@dataclass(frozen=True)
class Leitmotif:
    """Mean music similarity of shot pairs of the same subject and of other pairs, and how many of each."""

    same_subject: float
    other: float
    same_pairs: int
    other_pairs: int


def shot_similarity(notes: Sequence[Note], spans: Sequence[tuple[float, float]], groups: Sequence[int]) -> Leitmotif:
    """The leitmotif test over shots ``spans`` labelled by subject ``groups`` (equal label: same subject)."""
    profiles = [pitch_class_profile(notes, a, b) for a, b in spans]
    same: list[float] = []
    other: list[float] = []
    for i, j in itertools.combinations(range(len(spans)), 2):
        value = _cosine(profiles[i], profiles[j])
        if math.isfinite(value):
            (same if groups[i] == groups[j] else other).append(value)
    return Leitmotif(float(np.mean(same)) if same else math.nan, float(np.mean(other)) if other else math.nan,
                     len(same), len(other))


def colour_signature(frames: Sequence[np.ndarray]) -> np.ndarray:
    """A shot's look: the normalised mean of its frames' 4×4×4 RGB histograms."""
    total = np.zeros(64)
    for frame in frames:
        bins = (np.asarray(frame, dtype=np.uint8) >> 6).reshape(-1, 3).astype(np.int64)
        total += np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64) / max(len(bins), 1)
    return total / max(float(np.linalg.norm(total)), 1e-12)


def subject_groups(signatures: Sequence[np.ndarray], threshold: float = SAME_LOOK) -> list[int]:
    """Shots grouped by look: each shot joins the first earlier group whose first shot it resembles."""
    leaders: list[int] = []
    groups: list[int] = []
    for index, signature in enumerate(signatures):
        for group, leader in enumerate(leaders):
            if _cosine(signature, signatures[leader]) >= threshold:
                groups.append(group)
                break
        else:
            leaders.append(index)
            groups.append(len(leaders) - 1)
    return groups


def form_figures(notes: Sequence[Note], tempo: TempoMap, duration: float,
                 shots: Sequence[tuple[float, float]] = (), groups: Sequence[int] = ()) -> dict[str, object]:
    """Every form figure of ``notes``; the leitmotif test when shot spans and their subject groups are given."""
    figures: dict[str, object] = {
        "recurrence_share": recurrence_share(notes, tempo, duration),
        "repeated_note_share": repeated_note_share(notes),
        "drums": asdict(drum_placement(notes, tempo, duration)),
    }
    if shots and len(set(groups)) < len(groups):
        figures["leitmotif"] = asdict(shot_similarity(notes, shots, groups))
    return figures
