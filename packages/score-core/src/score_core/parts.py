"""What a band's parts need after decoding: GM programs per part, and drums that answer the video's cuts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from score_core.contracts import Note, Score
from score_core.errors import ScoreError

__all__ = [
    "CONSONANT", "CRASH", "FILL", "consonance", "drums_answer_cuts", "parse_programs", "part_names", "set_programs",
]

CRASH = 49
"""General MIDI crash cymbal 1."""
FILL = (38, 50, 47, 45)
"""A fill's voices from first to last sixteenth: snare, high tom, mid tom, low tom."""
CONSONANT = frozenset({0, 3, 4, 5, 7, 8, 9})
"""Interval classes (semitones mod 12) counted consonant: unison/octave, thirds, fourth, fifth, sixths."""


def part_names(score: Score) -> list[str]:
    """Names of the score's parts, in order of first appearance ('' for notes without a part)."""
    names: dict[str, None] = {}
    for note in sorted(score.notes, key=lambda n: (n.start, n.pitch)):
        names.setdefault(note.part, None)
    return list(names)


def parse_programs(text: str | None) -> dict[str, int]:
    """``melody=73,bass=33`` as {part: General MIDI program}."""
    programs: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        if not name.strip() or not value.strip().isdigit() or not 0 <= int(value) <= 127:
            raise ScoreError(f"--programs {text!r}", f"'{item}' is not PART=PROGRAM with a program 0..127")
        programs[name.strip()] = int(value)
    return programs


def set_programs(score: Score, programs: Mapping[str, int]) -> Score:
    """The score with each named part's pitched notes on its program; an unknown part name is an error."""
    if not programs:
        return score
    present = set(part_names(score))
    unknown = sorted(set(programs) - present)
    if unknown:
        have = ", ".join(sorted(p for p in present if p)) or "none"
        raise ScoreError(f"--programs {unknown[0]}", f"no such part in this score (parts: {have})")
    notes = tuple(
        n.model_copy(update={"program": programs[n.part]}) if n.part in programs and not n.is_drum else n
        for n in score.notes
    )
    return score.model_copy(update={"notes": notes})


def drums_answer_cuts(score: Score, cuts: Sequence[float], *, crash_velocity: int = 110) -> Score:
    """Drums that answer each cut: a crash on the sixteenth nearest the cut and a one-beat fill leading into it.

    The drum notes in the beat before the crash are replaced by a rising four-sixteenth fill. A score without
    drums is returned unchanged.
    """
    drums = [n for n in score.notes if n.is_drum]
    if not drums or not cuts:
        return score
    part = drums[0].part
    step = 60.0 / score.tempo_bpm / 4
    beat = 4 * step
    others = [n for n in score.notes if not n.is_drum]
    answers: list[Note] = []
    windows: list[tuple[float, float]] = []
    for cut in cuts:
        hit = cut if score.tempo_map else round(cut / step) * step  # a tempo map already puts cuts on the grid
        if hit <= beat - 1e-9 or hit >= score.duration - 1e-9:
            continue
        windows.append((hit - beat - 1e-6, hit - 1e-6))
        answers.append(Note(pitch=CRASH, velocity=crash_velocity, start=hit, end=min(hit + 2 * beat, score.duration),
                            is_drum=True, part=part))
        for index, pitch in enumerate(FILL):
            start = hit - beat + index * step
            answers.append(Note(pitch=pitch, velocity=80 + 10 * index, start=start, end=start + step, is_drum=True,
                                part=part))
    kept = [n for n in drums if not any(low <= n.start < high for low, high in windows)]
    notes = sorted([*others, *kept, *answers], key=lambda n: (n.start, n.pitch, n.part))
    return score.model_copy(update={"notes": tuple(notes)})


def consonance(lower: Sequence[Note], upper: Sequence[Note], step: float) -> float | None:
    """Share of grid points (every ``step`` seconds) where both parts sound and their interval is consonant.

    Where several notes of a part sound at once, the lowest of ``lower`` and the highest of ``upper`` count.
    None when the parts never sound together.
    """
    if not lower or not upper:
        return None
    end = max(n.end for n in (*lower, *upper))
    hits = total = 0
    for index in range(int(end / step) + 1):
        time = index * step + step / 2
        low = [n.pitch for n in lower if n.start <= time < n.end]
        high = [n.pitch for n in upper if n.start <= time < n.end]
        if low and high:
            total += 1
            hits += abs(max(high) - min(low)) % 12 in CONSONANT
    return hits / total if total else None
