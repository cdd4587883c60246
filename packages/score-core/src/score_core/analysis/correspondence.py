"""How the music answers the picture: hits at cuts, the change response at cuts, lag, motion vs density.

Conventions: cuts are the times (s) of the first frame of each new shot; ``duration`` is the video's length;
positive lags mean the music comes after the picture. Significance comes from circular shifts: the cut set is
rotated by evenly spaced offsets over the piece (keeping its gaps), which keeps both signals' structure and
breaks only their alignment, so dense music that hits cuts by chance scores z ≈ 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from score_core.analysis.matching import hit_scores
from score_core.contracts import Note, SignalTrack

SHIFTS = 200
"""Circular shifts of the cut set in each baseline."""
CHANGE_WINDOW = 1.0
"""Seconds of music compared before and after each point by the musical change signal."""
CHANGE_STEP = 0.05
"""Grid of the musical change signal, seconds."""
CUT_REACH = 0.1
"""A change this close to a cut (seconds) counts as at the cut."""
PEAK_THRESHOLD = 0.5
"""A musical change peak stands this many standard deviations above the signal's mean."""


@dataclass(frozen=True)
class Baseline:
    """A statistic for the real cuts, its mean and spread over shifted cut sets, and the z-score."""

    value: float
    shifted_mean: float
    shifted_std: float

    @property
    def z(self) -> float:
        if not math.isfinite(self.value) or self.shifted_std <= 1e-12:
            return math.nan
        return (self.value - self.shifted_mean) / self.shifted_std


def shift_offsets(duration: float, count: int = SHIFTS, guard: float = 0.5) -> np.ndarray:
    """Evenly spaced circular shifts in (0, duration), leaving out those within ``guard`` s of no shift."""
    offsets = (np.arange(count) + 0.5) * duration / count
    return offsets[(offsets > guard) & (offsets < duration - guard)]


def shifted(cuts: np.ndarray, offset: float, start: float, end: float) -> np.ndarray:
    """``cuts`` rotated by ``offset`` inside [start, end)."""
    return np.sort(start + np.mod(cuts - start + offset, end - start))


def hit_baseline(cuts: Sequence[float], events: Sequence[float], duration: float, window: float) -> Baseline:
    """F1 of ``events`` against ``cuts`` at ±``window`` s, against the same for circularly shifted cuts."""
    cut_array = np.asarray(cuts, dtype=np.float64)
    actual = hit_scores(cut_array, events, window).f1
    if cut_array.size == 0 or len(events) == 0:
        return Baseline(actual, math.nan, math.nan)
    values = [hit_scores(shifted(cut_array, s, 0.0, duration), events, window).f1 for s in shift_offsets(duration)]
    if len(values) < 2:
        return Baseline(actual, math.nan, math.nan)
    return Baseline(actual, float(np.mean(values)), float(np.std(values)))


# ------------------------------------------------------------------------------------------ musical change


@dataclass(frozen=True)
class ChangeSignal:
    """Musical change per grid step: how different the music after each time is from the music before it."""

    times: np.ndarray
    values: np.ndarray
    components: dict[str, np.ndarray]


def musical_change(
    notes: Sequence[Note], duration: float, step: float = CHANGE_STEP, window: float = CHANGE_WINDOW
) -> ChangeSignal:
    """A novelty curve in the manner of Foote (2000): at each grid time t, the music in [t − w, t) is compared
    with the music in [t, t + w), here by three differences, each z-scored over the piece and then summed:

    - pitch centre (register): |Δ duration-weighted mean pitch| of the pitched notes sounding (semitones);
    - density: |Δ onsets per second|;
    - harmony: total-variation distance between the windows' duration-weighted pitch-class distributions.

    The grid (``step``, 50 ms) is finer than a 16th at any usual tempo, so a change is placed within ±25 ms.
    An empty window has no pitch: the pitch terms are 0 there and the density term carries the change.
    """
    times = np.arange(0.0, duration, step)
    n, k = times.size, max(1, round(window / step))
    onsets, weight, pitch_weight, classes = _grid_features(notes, times, step)
    cumulative = [np.concatenate([np.zeros((1, *a.shape[1:])), np.cumsum(a, axis=0)]) for a in
                  (onsets, weight, pitch_weight, classes)]
    index = np.arange(n)
    lo, hi = np.maximum(index - k, 0), np.minimum(index + k, n)

    def window_sum(which: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(cumulative[which][b] - cumulative[which][a])

    before_w, after_w = window_sum(1, lo, index), window_sum(1, index, hi)
    both = (before_w > 1e-9) & (after_w > 1e-9)
    centre_before = np.divide(window_sum(2, lo, index), before_w, out=np.zeros(n), where=both)
    centre_after = np.divide(window_sum(2, index, hi), after_w, out=np.zeros(n), where=both)
    classes_before, classes_after = window_sum(3, lo, index), window_sum(3, index, hi)
    p_before = classes_before / np.maximum(classes_before.sum(axis=1, keepdims=True), 1e-12)
    p_after = classes_after / np.maximum(classes_after.sum(axis=1, keepdims=True), 1e-12)
    components = {
        "pitch_centre": np.where(both, np.abs(centre_after - centre_before), 0.0),
        "density": np.abs(window_sum(0, index, hi) - window_sum(0, lo, index)) / window,
        "harmony": np.where(both, 0.5 * np.abs(p_after - p_before).sum(axis=1), 0.0),
    }
    values = sum((_standardise(v) for v in components.values()), np.zeros(n))
    return ChangeSignal(times, values, components)


def _grid_features(
    notes: Sequence[Note], times: np.ndarray, step: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per grid cell [t, t + step): onsets (each at its nearest grid line), and for pitched notes the seconds
    sounding, the pitch-weighted seconds sounding and the seconds sounding per pitch class."""
    n = times.size
    onsets, weight, pitch_weight = np.zeros(n), np.zeros(n), np.zeros(n)
    classes = np.zeros((n, 12))
    for note in notes:
        nearest = round(note.start / step)
        if 0 <= nearest < n:
            onsets[nearest] += 1
        if note.is_drum:
            continue
        first = max(0, math.floor(note.start / step))
        last = min(n - 1, math.ceil(note.end / step) - 1)
        if last < first:
            continue
        cells = times[first : last + 1]
        overlap = np.clip(np.minimum(note.end, cells + step) - np.maximum(note.start, cells), 0.0, None)
        weight[first : last + 1] += overlap
        pitch_weight[first : last + 1] += overlap * note.pitch
        classes[first : last + 1, note.pitch % 12] += overlap
    return onsets, weight, pitch_weight, classes


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)


def _value_near(signal: ChangeSignal, time: float, reach: float = CUT_REACH) -> float:
    """Largest change within ±``reach`` seconds of ``time``."""
    step = float(signal.times[1] - signal.times[0]) if signal.times.size > 1 else 1.0
    centre, steps = round(time / step), round(reach / step)
    lo, hi = max(0, centre - steps), min(signal.times.size, centre + steps + 1)
    return float(signal.values[lo:hi].max()) if hi > lo else math.nan


def _valid_span(duration: float, window: float) -> tuple[float, float]:
    """Times where both comparison windows lie inside the piece."""
    return window, duration - window


def cut_response(cuts: Sequence[float], signal: ChangeSignal, duration: float,
                 window: float = CHANGE_WINDOW) -> Baseline:
    """Mean musical change at the cuts (max within ±CUT_REACH s) against circularly shifted cut sets: the
    cut-response z-score.

    Cuts within ``window`` of either end are left out (one side would be empty). A shifted cut that lands
    within ``window`` of a real cut is dropped from its set (it would measure the real cut's change again,
    which matters when cuts come at near-regular gaps); shifts with nothing left are skipped.
    """
    start, end = _valid_span(duration, window)
    inside = np.array([c for c in cuts if start <= c < end], dtype=np.float64)
    if inside.size == 0 or end - start <= 2 * window:
        return Baseline(math.nan, math.nan, math.nan)
    every_cut = np.asarray(cuts, dtype=np.float64)

    def statistic(times: np.ndarray) -> float:
        return float(np.mean([_value_near(signal, t) for t in times]))

    values = []
    for offset in shift_offsets(end - start):
        moved = shifted(inside, offset, start, end)
        moved = moved[np.min(np.abs(moved[:, None] - every_cut[None, :]), axis=1) >= window]
        if moved.size:
            values.append(statistic(moved))
    if len(values) < 2:
        return Baseline(statistic(inside), math.nan, math.nan)
    return Baseline(statistic(inside), float(np.mean(values)), float(np.std(values)))


EFFECT_GRID = 0.125
"""Spacing (s) of the points the change at cuts is compared with in `cut_effect`."""


def cut_effect(cuts: Sequence[float], signal: ChangeSignal, duration: float,
               window: float = CHANGE_WINDOW) -> Baseline:
    """Mean musical change at the cuts against the change at every other 1/8 s (points within CUT_REACH of a
    cut left out): z = (at cuts − elsewhere) / spread elsewhere, a per-cut effect size that, unlike the
    shifted-sets z of `cut_response`, does not grow with the number of cuts. Ends as in `cut_response`."""
    start, end = _valid_span(duration, window)
    inside = [c for c in cuts if start <= c < end]
    if not inside or end - start <= 2 * window:
        return Baseline(math.nan, math.nan, math.nan)
    grid = np.arange(start, end, EFFECT_GRID)
    every_cut = np.asarray(cuts, dtype=np.float64)
    away = grid[np.min(np.abs(grid[:, None] - every_cut[None, :]), axis=1) > window / 2]
    if away.size < 2:
        return Baseline(math.nan, math.nan, math.nan)
    elsewhere = np.array([_value_near(signal, t) for t in away])
    at_cuts = float(np.mean([_value_near(signal, c) for c in inside]))
    return Baseline(at_cuts, float(elsewhere.mean()), float(elsewhere.std()))


def null_effects(cuts: Sequence[float], signal: ChangeSignal, duration: float,
                 window: float = CHANGE_WINDOW, count: int = 40) -> tuple[float, float]:
    """Mean and spread of `cut_effect`'s z over circularly shifted cut sets: what chance alignment gives."""
    start, end = _valid_span(duration, window)
    inside = np.array([c for c in cuts if start <= c < end], dtype=np.float64)
    if inside.size == 0 or end - start <= 2 * window:
        return math.nan, math.nan
    zs = [cut_effect(shifted(inside, offset, start, end).tolist(), signal, duration, window).z
          for offset in shift_offsets(end - start, count)]
    finite = [z for z in zs if math.isfinite(z)]
    return (float(np.mean(finite)), float(np.std(finite))) if len(finite) > 1 else (math.nan, math.nan)


def change_peaks(
    signal: ChangeSignal, window: float = CHANGE_WINDOW, threshold_std: float = PEAK_THRESHOLD
) -> np.ndarray:
    """Times of musical changes: points where the change signal is the largest within ±``window``/2 s and at
    least ``threshold_std`` standard deviations above its mean; none within ``window`` of either end."""
    values, times = signal.values, signal.times
    valid = (times >= window) & (times <= times[-1] - window + 1e-9) if times.size else np.zeros(0, dtype=bool)
    if not valid.any():
        return np.zeros(0)
    threshold = values[valid].mean() + threshold_std * values[valid].std()
    half = max(1, round(window / 2 / (times[1] - times[0]))) if times.size > 1 else 1
    padded = np.pad(values, half, constant_values=-np.inf)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(axis=1)
    is_peak = valid & (values >= local_max) & (values >= threshold)
    indices = np.flatnonzero(is_peak)
    kept = [i for j, i in enumerate(indices) if j == 0 or times[i] - times[indices[j - 1]] > window / 2]
    return times[kept]


def response_lag(cuts: Sequence[float], peaks: np.ndarray, reach: float = CUT_REACH) -> float:
    """Median time from each cut to the first musical change at or after it (a change up to ``reach`` s early
    counts as immediate, 0 s). Cuts with no later change are left out; NaN when none is left."""
    lags = []
    for cut in cuts:
        later = peaks[peaks >= cut - reach - 1e-9]
        if later.size:
            lags.append(max(0.0, float(later[0] - cut)))
    return float(np.median(lags)) if lags else math.nan


def xcorr_lag(visual: SignalTrack, signal: ChangeSignal, max_lag: float = 2.0) -> float:
    """The lag (s) in [−max_lag, max_lag] maximising the cross-correlation of the visual change (max per grid
    step, standardised) and the musical change (standardised); positive = music after picture."""
    visual_grid = resample_max(visual, signal.times)
    a, b = _standardise(visual_grid), _standardise(signal.values)
    if not a.any() or not b.any():
        return math.nan
    step = signal.times[1] - signal.times[0] if signal.times.size > 1 else 1.0
    reach = min(round(max_lag / step), a.size - 1)
    best, best_lag = -math.inf, 0
    for lag in range(-reach, reach + 1):
        if lag >= 0:
            value = float(np.dot(a[: a.size - lag], b[lag:])) / max(a.size - lag, 1)
        else:
            value = float(np.dot(a[-lag:], b[: b.size + lag])) / max(a.size + lag, 1)
        if value > best:
            best, best_lag = value, lag
    return float(best_lag * step)


def resample_max(track: SignalTrack, grid: np.ndarray) -> np.ndarray:
    """The largest value of ``track`` inside each grid cell [grid[i], grid[i+1]) (0 where none falls)."""
    out = np.zeros(grid.size)
    if grid.size == 0 or track.times.size == 0:
        return out
    cells = np.searchsorted(grid, track.times, side="right") - 1
    ok = (cells >= 0) & (cells < grid.size)
    np.maximum.at(out, cells[ok], track.values[ok])
    return out


# ------------------------------------------------------------------------------------- motion and density


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    if x.size < 3 or x.size != y.size:
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size)
    sorted_values = values[order]
    i = 0
    while i < values.size:
        j = i
        while j + 1 < values.size and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


@dataclass(frozen=True)
class MotionDensity:
    """Spearman ρ of visual motion and note density per bin, at lag 0 and at the best lag."""

    rho: float
    best_lag: float
    rho_at_best_lag: float


def motion_density(visual: SignalTrack, notes: Sequence[Note], duration: float, cuts: Sequence[float],
                   bin_seconds: float = 0.5, max_lag: float = 2.0) -> MotionDensity:
    """Mean visual change per ``bin_seconds`` (frames at cuts left out, so motion is not cut count) against
    note onsets per bin; lags move the music later (positive) or earlier."""
    edges = np.arange(0.0, duration + 1e-9, bin_seconds)
    if edges.size < 4:
        return MotionDensity(math.nan, math.nan, math.nan)
    times, values = visual.times, visual.values
    not_cut = np.ones(times.size, dtype=bool)
    for cut in cuts:
        not_cut &= np.abs(times - cut) > 1e-6
    motion = _bin_mean(times[not_cut], values[not_cut], edges)
    density = np.histogram([n.start for n in notes], bins=edges)[0].astype(np.float64)
    reach = round(max_lag / bin_seconds)
    results = {}
    for lag in range(-reach, reach + 1):
        if lag >= 0:
            results[lag] = spearman(motion[: motion.size - lag], density[lag:])
        else:
            results[lag] = spearman(motion[-lag:], density[: density.size + lag])
    finite = {lag: r for lag, r in results.items() if math.isfinite(r)}
    if not finite:
        return MotionDensity(results[0], math.nan, math.nan)
    best = max(finite, key=lambda lag: (finite[lag], -abs(lag)))
    return MotionDensity(results[0], best * bin_seconds, finite[best])


def _bin_mean(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    sums = np.histogram(times, bins=edges, weights=values)[0]
    counts = np.histogram(times, bins=edges)[0]
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.asarray(means)


@dataclass(frozen=True)
class PitchChange:
    """Mean |Δ pitch centre| (semitones) across cuts and across points inside shots."""

    at_cuts: float
    within_shots: float


def pitch_change(cuts: Sequence[float], signal: ChangeSignal, duration: float,
                 window: float = CHANGE_WINDOW) -> PitchChange:
    """|Δ mean sounding pitch| between the ``window`` before and after each cut, and the same averaged over
    grid times at least ``window`` from every cut (inside shots)."""
    centre = signal.components["pitch_centre"]
    start, end = _valid_span(duration, window)
    cut_array = np.asarray(cuts, dtype=np.float64)
    step = signal.times[1] - signal.times[0] if signal.times.size > 1 else 1.0
    at = [float(centre[min(round(c / step), centre.size - 1)]) for c in cut_array if start <= c < end]
    away = np.ones(signal.times.size, dtype=bool) & (signal.times >= start) & (signal.times < end)
    for cut in cut_array:
        away &= np.abs(signal.times - cut) >= window
    return PitchChange(
        float(np.mean(at)) if at else math.nan, float(np.mean(centre[away])) if away.any() else math.nan
    )
