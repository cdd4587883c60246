"""The cut-aware tempo map: cuts land exactly on the grid it promises, tempo moves stay within bounds."""

import numpy as np
import pytest

from score_core.errors import ScoreError
from score_core.tempo import STEPS_PER_BEAT, plan_tempo

CUTS = [1.2, 3.04, 5.48, 7.48, 9.68]


def _beats_at_cuts(plan, cuts):
    return np.array(plan.cut_steps) / STEPS_PER_BEAT


def test_cuts_land_on_the_grid_point_the_plan_promises():
    plan = plan_tempo(CUTS, [2.7, 1.6, 1.4, 1.8, 1.8], 10.0)
    assert 80.0 <= plan.tempo_bpm <= 140.0
    for cut, step, place, error in zip(CUTS, plan.cut_steps, plan.placements, plan.cut_error(CUTS), strict=True):
        assert place != "snapped"
        assert abs(error) < 1e-9, (cut, place)
        if place == "downbeat":
            assert step % (4 * STEPS_PER_BEAT) == 0
        elif place == "beat":
            assert step % STEPS_PER_BEAT == 0
    assert all(abs(c.bpm / plan.tempo_bpm - 1) <= 0.04 + 1e-9 for c in plan.changes)
    assert plan.step_times[0] == 0.0 and plan.step_times[-1] >= 10.0


def test_regular_cuts_get_a_steady_tempo_with_every_cut_on_a_downbeat():
    cuts = [2.0, 4.0, 6.0, 8.0]  # every bar of 4/4 at 120 bpm
    plan = plan_tempo(cuts, None, 10.0)
    assert set(plan.placements) == {"downbeat"}
    assert len(plan.changes) == 1 and plan.changes[0].bpm == pytest.approx(120.0)


def test_fixed_tempo_is_the_base_and_a_too_short_shot_snaps_to_the_nearest_sixteenth():
    plan = plan_tempo([1.03, 1.6], None, 4.0, tempo=100.0, max_change=0.0)
    sixteenth = 60.0 / 100.0 / STEPS_PER_BEAT
    assert plan.tempo_bpm == 100.0 and [c.bpm for c in plan.changes] == [100.0]
    assert np.all(np.abs(plan.cut_error([1.03, 1.6])) <= sixteenth / 2 + 1e-9)
    assert "snapped" in plan.placements


def test_no_cuts_gives_one_tempo_covering_the_video():
    plan = plan_tempo([], None, 3.3, tempo_range=(90, 90))
    assert plan.cut_steps == () and [c.bpm for c in plan.changes] == [90.0]
    assert plan.step_times[-1] >= 3.3 and plan.step_times[-2] < 3.3


def test_bad_range_is_a_score_error():
    with pytest.raises(ScoreError):
        plan_tempo([1.0], None, 3.0, tempo_range=(140, 80))
