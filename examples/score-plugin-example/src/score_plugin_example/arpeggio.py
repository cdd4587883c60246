"""A rule-based decoder: each latent segment becomes an arpeggio over a chord of one key.

Latent dimensions (standard normal): 0 chord, 1 register, 2 density, 3 velocity, 4 pattern shape, 5 key (its
mean over the whole video), 6 bass on or off, 7 note length. Temperature adds seeded noise to the latents
before they are read; at temperature 0 the music depends on the latents alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Marker, Note, Score

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
CHORD_DEGREES = (0, 5, 3, 4, 1, 2)  # I, vi, IV, V, ii, iii: most to least common
DENSITIES = (1, 2, 4)  # notes per beat
PATTERNS = ("up", "down", "up-down", "broken")
PIANO, BASS = 0, 33


def _normal_cdf(value: float) -> float:
    return 0.5 * (1.0 + math.erf(value / math.sqrt(2.0)))


def _pick(value: float, count: int) -> int:
    """Quantile index of a standard-normal value among ``count`` equally likely choices."""
    return min(int(_normal_cdf(value) * count), count - 1)


def chord_pitches(key_root: int, degree: int, octave_shift: int) -> list[int]:
    """Root-position triad plus octave on ``degree`` of the major scale starting at ``key_root``."""
    steps = [degree, degree + 2, degree + 4, degree + 7]
    pitches = []
    for step in steps:
        octave, index = divmod(step, 7)
        pitches.append(key_root + 12 * (octave + octave_shift) + MAJOR_SCALE[index])
    return pitches


def _ordered(pitches: list[int], pattern: str) -> list[int]:
    if pattern == "down":
        return pitches[::-1]
    if pattern == "up-down":
        return pitches + pitches[-2:0:-1]
    if pattern == "broken":
        return [pitches[i] for i in (0, 2, 1, 3)]
    return pitches


class ArpeggioDecoder:
    """Decodes a LatentTrack into piano arpeggios with an optional bass line."""

    def __init__(self, spec: LatentSpec) -> None:
        self.latent_spec = spec

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        rng = np.random.default_rng(seed)
        values = latents.values.astype(np.float64)
        if temperature > 0:
            values = values + temperature * 0.5 * rng.standard_normal(values.shape)
        key_root = 60 + (_pick(float(values[:, 5].mean()), 12) - 6)
        beat = 60.0 / latents.tempo_bpm
        notes: list[Note] = []
        markers: list[Marker] = []
        for index, z in enumerate(values):
            start, end = float(latents.starts[index]), float(latents.ends[index])
            markers.append(Marker(time=start, text=f"segment {index + 1}"))
            degree = CHORD_DEGREES[_pick(z[0], len(CHORD_DEGREES))]
            pitches = chord_pitches(key_root, degree, _pick(z[1], 3) - 1)
            per_beat = DENSITIES[_pick(z[2], len(DENSITIES))]
            velocity = 50 + _pick(z[3], 61)
            pattern = _ordered(pitches, PATTERNS[_pick(z[4], len(PATTERNS))])
            length = 0.5 + 0.45 * _normal_cdf(z[7])
            step = beat / per_beat
            count = round((end - start) / step)
            for position in range(count):
                onset = start + position * step
                accent = 12 if position % per_beat == 0 else 0
                notes.append(
                    Note(pitch=pattern[position % len(pattern)], velocity=min(127, velocity + accent),
                         start=onset, end=min(onset + step * length, end), program=PIANO)
                )
            if z[6] > -0.5:
                bass = pitches[0] - 24
                beats = round((end - start) / beat)
                for bar_start in range(0, beats, self.latent_spec.beats_per_bar):
                    onset = start + bar_start * beat
                    notes.append(Note(pitch=bass, velocity=max(1, velocity - 10), start=onset,
                                      end=min(onset + beat * self.latent_spec.beats_per_bar * 0.95, end),
                                      program=BASS))
        return Score(notes=tuple(notes), tempo_bpm=latents.tempo_bpm, markers=tuple(markers),
                     duration=float(latents.ends[-1]))

    def provenance(self) -> dict[str, Any]:
        return {"weights": None, "rules": "arpeggio v1"}
