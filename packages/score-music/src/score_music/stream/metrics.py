"""Figures for the stream model: how fast the output answers a latent jump, and simple musicality measures.

Response: both decoders read the same true previous events (teacher forcing) so that the only difference
between two runs is the latent; the total variation between their next-event distributions at each step
after the jump says how much, and how soon, a new latent changes the music.

Musicality (per melody, then averaged) uses score_core.analysis' definitions: in-scale fraction over the best
diatonic scale, pitch-class entropy per bar (PCHE, bits), mean |interval| between consecutive melody notes,
empty-bar rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from score_music.melody import FIRST_NOTE_ON, MIN_PITCH


def onset_pitches(events: np.ndarray) -> np.ndarray:
    """MIDI pitches of the note-ons in a 1-d event array, in order."""
    array = np.asarray(events)
    return array[array >= FIRST_NOTE_ON].astype(np.int64) - FIRST_NOTE_ON + MIN_PITCH


@dataclass(frozen=True)
class Musicality:
    """Averages over melodies of score_core.analysis' figures (melodies without notes count only in `empty`)."""

    in_scale: float
    pitch_class_entropy: float
    mean_abs_interval: float
    notes_per_bar: float
    empty_bar_rate: float
    empty: float
    """Fraction of melodies with no note at all."""


def musicality(melodies: np.ndarray, qpm: float = 120.0) -> Musicality:
    """Musicality of melodies (n, steps) of events, each read as a piece at `qpm` in 4/4."""
    from score_core.analysis.musicality import (
        empty_bar_rate,
        in_scale_fraction,
        mean_abs_interval,
        pitch_class_entropy,
    )
    from score_core.analysis.tempo import TempoMap
    from score_music.melody import STEPS_PER_BAR, events_to_notes

    tempo = TempoMap.constant(qpm)
    figures: dict[str, list[float]] = {"in": [], "pche": [], "interval": [], "density": [], "empty_bars": []}
    empty = 0
    rows = np.asarray(melodies)
    for row in rows:
        duration = len(row) * 15.0 / qpm
        notes = events_to_notes(np.asarray(row, dtype=np.int64), qpm=qpm, end_time=duration)
        figures["density"].append(len(notes) / (len(row) / STEPS_PER_BAR))
        if not notes:
            empty += 1
            continue
        figures["in"].append(in_scale_fraction(notes))
        figures["pche"].append(pitch_class_entropy(notes, tempo, duration))
        figures["interval"].append(mean_abs_interval(notes))
        figures["empty_bars"].append(empty_bar_rate(notes, tempo, duration))

    def mean(values: list[float]) -> float:
        finite = [v for v in values if not np.isnan(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return Musicality(mean(figures["in"]), mean(figures["pche"]), mean(figures["interval"]),
                      mean(figures["density"]), mean(figures["empty_bars"]), empty / max(len(rows), 1))


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total variation distance between distributions over the last axis."""
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


@dataclass(frozen=True)
class Response:
    """How the next-event distribution moves after a latent jump at step `jump`."""

    jump: int
    threshold: float
    tv_by_step: tuple[float, ...]
    """Mean total variation (jumped vs not jumped) at each step from the jump on."""
    lag_median: float
    """Median over sequences of steps after the jump until the TV first reaches `threshold` (0 = at once)."""
    reached: float
    """Fraction of sequences whose TV reached the threshold before the window ended."""


def response_lag(tv: np.ndarray, jump: int, threshold: float) -> Response:
    """Summarise per-sequence TV curves (n, steps) measured from a jump at step `jump`."""
    after = np.asarray(tv)[:, jump:]
    hit = after >= threshold
    reached = hit.any(axis=1)
    lags = np.where(reached, hit.argmax(axis=1), after.shape[1])
    return Response(jump, threshold, tuple(float(v) for v in after.mean(axis=0)), float(np.median(lags)),
                    float(reached.mean()))


ProbabilityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def stream_probabilities(model: object) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(events (n, steps), per-beat latents (n, beats, z)) → teacher-forced next-event probabilities."""
    import torch
    import torch.nn.functional as F

    def run(events: np.ndarray, z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            tokens = torch.as_tensor(events, dtype=torch.long)
            inputs = F.pad(model.one_hot(tokens)[:, :-1], (0, 0, 1, 0))  # type: ignore[attr-defined]
            logits = model.logits_for_inputs(inputs, torch.as_tensor(z, dtype=torch.float32))  # type: ignore[attr-defined]
            return torch.softmax(logits, dim=-1).numpy()

    return run


def flat_probabilities(model: object) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The same for a flat MusicVAE fed a latent per step (n, steps, z); the state starts from the first z."""
    import torch
    import torch.nn.functional as F

    def run(events: np.ndarray, z: np.ndarray) -> np.ndarray:
        decoder = model.decoder  # type: ignore[attr-defined]
        with torch.no_grad():
            tokens = torch.as_tensor(events, dtype=torch.long)
            z_steps = torch.as_tensor(z, dtype=torch.float32)
            inputs = F.pad(model.one_hot(tokens)[:, :-1], (0, 0, 1, 0))  # type: ignore[attr-defined]
            state = decoder.initial_state(z_steps[:, 0])
            out, _ = decoder.lstm(torch.cat([inputs, z_steps], dim=-1), state)
            return torch.softmax(decoder.output_projection(out), dim=-1).numpy()

    return run


def jump_tv(probabilities: ProbabilityFn, events: np.ndarray, before: np.ndarray, after: np.ndarray,
            jump_index: int) -> np.ndarray:
    """TV per sequence and step between latents `before` and `before` switched to `after` from `jump_index` on
    (index along the latent axis: beats for the stream model, steps for a per-step flat model)."""
    jumped = before.copy()
    jumped[:, jump_index:] = after[:, jump_index:]
    return total_variation(probabilities(events, before), probabilities(events, jumped))
