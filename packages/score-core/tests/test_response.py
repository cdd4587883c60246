"""Segments that follow shots and the contrast added at cuts, on hand-made scores."""

import numpy as np

from score_core.contracts import Event, EventTrack, Note, Score
from score_core.response import (
    ACCENT,
    REGISTER_JUMP,
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


def test_each_cut_moves_the_register_and_accents_the_first_note():
    notes = _line(0.0, 8, 60) + _line(2.0, 8, 61) + _line(4.0, 8, 60)
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=6.0)
    answered = answer_cuts(score, [2.0, 4.0], [], [80, 80, 80], 0.125)
    by_shot = [[n for n in answered.notes if lo <= n.start < hi] for lo, hi in ((0, 2), (2, 4), (4, 6))]
    centres = [np.mean([n.pitch for n in shot]) for shot in by_shot]
    assert REGISTER_JUMP >= 7
    assert abs(centres[1] - centres[0]) >= 8 and abs(centres[2] - centres[1]) >= 8  # a third of the range, at least
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


def test_with_a_piece_scale_each_cut_moves_the_register_inside_the_scale():
    c_major = frozenset({0, 2, 4, 5, 7, 9, 11})
    notes = [n.model_copy(update={"pitch": [60, 62, 64, 65, 67, 69, 71][i % 7]})
             for i, n in enumerate(_line(0.0, 8, 60) + _line(2.0, 8, 60) + _line(4.0, 8, 60))]
    score = Score(notes=tuple(notes), tempo_bpm=120, duration=6.0)
    answered = answer_cuts(score, [2.0, 4.0], [], [80, 80, 80], 0.125, scale=c_major)
    assert all(n.pitch % 12 in c_major for n in answered.notes)
    by_shot = [[n.pitch for n in answered.notes if lo <= n.start < hi] for lo, hi in ((0, 2), (2, 4), (4, 6))]
    centres = [np.mean(shot) for shot in by_shot]
    assert abs(centres[1] - centres[0]) >= REGISTER_JUMP - 1 and abs(centres[2] - centres[1]) >= REGISTER_JUMP - 1


def test_shift_degrees_walks_the_scale():
    c_major = frozenset({0, 2, 4, 5, 7, 9, 11})
    assert shift_degrees(60, 2, c_major) == 64
    assert shift_degrees(64, 1, c_major) == 65
    assert shift_degrees(60, -1, c_major) == 59
    assert shift_degrees(60, 7, c_major) == 72
    assert shift_degrees(61, 1, c_major) == 63  # C# moves as C does
