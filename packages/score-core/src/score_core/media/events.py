"""Visual events from the per-frame signals the frame reader measures: shot changes and strong in-shot events.

Hard cuts come from the frame-to-frame change (`detect_cuts`); fades and dissolves from the slow change (each
frame against the one about half a second earlier), counted once per transition; camera flashes (a brightness
jump that falls back within a few frames) are told apart from cuts by the mean luma; motion onsets are where the
frame-to-frame change rises well above what it was just before. No two shot changes are closer than
`min_shot` seconds.
"""

from __future__ import annotations

import numpy as np

from score_core.contracts import Event, EventTrack, SignalTrack
from score_core.media.change import SLOW_LAG, detect_cuts

#: A flash: the mean luma jumps by at least this much (0..1) ...
FLASH_JUMP = 0.12
#: ... and comes back within this much of where it was ...
FLASH_RETURN = 0.05
#: ... within this many seconds.
FLASH_SECONDS = 0.25
#: A fade: the slow change peaks above this much (mean absolute luma difference, 0..1) ...
FADE_FLOOR = 0.10
#: ... and this many times the typical slow change of the video ...
FADE_RATIO = 2.0
#: ... where the frames are a linear mix of the frames either side (the mix residual falls below this) ...
FADE_MIX = 0.2
#: ... for a transition no longer than this (a longer run of change is a pan or motion, not a fade).
FADE_MAX_SECONDS = 3.0
#: Motion onset: the change over the next MOTION_AHEAD seconds is this many times that of the MOTION_BEHIND before.
MOTION_RATIO = 3.0
MOTION_AHEAD = 0.25
MOTION_BEHIND = 0.75
#: ... and at least this large, so a still video with sensor noise has none.
MOTION_FLOOR = 0.03


def detect_events(
    change: SignalTrack,
    duration: float,
    *,
    luma: SignalTrack | None = None,
    slow_change: SignalTrack | None = None,
    mix_residual: SignalTrack | None = None,
    min_shot: float = 0.5,
) -> EventTrack:
    """Cuts, fades, flashes and motion onsets of a video, from the frame reader's per-frame signals.

    `luma` enables flash detection and `slow_change` fade detection (`mix_residual` tells a dissolve, a linear
    mix of two pictures, from motion); with `change` alone only hard cuts and motion onsets are found.
    Strengths: a cut's change over 0.1, a fade's peak slow change likewise, a flash's luma jump, a motion
    onset's ratio of change after to before.
    """
    times = np.asarray(change.times, dtype=np.float64)
    values = np.asarray(change.values, dtype=np.float64).copy()
    events: list[Event] = []
    if luma is not None and times.size > 2:
        for first, last in _flashes(times, np.asarray(luma.values, dtype=np.float64)):
            jump = float(luma.values[first] - luma.values[first - 1])
            events.append(Event(time=float(times[first]), strength=max(jump, 1e-3), kind="flash"))
            values[first : last + 1] = np.median(values[1:])  # the flash's own changes are no cuts
    masked = SignalTrack(times=times, values=values, name=change.name)
    for time in detect_cuts(masked, min_gap=min_shot):
        index = int(np.searchsorted(times, time))
        events.append(Event(time=time, strength=float(values[index]) / 0.1, kind="cut"))
    shot_times = [e.time for e in events if e.kind == "cut"]
    if slow_change is not None:
        slow = np.asarray(slow_change.values, dtype=np.float64).copy()
        slow_times = np.asarray(slow_change.times, dtype=np.float64)
        for cut in shot_times:  # the slow change stays high for a lag after a hard cut: not a fade
            slow[(slow_times >= cut - 1e-9) & (slow_times <= cut + SLOW_LAG + 1e-9)] = 0.0
        mix = None if mix_residual is None else np.asarray(mix_residual.values, dtype=np.float64)
        for time, strength in _fades(slow_times, slow, luma, mix):
            if all(abs(time - t) >= min_shot for t in shot_times) and min_shot <= time <= duration - min_shot / 2:
                events.append(Event(time=time, strength=strength, kind="fade"))
                shot_times.append(time)
    for time, strength in _motion_onsets(times, values):
        if all(abs(time - t) >= min_shot for t in shot_times):
            events.append(Event(time=time, strength=strength, kind="motion"))
    events = [e for e in events if e.time < duration]
    events.sort(key=lambda e: (e.time, e.kind))
    return EventTrack(events=tuple(events), duration=duration)


def _flashes(times: np.ndarray, luma: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame indices of brightness flashes: luma jumps up and falls back within FLASH_SECONDS."""
    found: list[tuple[int, int]] = []
    index = 1
    while index < luma.size:
        before = luma[index - 1]
        if luma[index] - before >= FLASH_JUMP:
            later = np.flatnonzero((times > times[index]) & (times <= times[index] + FLASH_SECONDS))
            back = [j for j in later if abs(luma[j] - before) <= FLASH_RETURN]
            if back:
                found.append((index, int(back[0])))
                index = int(back[0]) + 1
                continue
        index += 1
    return found


def _fades(
    times: np.ndarray, slow: np.ndarray, luma: SignalTrack | None, mix: np.ndarray | None
) -> list[tuple[float, float]]:
    """(time, strength) of each fade or dissolve: one per run of high slow change, merged across a black gap."""
    if slow.size < 3:
        return []
    typical = float(np.median(slow[slow > 0])) if np.any(slow > 0) else 0.0
    floor = max(FADE_FLOOR, FADE_RATIO * typical)
    high = slow > floor
    runs: list[list[int]] = []
    for index in np.flatnonzero(high):
        if runs and times[index] - times[runs[-1][-1]] <= 2 * SLOW_LAG:  # a fade out and in counts once
            runs[-1].append(int(index))
        else:
            runs.append([int(index)])
    found: list[tuple[float, float]] = []
    for run in runs:
        first, last = run[0], run[-1]
        length = times[last] - times[first]
        if length > FADE_MAX_SECONDS or length < SLOW_LAG / 4:
            continue
        span = np.arange(first, last + 1)
        through_black = luma is not None and float(np.min(luma.values[span])) < 0.06
        if mix is not None and not through_black and float(np.min(mix[span])) > FADE_MIX:
            continue  # content moved rather than mixed: motion, not a dissolve
        if through_black and luma is not None:  # a fade through black: its darkest frame
            time = float(times[span[int(np.argmin(luma.values[span]))]])
        else:  # a dissolve: the middle of the transition, half a lag before the slow change's centre
            time = float((times[first] + times[last]) / 2 - SLOW_LAG / 4)
        found.append((max(time, 0.0), float(slow[span].max()) / 0.1))
    return found


def _motion_onsets(times: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """(time, strength) where the frame-to-frame change rises sharply, at most one per second."""
    found: list[tuple[float, float]] = []
    if values.size < 5:
        return found
    sums = np.concatenate([[0.0], np.cumsum(values)])
    ahead_end = np.searchsorted(times, times + MOTION_AHEAD)
    behind_start = np.maximum(np.searchsorted(times, times - MOTION_BEHIND), 1)  # frame 0's 0.0 is no measurement
    index = np.arange(values.size)
    ahead_count, behind_count = ahead_end - index, index - behind_start
    valid = (ahead_count >= 2) & (behind_count >= 2)
    ahead = np.where(valid, (sums[ahead_end] - sums[index]) / np.maximum(ahead_count, 1), 0.0)
    behind = np.where(valid, (sums[index] - sums[behind_start]) / np.maximum(behind_count, 1), 0.0)
    rising = valid & (ahead >= MOTION_FLOOR) & (ahead >= MOTION_RATIO * np.maximum(behind, 1e-3))
    last = -np.inf
    for i in np.flatnonzero(rising):
        if times[i] - last >= 1.0:
            found.append((float(times[i]), float(ahead[i] / max(behind[i], 1e-3))))
            last = times[i]
    return found


#: A hard cut whose grey-level histograms either side (LOOK_SECONDS each) differ by less than this (total
#: variation, 0..1) joins two shots that look alike: a cut inside one scene, answered as an in-shot accent.
#: On the shared clips and montages, cuts between different scenes measure 0.20-0.75; cuts between two
#: similar-looking clips (flowers and running water) 0.10-0.11.
SAME_LOOK = 0.15
LOOK_SECONDS = 0.4


def look_change(times: np.ndarray, histograms: np.ndarray, at: float, gap: float = 0.0) -> float:
    """Total variation between the mean grey-level histogram of the frames in [at − gap − LOOK_SECONDS,
    at − gap) and in [at + gap, at + gap + LOOK_SECONDS); 1.0 when either side has no frame."""
    before = (times >= at - gap - LOOK_SECONDS) & (times < at - gap)
    after = (times >= at + gap) & (times < at + gap + LOOK_SECONDS)
    if not before.any() or not after.any():
        return 1.0
    return float(0.5 * np.abs(histograms[before].mean(axis=0) - histograms[after].mean(axis=0)).sum())


def answered_events(events: EventTrack, times: np.ndarray, histograms: np.ndarray) -> EventTrack:
    """``events`` as the music answers them: a phrase starts at each hard cut to a new look. A hard cut between
    two shots that look alike (`look_change` below SAME_LOOK) and a fade or dissolve (a gradual change, which
    the music follows gradually: the latent path moves with the picture through it) become motion events
    inside one musical shot, accented but without a new phrase. Without histograms only fades change."""
    kept = []
    for event in events.events:
        lookalike = event.kind == "cut" and histograms.size > 0 and \
            look_change(times, histograms, event.time) < SAME_LOOK
        if event.kind == "fade" or lookalike:
            event = event.model_copy(update={"kind": "motion"})
        kept.append(event)
    return events.model_copy(update={"events": tuple(kept)})
