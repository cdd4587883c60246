"""MusicVAE as the pipeline's music decoder: one latent per segment, joined without clipped notes.

Each segment is decoded from its own latent (the decoder's initial state comes from z, as in Magenta), but its
first input is the previous segment's last event instead of zeros. So the model knows which note is sounding
at the join and can hold it (no-event) or end it; the events of all segments are then read as one melody, so a
note held across a boundary becomes one note, and the last note ends with the video.

On a step grid (`--sync cuts`) a flat model reads the latent path one row per sixteenth (Magenta's decoder
concatenates z to every step's input) and carries its LSTM state across joins inside a shot; a segment that
starts a shot restarts from its own latent with a zero first input, as a trained phrase starts, and must begin
with a note-on, so the new phrase is heard on the cut. Steps named in `accent_steps` also start a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Marker, Note, Score
from score_music.melody import FIRST_NOTE_ON, NUM_CLASSES, STEPS_PER_BAR, events_to_notes
from score_music.model.numpy_decoder import NumpyLstmDecoder, NumpyState

MELODY_PROGRAM = 0
MELODY_VELOCITY = 90
STEP_QPM = 15.0
"""On a step grid, events are first read at one second per sixteenth, then moved onto the tempo map."""


def segment_markers(latents: LatentTrack) -> tuple[Marker, ...]:
    """A marker at the start of every segment."""
    return tuple(Marker(time=float(t), text=f"segment {i + 1}") for i, t in enumerate(latents.starts))


def score_on_step_grid(in_steps: Sequence[Note], latents: LatentTrack) -> Score:
    """The score of notes timed at one second per step, each step boundary moved to its time on the tempo map."""
    grid = np.asarray(latents.step_times)
    steps = np.arange(grid.size, dtype=np.float64)
    notes = tuple(
        note.model_copy(update={"start": float(np.interp(note.start, steps, grid)),
                                "end": float(np.interp(note.end, steps, grid))})
        for note in in_steps
    )
    return Score(notes=notes, tempo_bpm=latents.tempo_bpm, markers=segment_markers(latents), duration=float(grid[-1]))


def continued_segment_events(model: Any, latents: np.ndarray, steps: int, *, temperature: float,
                             seed: int) -> np.ndarray:
    """Events (N, steps, ...) that ``model.decode`` writes for N latents, each segment's first input being the
    previous segment's last event(s), so a note sounding at a join can be held or ended."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    z = torch.from_numpy(np.array(latents, dtype=np.float32))
    rows = []
    previous = None
    for index in range(z.shape[0]):
        events, _ = model.decode(
            z[index : index + 1], steps=steps, temperature=temperature, generator=generator, first_input=previous
        )
        previous = events[:, -1]
        rows.append(events[0].numpy())
    return np.stack(rows)


class MusicVaeDecoder:
    """Wraps a MusicVAE model (flat or hierarchical) behind score's MusicDecoder protocol."""

    keeps_bar_phase = False
    """On a step grid, whether a segment restarted mid-bar (at a cut off the downbeat) is sampled from the bar's
    start and its lead-in dropped, so its pattern stays in the bar (a drummer keeps time through a cut); else the
    phrase starts afresh at the cut."""

    def __init__(
        self,
        model: Any,
        latent_spec: LatentSpec,
        provenance: dict[str, Any],
        *,
        load_model: Callable[[], Any] | None = None,
        sampler: NumpyLstmDecoder | None = None,
    ) -> None:
        """``model`` is the torch MusicVAE, or None with ``load_model`` to load it on first use; ``sampler``,
        the numpy twin of a flat decoder, writes step grids (the default run) without torch."""
        if model is None and load_model is None:
            raise ValueError("give the model or a function that loads it")
        self._model = model
        self._load_model = load_model
        self.latent_spec = latent_spec
        self._provenance = provenance
        self._sampler = sampler

    @property
    def model(self) -> Any:
        """The torch MusicVAE (loaded on first use)."""
        if self._model is None:
            assert self._load_model is not None
            self._model = self._load_model()
        return self._model

    @property
    def sampler(self) -> NumpyLstmDecoder | None:
        """The numpy decoder that writes step grids; None for a hierarchical model."""
        if self._sampler is None:
            from score_music.model.decoder import CategoricalLstmDecoder

            if isinstance(self.model.decoder, CategoricalLstmDecoder):
                state = {k: v.detach().float().numpy() for k, v in self.model.state_dict().items()}
                self._sampler = NumpyLstmDecoder(state)
        return self._sampler

    @property
    def key_normalised(self) -> bool:
        """Whether the model learnt key-normalised windows (C major / A minor): its codec moves windows there."""
        return bool(self._provenance.get("key_normalised", False))

    def encode_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(posterior means (N, z), the semitones each window was moved by before encoding: 0 unless the model
        is key-normalised)."""
        import torch

        from score_music.keynorm import normalise_windows

        events = np.atleast_2d(np.asarray(windows, dtype=np.int64))
        shifts = np.zeros(len(events), dtype=np.int64)
        if self.key_normalised:
            events, shifts = normalise_windows(events)
        with torch.no_grad():
            mu, _ = self.model.encode(torch.from_numpy(events))
        return mu.numpy(), shifts

    def reconstruct(self, windows: np.ndarray) -> np.ndarray:
        """Each window encoded to its posterior mean and decoded greedily, back in the window's own key."""
        import torch

        from score_music.keynorm import transpose_windows

        mu, shifts = self.encode_windows(windows)
        with torch.no_grad():
            decoded, _ = self.model.decode(torch.from_numpy(mu), steps=np.shape(windows)[-1], temperature=0.0)
        moved = transpose_windows(decoded.numpy(), -shifts)
        notes = decoded.numpy() >= FIRST_NOTE_ON
        moved = np.where(notes & (moved >= NUM_CLASSES), moved - 12, moved)
        return np.where(notes & (moved < FIRST_NOTE_ON), moved + 12, moved)

    def segment_events(self, latents: np.ndarray, *, temperature: float, seed: int) -> np.ndarray:
        """Events (N, steps) for N latents, each segment continuing from the previous one's last event."""
        steps = self.latent_spec.bars_per_segment * STEPS_PER_BAR
        return continued_segment_events(self.model, latents, steps, temperature=temperature, seed=seed)

    def step_events(self, latents: LatentTrack, *, temperature: float, seed: int) -> np.ndarray:
        """Events (S,) on the track's step grid: a per-step latent path, state carried within shots; with
        segment themes, each shot's notes are drawn from its theme's own random stream."""
        sampler = self.sampler
        if sampler is None:
            return self._hierarchical_step_events(latents, temperature=temperature, seed=seed)
        rng = np.random.default_rng(seed)
        counts = latents.segment_steps or ()
        resets = latents.segment_resets or (False,) * len(counts)
        accents = set(latents.accent_steps)
        pieces: list[np.ndarray] = []
        previous: int | None = None
        state: NumpyState | None = None
        offset = 0
        themes = latents.segment_themes
        for index, count in enumerate(counts):
            restart = index == 0 or resets[index]
            if restart and themes is not None:  # a theme's notes come from its own stream, so they return with it
                rng = np.random.default_rng([seed, themes[index]])
            path = latents.step_values
            rows = path[offset : offset + count] if path is not None else np.repeat(
                latents.values[index : index + 1], count, axis=0)
            lead = offset % STEPS_PER_BAR if restart and self.keeps_bar_phase else 0
            onsets = frozenset(t - offset + lead for t in accents if offset <= t < offset + count)
            if resets[index] or (themes is not None and index == 0):  # a theme starts with a note wherever it is
                onsets |= {lead}
            if lead:
                rows = np.concatenate([np.repeat(rows[:1], lead, axis=0), rows])
            events, state = sampler.sample(
                rows, temperature, rng, first_input=None if restart else previous,
                state=None if restart else state, onset_steps=onsets,
            )
            events = events[lead:]
            previous = int(events[-1])
            pieces.append(events)
            offset += count
        return np.concatenate(pieces)

    def _hierarchical_step_events(self, latents: LatentTrack, *, temperature: float, seed: int) -> np.ndarray:
        """A hierarchical model decodes whole bars from each segment's latent; the surplus is dropped."""
        import torch

        generator = torch.Generator().manual_seed(seed)
        resets = latents.segment_resets or (False,) * len(latents.segment_steps or ())
        pieces: list[np.ndarray] = []
        previous = None
        for index, count in enumerate(latents.segment_steps or ()):
            restart = index == 0 or resets[index]
            z = torch.from_numpy(np.array(latents.values[index : index + 1], dtype=np.float32))
            padded = -(-count // STEPS_PER_BAR) * STEPS_PER_BAR
            events, _ = self.model.decode(z, steps=padded, temperature=temperature, generator=generator,
                                          first_input=None if restart else previous)
            events = events[:, :count]
            previous = events[:, -1]
            pieces.append(events[0].numpy())
        return np.concatenate(pieces)

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        if latents.per_step and latents.step_times is not None:
            return self._decode_steps(latents, temperature=temperature, seed=seed)
        events = self.segment_events(latents.values, temperature=temperature, seed=seed)
        start, end = float(latents.starts[0]), float(latents.ends[-1])
        notes = events_to_notes(
            events.reshape(-1).astype(np.int64), qpm=latents.tempo_bpm, start=start, program=MELODY_PROGRAM,
            velocity=MELODY_VELOCITY, end_time=end,
        )
        return Score(notes=tuple(notes), tempo_bpm=latents.tempo_bpm, markers=segment_markers(latents), duration=end)

    def _decode_steps(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        events = self.step_events(latents, temperature=temperature, seed=seed).astype(np.int64)
        return score_on_step_grid(events_to_notes(events, qpm=STEP_QPM, program=MELODY_PROGRAM,
                                                  velocity=MELODY_VELOCITY, end_time=float(events.size)), latents)

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)
