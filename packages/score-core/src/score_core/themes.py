"""Form (`--form auto`): a shot that returns brings back its music.

Before decoding, shots are grouped by what they show: each shot's mean encoder features, centred on the whole
video's mean, and a shot joins the first theme whose first shot it resembles (cosine >= THEME_SIMILARITY).
Every later shot of a theme reads the latent path of the theme's first shot, step for step (a longer shot
loops it), and the decoder draws the theme's notes from the theme's own random stream; `answer_cuts` then puts
a returning theme back in the register it had (when that still moves away from the shot before). So the
music under a recurring subject recurs, varied only by its length, loudness and what the cut before it asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np

from score_core.contracts import FeatureTrack, LatentTrack, Marker

THEME_SIMILARITY = 0.75
"""Cosine of two shots' centred mean features above which they are the same subject. On EfficientNet-Lite0
features of the shared clips' montage, two spans of one clip give 0.84-0.96, spans of different clips -0.21-0.12."""


def shot_means(features: FeatureTrack, shot_starts: Sequence[float]) -> np.ndarray:
    """Mean features (shots, D) of each shot (shots split at ``shot_starts``); a shot without a sampled frame
    takes the frame nearest its middle."""
    times, values = features.times, np.asarray(features.values, dtype=np.float64)
    bounds = [-np.inf, *shot_starts, np.inf]
    means = []
    for low, high in pairwise(bounds):
        inside = (times >= low) & (times < high)
        if not inside.any():
            inside = np.zeros(times.size, dtype=bool)
            inside[int(np.argmin(np.abs(times - (max(low, times[0]) + min(high, times[-1])) / 2)))] = True
        means.append(values[inside].mean(axis=0))
    return np.stack(means)


def shot_themes(features: FeatureTrack, shot_starts: Sequence[float]) -> list[int]:
    """A theme number per shot (shots split at ``shot_starts``), numbered in order of first appearance."""
    centred = shot_means(features, shot_starts) - np.asarray(features.values, dtype=np.float64).mean(axis=0)
    leaders: list[np.ndarray] = []
    themes: list[int] = []
    for mean in centred:
        norm = float(np.linalg.norm(mean))
        direction = mean / norm if norm > 1e-9 else mean
        match = next((i for i, leader in enumerate(leaders) if float(direction @ leader) >= THEME_SIMILARITY), None)
        if match is None:
            leaders.append(direction)
            match = len(leaders) - 1
        themes.append(match)
    return themes


def themed_latents(latents: LatentTrack, themes: Sequence[int],
                   fixed: Mapping[int, np.ndarray] | None = None) -> LatentTrack:
    """``latents`` with each shot's segments labelled by its theme, and every later shot of a theme reading the
    latent path of that theme's first shot (from its first step; looped when the later shot is longer); every
    shot of a theme in ``fixed`` (a theme book's) holds that theme's latent instead."""
    counts = latents.segment_steps or ()
    resets = latents.segment_resets or (False,) * len(counts)
    shot_of_segment = list(np.cumsum([bool(r) and i > 0 for i, r in enumerate(resets)]))
    if len(themes) <= max(shot_of_segment, default=0):
        raise ValueError(f"{len(themes)} themes for {max(shot_of_segment) + 1} shots")
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    shot_steps: dict[int, tuple[int, int]] = {}
    for index, shot in enumerate(shot_of_segment):
        first, _ = shot_steps.get(shot, (int(starts[index]), 0))
        shot_steps[shot] = (first, int(starts[index + 1]))
    path = None if latents.step_values is None else np.array(latents.step_values)
    values = np.array(latents.values)
    first_shot: dict[int, int] = {}
    for shot in sorted(shot_steps):
        theme = themes[shot]
        if fixed and theme in fixed and path is not None:
            start, end = shot_steps[shot]
            path[start:end] = np.asarray(fixed[theme], dtype=path.dtype)
            continue
        if theme not in first_shot:
            first_shot[theme] = shot
            continue
        if path is not None:
            source_start, source_end = shot_steps[first_shot[theme]]
            start, end = shot_steps[shot]
            path[start:end] = path[source_start + (np.arange(end - start) % (source_end - source_start))]
    if path is not None:
        values = np.stack([path[starts[i] : starts[i + 1]].mean(axis=0) for i in range(len(counts))])
    else:
        for index, shot in enumerate(shot_of_segment):
            if fixed and themes[shot] in fixed:
                values[index] = fixed[themes[shot]]
    return latents.model_copy(update={
        "segment_themes": tuple(int(themes[shot]) for shot in shot_of_segment),
        "step_values": None if path is None else path.astype(np.float32),
        "values": values.astype(np.float32),
    })


def theme_markers(shot_starts: Sequence[float], themes: Sequence[int]) -> tuple[Marker, ...]:
    """A "theme A" marker at the start of every shot ("theme A again" when it returns)."""
    seen: set[int] = set()
    markers = []
    for time, theme in zip([0.0, *shot_starts], themes, strict=False):
        label = _letters(theme)
        markers.append(Marker(time=float(time), text=f"theme {label}" + (" again" if theme in seen else "")))
        seen.add(theme)
    return tuple(markers)


def _letters(number: int) -> str:
    text = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        text = chr(ord("A") + rest) + text
    return text
