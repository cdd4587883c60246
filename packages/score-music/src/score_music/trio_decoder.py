"""Magenta's trio (melody, bass, drums) as the pipeline's music decoder: one latent per 16 bars, three parts.

Only with user-given weights (Magenta's `hierdec-trio_16bar` checkpoint imported with `score music
import-magenta --config hierdec-trio_16bar`): no open melody + bass + drums corpus exists here to train one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Score
from score_core.errors import ScoreError
from score_core.files import sha256_file
from score_music.decoder import continued_segment_events, segment_markers
from score_music.drums import drum_events_to_notes
from score_music.melody import STEPS_PER_BAR, events_to_notes

TRIO_PARTS = (90, 90, 512)
MELODY_PROGRAM = 0
BASS_PROGRAM = 33
"""Electric bass (finger), the program Magenta gives the trio's bass."""
VELOCITY = 90


class TrioVaeDecoder:
    """Wraps a TrioVAE behind score's MusicDecoder protocol; each segment continues from the previous one's
    last events (per part), and the three parts are read as one melody, one bass line and drums."""

    def __init__(self, model: Any, latent_spec: LatentSpec, provenance: dict[str, Any]) -> None:
        self.model = model
        self.latent_spec = latent_spec
        self._provenance = provenance

    def segment_events(self, latents: np.ndarray, *, temperature: float, seed: int) -> np.ndarray:
        """Events (N, steps, 3) for N latents."""
        steps = self.latent_spec.bars_per_segment * STEPS_PER_BAR
        return continued_segment_events(self.model, latents, steps, temperature=temperature, seed=seed)

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        events = self.segment_events(latents.values, temperature=temperature, seed=seed)
        flat = events.reshape(-1, events.shape[-1]).astype(np.int64)
        start, end = float(latents.starts[0]), float(latents.ends[-1])
        qpm = latents.tempo_bpm
        notes = [
            *events_to_notes(flat[:, 0], qpm=qpm, start=start, program=MELODY_PROGRAM, velocity=VELOCITY,
                             end_time=end),
            *events_to_notes(flat[:, 1], qpm=qpm, start=start, program=BASS_PROGRAM, velocity=VELOCITY,
                             end_time=end),
            *drum_events_to_notes(flat[:, 2], qpm=qpm, start=start, velocity=VELOCITY, end_time=end),
        ]
        return Score(notes=tuple(notes), tempo_bpm=qpm, markers=segment_markers(latents), duration=end)

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)


def load_trio_decoder(weights: str | None) -> TrioVaeDecoder:
    """The trio decoder for a weights file holding a trio model; score ships none, so None is an error."""
    from score_music.loading import dimension_order
    from score_music.model.weights import load_weights

    if not weights:
        raise ScoreError("musicvae-trio", "no trio weights ship with score; import Magenta's hierdec-trio_16bar "
                                          "with `score music import-magenta CKPT -o trio.pt --config "
                                          "hierdec-trio_16bar` and pass --music-weights trio.pt")
    path = Path(weights)
    model, config = load_weights(path)
    if config.part_classes != TRIO_PARTS:
        raise ScoreError(str(path), f"weights are config {config.name!r}, not a trio model (parts {TRIO_PARTS})")
    spec = LatentSpec(size=config.z_size, bars_per_segment=config.seq_len // STEPS_PER_BAR,
                      steps_per_bar=STEPS_PER_BAR, dimension_order=dimension_order(path, config.z_size))
    return TrioVaeDecoder(model, spec, {"weights": str(path), "weights_sha256": sha256_file(path),
                                        "config": config.name})
