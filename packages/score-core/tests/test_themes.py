"""`--form auto`: shots of one subject share a theme, and the theme's latent path and notes return with it."""

from __future__ import annotations

import numpy as np

from score_core.contracts import FeatureTrack, LatentSpec, LatentTrack
from score_core.themes import shot_themes, theme_markers, themed_latents


def _features(looks: list[int], seconds_each: float = 4.0) -> FeatureTrack:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(looks) + 1, 16))
    times = np.arange(0.0, seconds_each * len(looks), 0.5)
    values = np.stack([centres[looks[int(t // seconds_each)]] + 0.05 * rng.standard_normal(16) for t in times])
    return FeatureTrack(times=times, values=values.astype(np.float32), encoder="test", encoder_version="0")


def test_shots_that_show_the_same_subject_share_a_theme():
    assert shot_themes(_features([0, 1, 0, 2, 1]), [4.0, 8.0, 12.0, 16.0]) == [0, 1, 0, 2, 1]
    assert shot_themes(_features([0, 1, 2]), [4.0, 8.0]) == [0, 1, 2]


def test_a_returning_theme_reads_its_first_shots_latent_path_and_is_labelled():
    spec = LatentSpec(size=4, bars_per_segment=2)
    steps = (16, 8, 16, 24)  # shots of 24, 16 and 24 steps: the first shot is two segments
    resets = (False, False, True, True)
    total = sum(steps)
    path = np.random.default_rng(1).standard_normal((total, 4)).astype(np.float32)
    starts = np.cumsum((0, *steps[:-1])) * 0.125
    track = LatentTrack(
        starts=starts, ends=starts + np.asarray(steps) * 0.125, values=np.zeros((4, 4), np.float32), spec=spec,
        tempo_bpm=120.0, step_times=np.arange(total + 1) * 0.125, step_values=path, segment_steps=steps,
        segment_resets=resets,
    )
    themed = themed_latents(track, [0, 1, 0])
    assert themed.segment_themes == (0, 0, 1, 0)
    np.testing.assert_array_equal(themed.step_values[40:64], path[0:24])  # the third shot replays the first
    np.testing.assert_array_equal(themed.step_values[24:40], path[24:40])  # the second keeps its own
    np.testing.assert_allclose(themed.values[3], path[0:24].mean(axis=0), rtol=1e-6)
    assert [m.text for m in theme_markers([3.0, 5.0], [0, 1, 0])] == ["theme A", "theme B", "theme A again"]
