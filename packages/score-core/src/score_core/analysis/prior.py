"""Musicality of a decoder's own prior samples: the reference a video-driven piece is compared with."""

from __future__ import annotations

import numpy as np

from score_core.analysis.musicality import Musicality, musicality
from score_core.analysis.tempo import TempoMap
from score_core.contracts import LatentTrack
from score_core.protocols import MusicDecoder

PRIOR_SEGMENTS = 16
"""Prior latents decoded and strung together (32 bars for a 2-bar decoder)."""


def prior_latents(decoder: MusicDecoder, count: int, tempo_bpm: float, seed: int) -> LatentTrack:
    """``count`` latents drawn from the decoder's prior, on consecutive segments from 0 s."""
    spec = decoder.latent_spec
    rng = np.random.default_rng(seed)
    if spec.prior == "uniform":
        values = rng.uniform(-1.0, 1.0, size=(count, spec.size))
    else:
        values = rng.standard_normal((count, spec.size))
    segment = spec.segment_seconds(tempo_bpm)
    starts = np.arange(count) * segment
    return LatentTrack(
        starts=starts, ends=starts + segment, values=values.astype(np.float32), spec=spec, tempo_bpm=tempo_bpm
    )


def prior_musicality(
    decoder: MusicDecoder,
    count: int = PRIOR_SEGMENTS,
    tempo_bpm: float = 120.0,
    temperature: float = 1.0,
    seed: int = 0,
) -> Musicality:
    """Decode ``count`` prior latents as one piece (the decoder joins them as in a run) and measure it."""
    latents = prior_latents(decoder, count, tempo_bpm, seed)
    score = decoder.decode(latents, temperature=temperature, seed=seed)
    duration = float(latents.ends[-1])
    return musicality(score.notes, TempoMap.of_score(score), duration)
