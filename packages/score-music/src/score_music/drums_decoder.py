"""The drums MusicVAE as the pipeline's music decoder: GM drum notes on channel 10, one latent per 2 bars."""

from __future__ import annotations

import numpy as np

from score_core.contracts import LatentTrack, Score
from score_music.decoder import STEP_QPM, MusicVaeDecoder, score_on_step_grid, segment_markers
from score_music.drums import drum_events_to_notes

DRUM_VELOCITY = 100


class DrumsVaeDecoder(MusicVaeDecoder):
    """A MusicVAE over Magenta's 512 drum events; segments join as in the melody decoder (each starts from the
    previous segment's last event), and every hit becomes a one-step GM drum note (``Note.is_drum``)."""

    keeps_bar_phase = True

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        if latents.per_step and latents.step_times is not None:
            return self._decode_drum_steps(latents, temperature=temperature, seed=seed)
        events = self.segment_events(latents.values, temperature=temperature, seed=seed)
        start, end = float(latents.starts[0]), float(latents.ends[-1])
        notes = drum_events_to_notes(events.reshape(-1).astype(np.int64), qpm=latents.tempo_bpm, start=start,
                                     velocity=DRUM_VELOCITY, end_time=end)
        return Score(notes=tuple(notes), tempo_bpm=latents.tempo_bpm, markers=segment_markers(latents), duration=end)

    def _decode_drum_steps(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        """On a step grid (`--sync cuts`): each hit lasts its step, placed by the track's step times."""
        events = self.step_events(latents, temperature=temperature, seed=seed).astype(np.int64)
        return score_on_step_grid(drum_events_to_notes(events, qpm=STEP_QPM, velocity=DRUM_VELOCITY,
                                                       end_time=float(events.size)), latents)
