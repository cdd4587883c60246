"""A cut-aware tempo map: hit points on downbeats, as a film composer fits tempo to the picture.

A base tempo T is chosen in a range (0.5 bpm steps) or fixed. Walking from one hit point (a cut) to the next,
the span of d seconds gets its own local tempo 60·n/d, where n beats (or sixteenths) fit the span exactly,
when that tempo stays within `max_change` of T: the cut then lands exactly on a downbeat if one fits, else on a
beat, else on a sixteenth. When nothing fits (a very short shot), the span keeps T and the cut's phrase starts
on the nearest sixteenth of that grid instead. The base tempo minimises Σ strength·miss over the cuts, where
miss is 0 on a downbeat, 0.25 on a beat, 0.6 on a sixteenth and 1 + the distance when snapped; so the phase of
the bar is chosen by the first span's tempo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from score_core.contracts import TempoChange
from score_core.errors import ScoreError

STEPS_PER_BEAT = 4
_MISS = {"downbeat": 0.0, "beat": 0.25, "step": 0.6}


@dataclass(frozen=True)
class TempoPlan:
    """A tempo map and the sixteenth-step grid it puts on the video."""

    tempo_bpm: float
    """The base tempo the map was fitted around."""
    changes: tuple[TempoChange, ...]
    """Tempo from each change's time on; the first change is at 0 s."""
    step_times: np.ndarray
    """Boundaries of every sixteenth step from 0 s until the video's end is covered (S + 1 values)."""
    cut_steps: tuple[int, ...]
    """For each cut, the step where its phrase starts."""
    placements: tuple[str, ...]
    """For each cut: "downbeat", "beat", "step" (exactly on that grid point) or "snapped" (nearest sixteenth)."""
    cost: float
    """Σ strength·miss of the chosen tempo."""

    @property
    def steps(self) -> int:
        return int(self.step_times.size - 1)

    def cut_error(self, cuts: Sequence[float]) -> np.ndarray:
        """Seconds between each cut and the start of its phrase."""
        return self.step_times[list(self.cut_steps)] - np.asarray(cuts, dtype=np.float64)


def plan_tempo(
    cuts: Sequence[float],
    strengths: Sequence[float] | None,
    duration: float,
    *,
    tempo_range: tuple[float, float] = (80.0, 140.0),
    tempo: float | None = None,
    max_change: float = 0.04,
    beats_per_bar: int = 4,
) -> TempoPlan:
    """The best tempo map for hit points `cuts` (seconds, increasing) in a video `duration` seconds long."""
    low, high = tempo_range
    if tempo is not None:
        candidates = [float(tempo)]
    elif not 0 < low <= high:
        raise ScoreError("--tempo-range", f"needs 0 < low <= high, got {low:g}:{high:g}")
    else:
        candidates = list(np.arange(low, high + 1e-9, 0.5))
    if max_change < 0:
        raise ScoreError("--max-tempo-change", f"must be >= 0, got {max_change:g}")
    hits = [float(t) for t in cuts if 0.0 < t < duration]
    weights = [1.0] * len(hits) if strengths is None else [float(s) for s, t in zip(strengths, cuts, strict=True)
                                                            if 0.0 < t < duration]
    middle = (low + high) / 2
    best: TempoPlan | None = None
    best_key = (np.inf, np.inf)
    for base in candidates:
        plan = _walk(hits, weights, duration, float(base), max_change, beats_per_bar)
        key = (round(plan.cost, 9), abs(base - middle))
        if key < best_key:
            best, best_key = plan, key
    assert best is not None
    return best


def _walk(
    cuts: list[float], weights: list[float], duration: float, base: float, max_change: float, beats_per_bar: int
) -> TempoPlan:
    """The map for one base tempo: each span from the previous anchor to the next cut fitted greedily."""
    step_seconds = 60.0 / base / STEPS_PER_BEAT
    bar_steps = beats_per_bar * STEPS_PER_BEAT
    pieces: list[tuple[float, int, float]] = []  # (start time, start step, bpm)
    anchor_time, anchor_step = 0.0, 0
    cut_steps: list[int] = []
    placements: list[str] = []
    cost = 0.0
    for cut, weight in zip(cuts, weights, strict=True):
        span = cut - anchor_time
        if span <= 0:  # an earlier snapped cut ended past this one
            target = anchor_step
            cut_steps.append(target)
            placements.append("snapped")
            cost += weight * (1.0 + abs(span))
            continue
        ideal = span / step_seconds
        fitted = None
        for place, unit in (("downbeat", bar_steps), ("beat", STEPS_PER_BEAT), ("step", 1)):
            position = (anchor_step + ideal) / unit
            options = {int(np.floor(position)) * unit, int(np.ceil(position)) * unit}
            feasible = [
                (abs(local / base - 1.0), target, local)
                for target in options
                if target > anchor_step
                for local in ((target - anchor_step) / STEPS_PER_BEAT * 60.0 / span,)
                if abs(local / base - 1.0) <= max_change + 1e-12
            ]
            if feasible:
                deviation, target, local = min(feasible)
                fitted = (place, target, local, deviation)
                break
        if fitted is not None:
            place, target, local, deviation = fitted
            pieces.append((anchor_time, anchor_step, local))
            cost += weight * (_MISS[place] + 0.1 * deviation)
            anchor_time, anchor_step = cut, target
        else:
            target = anchor_step + max(1, round(ideal))
            pieces.append((anchor_time, anchor_step, base))
            placed = anchor_time + (target - anchor_step) * step_seconds
            place = "snapped"
            cost += weight * (1.0 + abs(placed - cut))
            anchor_time, anchor_step = placed, target
        cut_steps.append(target)
        placements.append(place)
    pieces.append((anchor_time, anchor_step, base))
    step_times = _step_times(pieces, duration)
    changes: list[TempoChange] = []
    for start, _, bpm in pieces:
        if changes and abs(changes[-1].bpm - bpm) < 1e-9:
            continue
        if changes and abs(changes[-1].time - start) < 1e-9:
            changes[-1] = TempoChange(time=start, bpm=bpm)
            continue
        changes.append(TempoChange(time=start, bpm=bpm))
    return TempoPlan(
        tempo_bpm=base, changes=tuple(changes), step_times=step_times, cut_steps=tuple(cut_steps),
        placements=tuple(placements), cost=cost,
    )


def _step_times(pieces: list[tuple[float, int, float]], duration: float) -> np.ndarray:
    """Step boundaries through the pieces; the last piece runs until the duration is covered."""
    times: list[np.ndarray] = []
    for index, (start, first, bpm) in enumerate(pieces):
        seconds = 60.0 / bpm / STEPS_PER_BEAT
        if index + 1 < len(pieces):
            count = pieces[index + 1][1] - first
        else:
            count = max(1, int(np.ceil((duration - start) / seconds - 1e-6)))
        times.append(start + np.arange(count) * seconds)
    last_bpm = pieces[-1][2]
    end = times[-1][-1] + 60.0 / last_bpm / STEPS_PER_BEAT
    return np.concatenate([*times, [end]])


def tempo_at(changes: Sequence[TempoChange], time: float) -> float:
    """The tempo in force at `time`."""
    current = changes[0].bpm
    for change in changes:
        if change.time <= time + 1e-9:
            current = change.bpm
    return current
