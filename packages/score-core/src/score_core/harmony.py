"""A chord per shot under the melody: the harmony moves at each cut, the way a film score changes chord on a cut.

Each shot gets the triad of the piece's scale (major and minor triads on every root without a key) that holds
the most of its melody's duration as chord tones, among the triads sharing at most SHARED_TONES tones with the
previous shot's chord, so that every cut is a real harmonic move; a returning theme brings its chord back, and
every second return re-harmonises it (the best-fitting other chord under the same tune), so a theme that keeps
returning is varied rather than repeated. The
chord enters with the shot's first melody note and is held to its end, softly, in close position below the
melody's lowest note, on its own part and program; at a cut its voicing moves the way the melody's register
moved, so the accompaniment answers the cut with the melody instead of holding the register against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from score_core.contracts import Note, Score

#: The part and default General MIDI program of the chords (String Ensemble 1).
HARMONY_PART = "harmony"
HARMONY_PROGRAM = 48
#: Consecutive shots' chords share at most this many pitch classes.
SHARED_TONES = 1
#: The chord's root lies between these pitches; its tones are stacked above it in close position.
LOWEST_ROOT, HIGHEST_ROOT = 36, 59
#: Chord velocity as a share of the shot's first melody note's velocity.
SOFTER = 0.6
#: At a cut the chord's voicing moves at least this many semitones (mean pitch) the way the melody's centre moves.
VOICING_MOVE = 4
#: The lowest and highest tone a moved voicing may reach (below G2 a close triad is muddy).
LOWEST_TONE, HIGHEST_TONE = 43, 71


Chord = tuple[int, int, int]
"""A triad's pitch classes: root, third, fifth."""


def scale_triads(scale: frozenset[int] | None) -> list[Chord]:
    """The triads on every degree of a seven-note ``scale``; all 24 major and minor triads without one."""
    if scale is not None and len(scale) == 7:
        degrees = sorted(scale)
        return [(degrees[i], degrees[(i + 2) % 7], degrees[(i + 4) % 7]) for i in range(7)]
    return [(root, (root + third) % 12, (root + 7) % 12) for root in range(12) for third in (4, 3)]


def shot_chords(melody: Sequence[Sequence[Note]], scale: frozenset[int] | None,
                themes: Sequence[int] = ()) -> list[Chord | None]:
    """A chord per shot (None for a shot without melody), each a move away from the one before it."""
    triads = scale_triads(scale)
    chords: list[Chord | None] = []
    by_theme: dict[int, Chord] = {}
    appearances: dict[int, int] = {}
    previous: Chord | None = None
    for shot, notes in enumerate(melody):
        theme = themes[shot] if shot < len(themes) else None
        if not notes:
            chords.append(None)
            continue
        returns = appearances.get(theme, 0) if theme is not None else 0
        if theme is not None and theme in by_theme and returns % 2:
            chord = by_theme[theme]
        else:
            classes = np.zeros(12)
            for note in notes:
                classes[note.pitch % 12] += note.end - note.start
            moving = [t for t in triads if previous is None or len(set(t) & set(previous)) <= SHARED_TONES] or triads
            if theme in by_theme:  # every second return is re-harmonised: the same tune under another chord
                moving = [t for t in moving if t != by_theme[theme]] or moving
            chord = max(moving, key=lambda t: (sum(classes[c] for c in t), -triads.index(t)))
        if theme is not None:
            by_theme.setdefault(theme, chord)
            appearances[theme] = returns + 1
        chords.append(chord)
        previous = chord
    return chords


def voiced(chord: Chord, below: int) -> list[int]:
    """The chord in close position with its top tone under ``below`` (the melody's lowest note), its root no
    lower than LOWEST_ROOT and no higher than HIGHEST_ROOT."""
    span = (chord[2] - chord[0]) % 12
    root = max((p for p in range(LOWEST_ROOT, HIGHEST_ROOT + 1) if p % 12 == chord[0] and p + span < below),
               default=next(p for p in range(LOWEST_ROOT, LOWEST_ROOT + 12) if p % 12 == chord[0]))
    return [root + (c - chord[0]) % 12 for c in chord]


def voicings(chord: Chord, below: int) -> list[list[int]]:
    """Every close-position voicing of ``chord`` (each inversion, every octave) between LOWEST_TONE and
    HIGHEST_TONE, its top tone under ``below``."""
    found = []
    for inversion in range(3):
        order = chord[inversion:] + chord[:inversion]
        for bottom in range(LOWEST_TONE + (order[0] - LOWEST_TONE) % 12, HIGHEST_TONE + 1, 12):
            tones = [bottom]
            for pitch_class in order[1:]:
                tones.append(tones[-1] + (pitch_class - tones[-1]) % 12)
            if tones[-1] < below and tones[-1] <= HIGHEST_TONE:
                found.append(tones)
    return found


def following_voicing(chord: Chord, below: int, previous: list[int] | None, melody_move: float) -> list[int]:
    """`voiced` for the first chord; after a cut, the voicing whose mean pitch moves VOICING_MOVE or more the
    way the melody's centre moved (``melody_move`` semitones) and nearest to moving as far as it (where none can
    move that far, the one moving furthest that way), so the accompaniment's register answers the cut with the
    melody rather than against it."""
    default = voiced(chord, below)
    if previous is None or not melody_move:
        return default
    direction = 1 if melody_move > 0 else -1
    centre = float(np.mean(previous))
    wanted = centre + direction * max(VOICING_MOVE, abs(melody_move))
    moving = [v for v in voicings(chord, below) if direction * (float(np.mean(v)) - centre) > 0]
    return min(moving, key=lambda v: (direction * (float(np.mean(v)) - centre) < VOICING_MOVE,
                                      abs(float(np.mean(v)) - wanted))) if moving else default


def with_shot_chords(score: Score, shot_starts: Sequence[float], scale: frozenset[int] | None,
                     themes: Sequence[int] = (), program: int = HARMONY_PROGRAM, pulsed: Sequence[bool] = (),
                     beat: float = 0.5) -> Score:
    """The score with a chord under each shot's melody (the melody is every pitched note outside a band's
    bass): held to the cut, or in the shots marked ``pulsed`` (the busier ones) struck again with every melody
    note on a ``beat`` (seconds from the chord's entry), so the texture changes with the picture's motion too
    and the melody stays the top voice at every onset; a score without melody is returned as it is."""
    bounds = [0.0, *shot_starts, score.duration]
    melodic = [n for n in score.notes if not n.is_drum and n.part not in ("bass", HARMONY_PART)]
    if not melodic:
        return score
    shots = [[n for n in melodic if lo <= n.start < hi] for lo, hi in pairwise(bounds)]
    chords = shot_chords(shots, scale, themes)
    added: list[Note] = []
    previous: tuple[list[int], float] | None = None  # the last chord's voicing and its melody's centre
    for shot, ((start, end), notes, chord) in enumerate(zip(pairwise(bounds), shots, chords, strict=True)):
        if chord is None or end - start <= 0:
            continue
        centre = float(np.average([n.pitch for n in notes], weights=[n.end - n.start for n in notes]))
        lowest = min(n.pitch for n in notes)
        before, before_centre = previous if previous is not None else (None, centre)
        pitches = following_voicing(chord, lowest, before, centre - before_centre)
        previous = (pitches, centre)
        entry = min(n.start for n in notes)  # with the phrase's first note, so the melody stays on top
        velocity = max(1, round(SOFTER * max(n.velocity for n in notes)))
        strikes = [entry]
        if shot < len(pulsed) and pulsed[shot] and beat > 0:  # with the melody, so it stays the top voice
            strikes += sorted({n.start for n in notes if n.start > entry + beat / 2
                               and abs((n.start - entry) / beat - round((n.start - entry) / beat)) < 0.05})
        for begin, finish in zip(strikes, [*strikes[1:], end], strict=True):
            for pitch in pitches:
                added.append(Note(pitch=pitch, velocity=min(127, velocity), start=begin, end=finish,
                                  program=program, part=HARMONY_PART))
    return score.model_copy(update={"notes": (*score.notes, *added)})
