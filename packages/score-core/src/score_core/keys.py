"""A piece in one key: Krumhansl–Schmuckler key estimates, moving music into a chosen key, fitting to its scale.

A key is a tonic pitch class and a mode (major, or natural minor). `estimate_key` correlates a window's
duration-weighted pitch-class histogram with the 24 rotated Krumhansl–Kessler profiles. `key_parts` estimates
the key of every segment of a score (all pitched parts together, so a bass built on the melody moves with it)
and transposes the segment into the piece's key by at most a tritone, mapping the 3rd, 6th and 7th degrees when
the modes differ, so no segment changes key by accident. `fit_to_scale` is the optional, explicit step that
moves the remaining out-of-scale notes to the nearest scale tone.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from score_core.contracts import Note, Score
from score_core.errors import ScoreError

__all__ = [
    "LEAD_PART",
    "Key",
    "estimate_key",
    "fit_to_scale",
    "in_scale_fraction",
    "key_from_colour",
    "key_parts",
    "parse_key",
]

Mode = Literal["major", "minor"]
LEAD_PART = "melody"

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "B#": 0, "E#": 5, "Fb": 4}
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_MAJOR_TO_MINOR = {4: 3, 9: 8, 11: 10}  # degrees (semitones above the tonic) that differ between the modes
_MINOR_TO_MAJOR = {v: k for k, v in _MAJOR_TO_MINOR.items()}


@dataclass(frozen=True, order=True)
class Key:
    """A tonic pitch class (0 = C) and a mode."""

    tonic: int
    mode: Mode

    @property
    def name(self) -> str:
        return f"{NAMES[self.tonic]} {self.mode}"

    def scale(self) -> frozenset[int]:
        """The pitch classes of the key's diatonic scale (natural minor for minor keys)."""
        steps = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE
        return frozenset((self.tonic + step) % 12 for step in steps)


def parse_key(text: str) -> Key:
    """A Key from text such as "D minor", "F# major", "Bbm" or "a" (lower case alone means minor)."""
    words = text.strip().replace("-", " ").split()
    if not words or len(words) > 2:
        raise ScoreError(f"--key {text!r}", 'expected a tonic and a mode, such as "D minor" or "Eb major"')
    tonic_text, mode_text = words[0], (words[1].lower() if len(words) == 2 else "")
    if len(words) == 1 and len(tonic_text) > 1 and tonic_text.endswith("m") and tonic_text[:-1]:
        tonic_text, mode_text = tonic_text[:-1], "minor"
    if not mode_text:
        mode_text = "minor" if tonic_text[:1].islower() else "major"
    normal = tonic_text[:1].upper() + tonic_text[1:]
    tonic = NAMES.index(normal) if normal in NAMES else _ALIASES.get(normal)
    mode = {"major": "major", "maj": "major", "minor": "minor", "min": "minor"}.get(mode_text)
    if tonic is None or mode is None:
        raise ScoreError(f"--key {text!r}", 'expected a tonic and a mode, such as "D minor" or "Eb major"')
    return Key(tonic, mode)  # type: ignore[arg-type]


def pitch_class_weights(notes: Iterable[Note]) -> np.ndarray:
    """Duration-weighted pitch-class histogram (12,) of pitched notes."""
    weights = np.zeros(12)
    for note in notes:
        if not note.is_drum:
            weights[note.pitch % 12] += note.end - note.start
    return weights


def estimate_key(notes: Iterable[Note]) -> Key | None:
    """The Krumhansl–Schmuckler key of the notes; None when fewer than two pitch classes sound."""
    weights = pitch_class_weights(notes)
    if np.count_nonzero(weights) < 2:
        return None
    best: tuple[float, Key] | None = None
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            correlation = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
            if best is None or correlation > best[0] + 1e-12:
                best = (correlation, Key(tonic, mode))  # type: ignore[arg-type]
    return best[1] if best else None


def in_scale_fraction(notes: Sequence[Note]) -> float:
    """Fraction of pitched notes inside the best-fitting diatonic scale (of 12 major scales); 1.0 when empty."""
    counts = np.bincount([n.pitch % 12 for n in notes if not n.is_drum], minlength=12)
    if counts.sum() == 0:
        return 1.0
    best = max(sum(counts[(tonic + s) % 12] for s in MAJOR_SCALE) for tonic in range(12))
    return float(best / counts.sum())


def move_pitch(pitch: int, source: Key, target: Key) -> int:
    """``pitch`` moved from ``source`` to ``target``: a transposition of at most a tritone, then mode degrees."""
    shift = (target.tonic - source.tonic) % 12
    if shift > 6:
        shift -= 12
    degree = (pitch - source.tonic) % 12
    if source.mode != target.mode:
        mapping = _MAJOR_TO_MINOR if source.mode == "major" else _MINOR_TO_MAJOR
        shift += mapping.get(degree, degree) - degree
    return int(np.clip(pitch + shift, 0, 127))


def fit_to_scale(pitch: int, key: Key, previous: int | None = None, source_previous: int | None = None) -> int:
    """The nearest pitch in the key's scale. On a tie: with ``source_previous`` (the previous note as it was
    before fitting, ``previous`` as fitted), the one that moves from ``previous`` the way the line moved, so a
    step never becomes a repeated note; else the one nearer ``previous`` (else the lower)."""
    scale = key.scale()
    if pitch % 12 in scale:
        return pitch
    candidates = [p for p in (pitch - 1, pitch + 1) if p % 12 in scale and 0 <= p <= 127]
    if previous is not None and len(candidates) == 2:
        if source_previous is not None and pitch != source_previous:
            direction = 1 if pitch > source_previous else -1
            return min(candidates, key=lambda p: (p == previous, (p - previous) * direction < 0, abs(p - previous), p))
        return min(candidates, key=lambda p: (abs(p - previous), p))
    return candidates[0]


def key_from_colour(mean_rgb: Sequence[float]) -> Key:
    """A key from the picture's mean colour (0..255): bright → major, dark → minor; hue → tonic (circle of fifths)."""
    red, green, blue = (float(np.clip(c, 0, 255)) / 255.0 for c in mean_rgb)
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    hue, _, _ = colorsys.rgb_to_hsv(red, green, blue)
    fifths = round(hue * 12) % 12
    return Key((fifths * 7) % 12, "major" if luma >= 0.4 else "minor")


def key_parts(
    score: Score, starts: Sequence[float], key: Key, *, fit: bool = False
) -> tuple[Score, list[Key | None]]:
    """Each segment (from each start to the next) of the score's pitched notes moved into ``key``.

    The segment's key is estimated from its lead part (notes of part ``LEAD_PART``, "melody", when there are any;
    else all pitched notes), so parts built on the melody's chords move with it and stay on its chords.
    Returns the new score and each segment's estimated source key (None where a segment had too few notes and
    the previous estimate was used). Drums are left alone. With ``fit``, out-of-scale notes then move to the
    nearest scale tone.
    """
    bounds = [*map(float, starts), float("inf")]
    pitched = sorted((n for n in score.notes if not n.is_drum), key=lambda n: (n.start, n.pitch))
    lead = LEAD_PART if any(n.part == LEAD_PART for n in pitched) else None
    drums = [n for n in score.notes if n.is_drum]
    moved: list[Note] = []
    estimates: list[Key | None] = []
    previous_key = key
    for index in range(len(bounds) - 1):
        low, high = bounds[index], bounds[index + 1]
        segment = [n for n in pitched if (low <= n.start < high) or (index == 0 and n.start < low)]
        source = estimate_key([n for n in segment if lead is None or n.part == lead])
        estimates.append(source)
        source = source or previous_key
        previous_key = source
        moved.extend(n.model_copy(update={"pitch": move_pitch(n.pitch, source, key)}) for n in segment)
    if fit:
        moved = _fitted(moved, key)
    return score.model_copy(update={"notes": tuple(sorted([*moved, *drums], key=_order))}), estimates


def _fitted(notes: list[Note], key: Key) -> list[Note]:
    out: list[Note] = []
    previous: dict[str, tuple[int, int]] = {}  # per part: (pitch before fitting, fitted pitch)
    for note in sorted(notes, key=_order):
        source, fitted = previous.get(note.part, (None, None))
        pitch = fit_to_scale(note.pitch, key, fitted, source)
        previous[note.part] = (note.pitch, pitch)
        out.append(note.model_copy(update={"pitch": pitch}) if pitch != note.pitch else note)
    return out


def _order(note: Note) -> tuple[float, int, str]:
    return note.start, note.pitch, note.part
