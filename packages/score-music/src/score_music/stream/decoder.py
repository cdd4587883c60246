"""The stream model as the pipeline's music decoder: one latent per beat, one unbroken melodic line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Score
from score_core.files import sha256_file
from score_music.melody import STEPS_PER_BAR, events_to_notes
from score_music.stream.shipped import stream_weights_path

MELODY_PROGRAM = 0
MELODY_VELOCITY = 90
BARS_PER_SEGMENT = 1
"""The shortest music the decoder writes well (one bar); it reads latents per beat, not per segment."""


def card_path(weights: Path) -> Path:
    """The JSON card beside a stream weights file (latent size, steps per latent, dimension order)."""
    return weights.with_suffix(".json")


def stream_latent_spec(card: dict[str, Any]) -> LatentSpec:
    """The latent space a stream weights card describes (read without torch, for the registration)."""
    order = tuple(int(i) for i in card.get("dimension_order", ()))
    size = int(card["z_size"])
    return LatentSpec(
        size=size,
        bars_per_segment=BARS_PER_SEGMENT,
        steps_per_bar=STEPS_PER_BAR,
        steps_per_latent=int(card["steps_per_latent"]),
        dimension_order=order if sorted(order) == list(range(size)) else None,
    )


def read_card(weights: Path) -> dict[str, Any]:
    card = card_path(weights)
    return dict(json.loads(card.read_text())) if card.is_file() else {}


def theme_seed(seed: int, theme: int) -> int:
    """The seed of one theme's own random stream in a piece decoded with ``seed``."""
    return int(np.random.SeedSequence([seed, theme]).generate_state(1, dtype=np.uint64)[0] >> 1)


class StreamDecoder:
    """Decodes a track of per-beat latents into one melody: the LSTM state runs on across every beat of a shot,
    and each step reads the latent of its own beat, so a change of latent is heard from the next 16th on. With
    segment themes (`--form auto`), every shot of a theme starts afresh from the theme's own random stream, so
    the theme's notes return with it."""

    def __init__(self, model: Any, latent_spec: LatentSpec, provenance: dict[str, Any]) -> None:
        self.model = model
        self.latent_spec = latent_spec
        self._provenance = provenance

    def events(self, latents: np.ndarray, steps: np.ndarray, *, temperature: float, seed: int) -> np.ndarray:
        """Events (sum(steps),) for latents (n, z), latent i read for `steps[i]` grid steps."""
        import torch

        generator = torch.Generator().manual_seed(seed)
        per_step = np.repeat(np.asarray(latents, dtype=np.float32), steps, axis=0)
        events, _ = self.model.decode_steps(torch.from_numpy(per_step).unsqueeze(0), temperature=temperature,
                                            generator=generator)
        return np.asarray(events[0].numpy(), dtype=np.int64)

    def beat_path(self, latents: LatentTrack) -> np.ndarray:
        """A latent per step (S, z) from a per-step track: each beat (counted from its segment's start) holds the
        mean of the track's step latents over that beat, so a cut, which starts a segment, starts a new beat."""
        counts = latents.segment_steps or ()
        per = self.latent_spec.steps_per_latent or 4
        source = latents.step_values
        if source is None:
            source = np.repeat(latents.values, counts, axis=0)
        path = np.empty_like(source)
        offset = 0
        for count in counts:
            for beat in range(offset, offset + count, per):
                stop = min(beat + per, offset + count)
                path[beat:stop] = source[beat:stop].mean(axis=0)
            offset += count
        return path

    def _decode_steps(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        import torch

        generator = torch.Generator().manual_seed(seed)
        path = torch.from_numpy(np.asarray(self.beat_path(latents), dtype=np.float32)).unsqueeze(0)
        counts = latents.segment_steps or ()
        resets = latents.segment_resets or (False,) * len(counts)
        themes = latents.segment_themes
        pieces, previous, state, offset = [], None, None, 0
        for index, count in enumerate(counts):
            restart = index == 0 or resets[index]  # a new shot restarts the state from its own latent
            if restart and themes is not None:  # a theme's notes come from its own stream, so they return with it
                generator = torch.Generator().manual_seed(theme_seed(seed, themes[index]))
                previous = None
            events, state = self.model.decode_steps(path[:, offset:offset + count], temperature=temperature,
                                                    generator=generator, first_input=previous,
                                                    state=None if restart else state)
            previous = events[:, -1]
            pieces.append(events[0].numpy())
            offset += count
        events = np.concatenate(pieces).astype(np.int64)
        grid = np.asarray(latents.step_times)
        # Decoded at 1 s per step (qpm 15), then each step boundary mapped to its time on the tempo map.
        in_steps = events_to_notes(events, qpm=15.0, program=MELODY_PROGRAM, velocity=MELODY_VELOCITY,
                                   end_time=float(events.size))
        steps = np.arange(grid.size, dtype=np.float64)
        notes = tuple(n.model_copy(update={"start": float(np.interp(n.start, steps, grid)),
                                           "end": float(np.interp(n.end, steps, grid))}) for n in in_steps)
        return Score(notes=notes, tempo_bpm=latents.tempo_bpm, duration=float(grid[-1]))

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        if latents.per_step and latents.step_times is not None:
            return self._decode_steps(latents, temperature=temperature, seed=seed)
        step_seconds = 60.0 / latents.tempo_bpm * self.latent_spec.beats_per_bar / self.latent_spec.steps_per_bar
        start, end = float(latents.starts[0]), float(latents.ends[-1])
        # Each latent holds for the grid steps its span covers (one beat = 4 in a per-beat track), counted from
        # the first start so that rounding never drifts.
        edges = np.rint((np.append(latents.starts, end) - start) / step_seconds).astype(np.int64)
        steps = np.maximum(np.diff(edges), 0)
        if steps.sum() == 0:
            steps[-1] = 1
        events = self.events(latents.values, steps, temperature=temperature, seed=seed)
        notes = events_to_notes(events, qpm=latents.tempo_bpm, start=start, program=MELODY_PROGRAM,
                                velocity=MELODY_VELOCITY, end_time=end)
        notes = [n for n in notes if n.start < end]
        return Score(notes=tuple(n if n.end <= end else n.model_copy(update={"end": end}) for n in notes),
                     tempo_bpm=latents.tempo_bpm, duration=end)

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)


def load_stream_decoder(weights: str | None) -> StreamDecoder:
    """The decoder for a stream weights file (from `score music train-stream`), or the shipped one when None."""
    from score_music.stream.weights import load_stream_weights

    path = Path(weights) if weights else stream_weights_path()
    model = load_stream_weights(path)
    card = read_card(path) or {"z_size": model.config.z_size, "steps_per_latent": model.config.steps_per_latent}
    spec = stream_latent_spec(card)
    if spec.size != model.config.z_size or spec.steps_per_latent != model.config.steps_per_latent:
        spec = stream_latent_spec({"z_size": model.config.z_size, "steps_per_latent": model.config.steps_per_latent})
    provenance = {"weights": str(path) if weights else f"shipped:{path.name}", "weights_sha256": sha256_file(path),
                  "config": model.config.name}
    return StreamDecoder(model, spec, provenance)
