"""MusicVAE as the pipeline's music decoder: one latent per segment, joined without clipped notes.

Each segment is decoded from its own latent (the decoder's initial state comes from z, as in Magenta), but its
first input is the previous segment's last event instead of zeros. So the model knows which note is sounding
at the join and can hold it (no-event) or end it; the events of all segments are then read as one melody, so a
note held across a boundary becomes one note, and the last note ends with the video.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Marker, Score
from score_music.melody import STEPS_PER_BAR, events_to_notes

MELODY_PROGRAM = 0
MELODY_VELOCITY = 90


class MusicVaeDecoder:
    """Wraps a MusicVAE model (flat or hierarchical) behind score's MusicDecoder protocol."""

    def __init__(self, model: Any, latent_spec: LatentSpec, provenance: dict[str, Any]) -> None:
        self.model = model
        self.latent_spec = latent_spec
        self._provenance = provenance

    def segment_events(self, latents: np.ndarray, *, temperature: float, seed: int) -> np.ndarray:
        """Events (N, steps) for N latents, each segment continuing from the previous one's last event."""
        import torch

        generator = torch.Generator().manual_seed(seed)
        steps = self.latent_spec.bars_per_segment * STEPS_PER_BAR
        z = torch.from_numpy(np.array(latents, dtype=np.float32))
        rows = []
        previous = None
        for index in range(z.shape[0]):
            events, _ = self.model.decode(
                z[index : index + 1], steps=steps, temperature=temperature, generator=generator, first_input=previous
            )
            previous = events[:, -1]
            rows.append(events[0].numpy())
        return np.stack(rows)

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        events = self.segment_events(latents.values, temperature=temperature, seed=seed)
        start, end = float(latents.starts[0]), float(latents.ends[-1])
        notes = events_to_notes(
            events.reshape(-1).astype(np.int64), qpm=latents.tempo_bpm, start=start, program=MELODY_PROGRAM,
            velocity=MELODY_VELOCITY, end_time=end,
        )
        markers = tuple(Marker(time=float(t), text=f"segment {i + 1}") for i, t in enumerate(latents.starts))
        return Score(notes=tuple(notes), tempo_bpm=latents.tempo_bpm, markers=markers, duration=end)

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)
