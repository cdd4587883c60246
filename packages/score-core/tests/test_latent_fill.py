"""Latent dimensions a short video's bridge cannot reach are filled from the prior, per seed."""

from __future__ import annotations

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack
from score_core.latent_fill import axis_signs, fill_from_prior, orient_for_seed, unsupported_dimensions


def _track(values: np.ndarray, prior: str = "standard-normal", with_steps: bool = False) -> LatentTrack:
    spec = LatentSpec(size=values.shape[1], bars_per_segment=2, prior=prior)
    n = values.shape[0]
    starts = np.arange(n) * 4.0
    extra: dict[str, object] = {}
    if with_steps:
        extra = {
            "step_values": np.repeat(values, 32, axis=0),
            "step_times": np.arange(32 * n + 1) * 0.125,
            "segment_steps": (32,) * n,
        }
    return LatentTrack(starts=starts, ends=starts + 4.0, values=values, spec=spec, tempo_bpm=120.0, **extra)


def _values() -> np.ndarray:
    values = np.zeros((3, 8), np.float32)
    values[:, :3] = np.random.default_rng(4).standard_normal((3, 3))
    values[1, 5] = 0.5  # one segment is enough to make a dimension supported
    return values


def test_only_the_dimensions_zero_everywhere_are_unsupported():
    assert unsupported_dimensions(_track(_values())).tolist() == [3, 4, 6, 7]


def test_unsupported_dimensions_take_one_prior_draw_for_the_whole_piece():
    original = _values()
    filled = fill_from_prior(_track(original, with_steps=True), seed=0)
    np.testing.assert_array_equal(filled.values[:, [0, 1, 2, 5]], original[:, [0, 1, 2, 5]])
    idle = filled.values[:, [3, 4, 6, 7]]
    assert np.all(idle != 0)
    np.testing.assert_array_equal(idle, np.broadcast_to(idle[0], idle.shape))
    assert filled.step_values is not None
    np.testing.assert_array_equal(filled.step_values[:, [3, 4, 6, 7]], np.broadcast_to(idle[0], (96, 4)))
    np.testing.assert_array_equal(filled.step_values[:, :3], np.repeat(original[:, :3], 32, axis=0))


def test_the_fill_follows_the_seed_and_the_prior():
    track = _track(_values())
    np.testing.assert_array_equal(fill_from_prior(track, 3).values, fill_from_prior(track, 3).values)
    assert not np.array_equal(fill_from_prior(track, 3).values, fill_from_prior(track, 4).values)
    uniform = fill_from_prior(_track(_values(), prior="uniform"), 3).values[:, [3, 4, 6, 7]]
    assert np.all(np.abs(uniform) <= 1.0)


def test_a_fully_supported_track_is_returned_unchanged():
    track = _track(np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32))
    assert fill_from_prior(track, 0) is track


def test_seed_zero_keeps_the_bridge_axes_and_other_seeds_flip_half_of_them():
    original = _track(_values(), with_steps=True)
    assert orient_for_seed(original, 0) is original
    flips = [tuple(np.flatnonzero(axis_signs(seed, 8) < 0)) for seed in range(1, 6)]
    assert all(len(f) == 4 for f in flips) and len(set(flips)) > 1
    oriented = orient_for_seed(original, 3)
    signs = axis_signs(3, 8)
    np.testing.assert_allclose(oriented.values, original.values * signs)
    np.testing.assert_allclose(oriented.step_values, original.step_values * signs)
    jumps = np.linalg.norm(np.diff(original.values, axis=0), axis=1)  # the picture's moves keep their size
    np.testing.assert_allclose(np.linalg.norm(np.diff(oriented.values, axis=0), axis=1), jumps, rtol=1e-6)
