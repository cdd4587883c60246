"""Segments that follow shots and the contrast added at cuts, on hand-made scores."""

from itertools import pairwise

import numpy as np

from score_core.contracts import Event, EventTrack, Note, Score
from score_core.response import (
    ACCENT,
    CENTRE_MOVE,
    JOIN,
    accent_steps,
    answer_cuts,
    best_major_key,
    shift_degrees,
    shot_segments,
)
from score_core.tempo import plan_tempo


def test_segments_start_on_every_cut_and_break_on_two_bar_lines():
    plan = plan_tempo([2.0, 2.9, 9.0], None, 14.0, tempo=120.0, max_change=0.0)
    segments = shot_segments(plan, plan.steps, bars_per_segment=2, steps_per_bar=16)
    starts = [s.start for s in segments]
    assert set(plan.cut_steps) <= set(starts)
    assert sum(s.steps for s in segments) == plan.steps
    assert [s.start for s in segments if s.cut] == sorted(plan.cut_steps)
    short = next(s for s in segments if s.start == plan.cut_steps[0])
    assert short.steps == plan.cut_steps[1] - plan.cut_steps[0]  # a shot shorter than a segment: partial
    inside = [s.start for s in segments if not s.cut and s.start not in (0, *plan.cut_steps)]
    assert inside and all(start % 32 == 0 for start in inside)


def _line(start, count, pitch, step=0.125, velocity=80):
    return [Note(pitch=pitch + (i % 3), velocity=velocity, start=start + i * 2 * step, end=start + (i * 2 + 1) * step)
            for i in range(count)]


def _shots(notes, bounds=((0, 2), (2, 4), (4, 6))):
    return [sorted((n for n in notes if lo <= n.start < hi), key=lambda n: n.start) for lo, hi in bounds]


def test_each_cut_starts_a_new_phrase_a_melodic_leap_away_and_accents_it():
    notes = _line(0.0, 8, 60) + _line(2.0, 8, 61) + _line(4.0, 8, 60)
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=6.0)
    answered = answer_cuts(score, [2.0, 4.0], [], [80, 80, 80], 0.125)
    by_shot = _shots(answered.notes)
    centres = [np.mean([n.pitch for n in shot]) for shot in by_shot]
    for before, after in pairwise(by_shot):
        assert JOIN[0] <= abs(after[0].pitch - before[-1].pitch) <= JOIN[1]  # a leap, not a jump of registers
    assert abs(centres[1] - centres[0]) >= CENTRE_MOVE and abs(centres[2] - centres[1]) >= CENTRE_MOVE
    for shot, source in zip(by_shot, _shots(notes), strict=True):  # each shot keeps its own contour
        assert np.all(np.diff([n.pitch for n in shot]) == np.diff([n.pitch for n in source]))
    for shot in by_shot[1:]:
        assert shot[0].velocity >= shot[1].velocity + ACCENT - 1
    assert len(answered.notes) == len(notes)


def test_in_shot_events_are_answered_on_the_next_sixteenth():
    step_times = np.arange(0, 33) * 0.125
    events = EventTrack(events=(Event(time=1.01, strength=2.0, kind="flash"), Event(time=2.0, strength=1.0,
                                                                                      kind="cut")), duration=4.0)
    assert accent_steps(events, step_times, [16]) == (9,)


def test_best_major_key():
    c_major = np.array([60, 62, 64, 65, 67, 69, 71])
    assert best_major_key(c_major, np.ones(7)) == 0
    assert best_major_key(c_major + 7, np.ones(7)) == 7


C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})


def _scale_line(shots=3):
    return [n.model_copy(update={"pitch": [60, 62, 64, 65, 67, 69, 71][i % 7]})
            for i, n in enumerate(note for shot in range(shots) for note in _line(2.0 * shot, 8, 60))]


def test_with_a_piece_scale_each_cut_moves_the_tonal_centre_inside_the_scale():
    notes = _scale_line()
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=6.0)
    answered = answer_cuts(score, [2.0, 4.0], [], [80, 80, 80], 0.125, scale=C_MAJOR)
    assert all(n.pitch % 12 in C_MAJOR for n in answered.notes)
    by_shot = _shots(answered.notes)
    centres = [np.mean([n.pitch for n in shot]) for shot in by_shot]
    assert abs(centres[1] - centres[0]) >= CENTRE_MOVE - 1 and abs(centres[2] - centres[1]) >= CENTRE_MOVE - 1
    for before, after in pairwise(by_shot):
        assert JOIN[0] <= abs(after[0].pitch - before[-1].pitch) <= JOIN[1]
        assert (after[0].pitch - before[-1].pitch) % 12  # never the same pitch class: the centre moves


def test_a_returning_theme_comes_back_on_its_own_pitch_classes():
    notes = _scale_line(4)
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=8.0)
    answered = answer_cuts(score, [2.0, 4.0, 6.0], [], [80] * 4, 0.125, scale=C_MAJOR, themes=[0, 1, 2, 0])
    shots = _shots(answered.notes, ((0, 2), (2, 4), (4, 6), (6, 8)))
    sources = _shots(notes, ((0, 2), (2, 4), (4, 6), (6, 8)))
    moved = [[a.pitch - b.pitch for a, b in zip(shot, source, strict=True)]
             for shot, source in zip(shots, sources, strict=True)]
    degree = {p: i for i, p in enumerate(sorted(C_MAJOR))}
    first = [degree[n.pitch % 12] for n in shots[0]]
    again = [degree[n.pitch % 12] for n in shots[3]]
    source_first = [degree[n.pitch % 12] for n in sources[0]]
    source_again = [degree[n.pitch % 12] for n in sources[3]]
    # the same move in scale degrees as the theme's first appearance (its tonal centre returns)
    def degree_moves(shot, source):
        return [(a - b) % 7 for a, b in zip(shot, source, strict=True)]

    assert degree_moves(again, source_again) == degree_moves(first, source_first)
    assert any(moved[1]) or any(moved[2])  # the shots between did move


def test_a_returning_theme_that_would_leap_too_far_comes_back_whole_octaves_away():
    falling = [72, 71, 69, 67, 65, 64, 62, 60]
    notes = [Note(pitch=p, velocity=80, start=2.0 * shot + i * 0.25, end=2.0 * shot + i * 0.25 + 0.2)
             for shot in range(3) for i, p in enumerate(falling)]
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=6.0)
    answered = answer_cuts(score, [2.0, 4.0], [], [80] * 3, 0.125, scale=C_MAJOR, themes=[0, 1, 0])
    first, between, again = ([n.pitch for n in shot] for shot in _shots(answered.notes))
    assert between[-1] < first[-1]  # the shot between ends below where the theme began
    assert abs(again[0] - between[-1]) <= JOIN[1]  # its own move would have been a leap of more than an octave
    octaves = {b - a for a, b in zip(first, again, strict=True)}
    assert len(octaves) == 1 and octaves.pop() % 12 == 0  # the same notes, whole octaves away


def test_a_denser_shot_adds_passing_tones_not_repeated_notes():
    held = [Note(pitch=p, velocity=80, start=i * 0.5, end=(i + 1) * 0.5) for i, p in enumerate([60, 64, 67, 65])]
    score = Score(notes=tuple(held), tempo_bpm=120, duration=2.0)
    answered = answer_cuts(score, [], [], [80], 0.125, densities=[1], scale=C_MAJOR)
    pitches = [n.pitch for n in sorted(answered.notes, key=lambda n: n.start)]
    assert len(pitches) == 2 * len(held)
    assert all(a != b for a, b in pairwise(pitches))
    assert all(p % 12 in C_MAJOR for p in pitches)
    assert max(abs(a - b) for a, b in pairwise(pitches)) <= 4  # steps between the original notes


def test_a_denser_shot_turns_around_a_held_note_by_a_step_and_a_third():
    held = [Note(pitch=64, velocity=80, start=0.0, end=1.0), Note(pitch=64, velocity=80, start=1.0, end=2.0)]
    score = Score(notes=tuple(held), tempo_bpm=120, duration=2.0)
    answered = answer_cuts(score, [], [], [80], 0.125, densities=[1], scale=C_MAJOR)
    pitches = [n.pitch for n in sorted(answered.notes, key=lambda n: n.start)]
    assert pitches[:5] == [64, 65, 64, 60, 64]  # a step above, back, a third below, back
    assert all(0 < abs(b - a) <= 4 for a, b in pairwise(pitches))
    assert sum(abs(b - a) for a, b in pairwise(pitches)) / (len(pitches) - 1) < 3  # not a broken chord's thirds


def test_a_sparser_shot_keeps_the_nearer_of_each_two_notes_never_a_repeat():
    def sparser(pitches):
        held = [Note(pitch=p, velocity=80, start=i * 0.5, end=(i + 1) * 0.5) for i, p in enumerate(pitches)]
        score = Score(notes=tuple(held), tempo_bpm=120, duration=2.0)
        answered = answer_cuts(score, [], [], [80], 0.125, densities=[-1], scale=C_MAJOR)
        return [(n.pitch, n.start, n.end) for n in sorted(answered.notes, key=lambda n: n.start)]

    assert sparser([60, 62, 67, 64]) == [(60, 0.0, 1.0), (64, 1.0, 2.0)]  # not the leap 60 -> 67
    assert sparser([60, 62, 67, 60]) == [(60, 0.0, 1.0), (67, 1.0, 2.0)]  # the nearer one would repeat the 60


def test_a_denser_shot_walks_between_its_notes_in_one_register():
    held = [Note(pitch=43, velocity=80, start=0.0, end=1.5), Note(pitch=74, velocity=80, start=1.5, end=2.0)]
    score = Score(notes=tuple(held), tempo_bpm=120, duration=2.0)
    answered = answer_cuts(score, [], [], [80], 0.125, densities=[1], scale=C_MAJOR)
    pitches = [n.pitch for n in sorted(answered.notes, key=lambda n: n.start)]
    assert len(pitches) > len(held)
    assert max(abs(b - a) for a, b in pairwise(pitches)) <= 4  # steps up to the next note, not folded into leaps


def test_shift_degrees_walks_the_scale():
    c_major = frozenset({0, 2, 4, 5, 7, 9, 11})
    assert shift_degrees(60, 2, c_major) == 64
    assert shift_degrees(64, 1, c_major) == 65
    assert shift_degrees(60, -1, c_major) == 59
    assert shift_degrees(60, 7, c_major) == 72
    assert shift_degrees(61, 1, c_major) == 63  # C# moves as C does


def test_an_anchored_theme_sounds_the_same_whatever_shot_comes_before_it():
    theme = [Note(pitch=p, velocity=80, start=2.0 + i * 0.5, end=2.5 + i * 0.5) for i, p in enumerate([62, 65, 69])]

    def placed(before: list[int], anchored: frozenset[int]) -> list[int]:
        lead = [Note(pitch=p, velocity=80, start=i * 0.5, end=(i + 1) * 0.5) for i, p in enumerate(before)]
        score = Score(notes=(*lead, *theme), tempo_bpm=120, duration=4.0)
        answered = answer_cuts(score, [2.0], [], [80, 80], 0.125, densities=[0, 1], scale=C_MAJOR, themes=[1, 0],
                               anchored=anchored)
        return [n.pitch for n in sorted(answered.notes, key=lambda n: n.start) if n.start >= 2.0]

    low, high = [48, 50, 52, 53], [76, 77, 79, 81]
    assert placed(low, frozenset({0})) == placed(high, frozenset({0}))
    assert len(placed(low, frozenset({0}))) == len(theme)  # its own density, not the cut's
    assert placed(low, frozenset()) != placed(high, frozenset())  # unanchored, it answers the shot before


def test_a_shot_the_decoder_wrote_two_octaves_low_still_joins_the_shot_before_by_a_leap():
    before = [Note(pitch=p, velocity=80, start=i * 0.5, end=(i + 1) * 0.5) for i, p in enumerate([76, 79, 78, 79])]
    low = [Note(pitch=43, velocity=80, start=2.0, end=3.8), Note(pitch=74, velocity=80, start=3.8, end=4.0)]
    score = Score(notes=(*before, *low), tempo_bpm=120, duration=4.0)
    answered = answer_cuts(score, [2.0], [], [80, 80], 0.125, scale=C_MAJOR)
    pitches = [n.pitch for n in sorted(answered.notes, key=lambda n: n.start)]
    assert JOIN[0] <= abs(pitches[4] - pitches[3]) <= JOIN[1]


def _melody(pitches: list[int], start: float, length: float) -> list[Note]:
    return [Note(pitch=p, velocity=80, start=start + i * length, end=start + (i + 1) * length)
            for i, p in enumerate(pitches)]


def test_the_second_heard_after_a_cut_sits_in_another_register_than_the_second_before_it():
    for before, after in [([55, 55, 79, 79], [77, 77, 60, 60]), ([52, 53, 72, 74], [71, 72, 55, 57])]:
        score = Score(notes=(*_melody(before, 0.0, 0.5), *_melody(after, 2.0, 0.5)), tempo_bpm=120, duration=4.0)
        answered = answer_cuts(score, [2.0], [], [80, 80], 0.125, scale=C_MAJOR)
        pitches = [n.pitch for n in sorted(answered.notes, key=lambda n: n.start)]
        assert abs(np.mean(pitches[4:6]) - np.mean(pitches[2:4])) >= CENTRE_MOVE
        assert JOIN[0] <= abs(pitches[4] - pitches[3]) <= JOIN[1]
