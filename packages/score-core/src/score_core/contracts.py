"""Data contracts passed between pipeline stages.

Every contract is a frozen pydantic model that forbids unknown fields; array fields are numpy arrays whose
shape and dtype are checked on construction and which are made read-only, so a stage cannot change what an
earlier stage produced.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.functional_validators import BeforeValidator


def _readonly_array(dtype: type[np.generic], ndim: int) -> BeforeValidator:
    def convert(value: Any) -> np.ndarray:
        array = np.array(value, dtype=dtype, copy=True)
        if array.ndim != ndim:
            raise ValueError(f"expected a {ndim}-d array, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError("array holds NaN or infinite values")
        array.flags.writeable = False
        return array

    return BeforeValidator(convert)


Float32Vector = Annotated[np.ndarray, _readonly_array(np.float32, 1)]
Float32Matrix = Annotated[np.ndarray, _readonly_array(np.float32, 2)]
Float64Vector = Annotated[np.ndarray, _readonly_array(np.float64, 1)]
Float64Matrix = Annotated[np.ndarray, _readonly_array(np.float64, 2)]


class Contract(BaseModel):
    """Base of all contracts: frozen, no unknown fields, numpy arrays allowed."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class VideoInfo(Contract):
    """What a probe found out about a video file."""

    path: str = Field(description="The file that was probed.")
    duration: float = Field(gt=0, description="Length of the video stream in seconds.")
    frame_rate: float = Field(gt=0, description="Average frame rate measured from the stream, frames/s.")
    frame_count: int | None = Field(description="Frames the container declares, when it declares them.")
    width: int = Field(gt=0, description="Coded width in pixels, before rotation.")
    height: int = Field(gt=0, description="Coded height in pixels, before rotation.")
    rotation: int = Field(description="Display rotation in degrees (0, 90, 180 or 270).")
    codec: str = Field(description="Name of the video codec.")
    has_audio: bool = Field(description="Whether the file also holds an audio stream.")

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown to a viewer, rotation applied."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


class EncoderSpec(Contract):
    """What a vision encoder consumes and produces, declared before any frame is decoded."""

    name: str = Field(description="Registered name of the encoder.")
    feature_size: int = Field(gt=0, description="Length D of each feature vector.")
    input_size: tuple[int, int] = Field(description="(height, width) of the RGB frames the encoder wants.")
    resize: Literal["crop", "stretch"] = Field(
        default="crop",
        description="crop: scale to cover the input size then centre-crop (keeps aspect); stretch: scale to it.",
    )
    batch_size: int = Field(default=16, gt=0, description="Frames per call to encode().")
    temporal: bool = Field(
        default=False,
        description="Features depend on earlier frames; the encoder then has reset(), called before each video.",
    )


class FeatureTrack(Contract):
    """Per-frame features of a video: T timestamps and a T×D float32 matrix."""

    times: Float64Vector = Field(description="Presentation time of each sampled frame, seconds, increasing.")
    values: Float32Matrix = Field(description="Feature matrix, one row per frame.")
    encoder: str = Field(description="Name of the encoder that produced the features.")
    encoder_version: str = Field(description="Version of the package that provides the encoder.")

    @model_validator(mode="after")
    def _rows_match_times(self) -> FeatureTrack:
        if self.values.shape[0] != self.times.shape[0]:
            raise ValueError(f"{self.values.shape[0]} feature rows for {self.times.shape[0]} timestamps")
        if self.times.size > 1 and np.any(np.diff(self.times) <= 0):
            raise ValueError("feature timestamps must increase strictly")
        return self

    @property
    def feature_size(self) -> int:
        return int(self.values.shape[1])


class SignalTrack(Contract):
    """A scalar signal over time, such as the visual change between consecutive frames."""

    times: Float64Vector = Field(description="Time of each value, seconds, increasing.")
    values: Float64Vector = Field(description="The signal's value at each time.")
    name: str = Field(description="What the signal measures.")

    @model_validator(mode="after")
    def _lengths_match(self) -> SignalTrack:
        if self.values.shape != self.times.shape:
            raise ValueError(f"{self.values.size} values for {self.times.size} timestamps")
        return self


class LatentSpec(Contract):
    """The latent space a music decoder reads: its size, prior and musical segment length."""

    size: int = Field(gt=0, description="Dimension Z of one latent vector.")
    prior: Literal["standard-normal", "uniform"] = Field(
        default="standard-normal", description="Distribution the decoder expects its latents to follow."
    )
    bars_per_segment: int = Field(gt=0, description="Bars of music decoded from one latent.")
    steps_per_bar: int = Field(default=16, gt=0, description="Grid steps in one bar (16 = sixteenth notes in 4/4).")
    beats_per_bar: int = Field(default=4, gt=0, description="Beats (quarter notes) per bar.")
    dimension_order: tuple[int, ...] | None = Field(
        default=None,
        description="Latent dimensions from most to least used by the decoder; None means 0, 1, 2, ...",
    )
    steps_per_latent: int | None = Field(
        default=None,
        gt=0,
        description="Grid steps each latent covers when the decoder reads a stream of latents (4 = one per beat); "
        "None: one latent per segment.",
    )

    @model_validator(mode="after")
    def _order_is_permutation(self) -> LatentSpec:
        if self.dimension_order is not None and sorted(self.dimension_order) != list(range(self.size)):
            raise ValueError("dimension_order must be a permutation of range(size)")
        return self

    def segment_seconds(self, tempo_bpm: float) -> float:
        """Length of one segment in seconds at the given tempo."""
        return self.bars_per_segment * self.beats_per_bar * 60.0 / tempo_bpm

    def latent_seconds(self, tempo_bpm: float) -> float:
        """Time one latent covers: a segment, or ``steps_per_latent`` grid steps for a streaming decoder."""
        if self.steps_per_latent is None:
            return self.segment_seconds(tempo_bpm)
        return self.steps_per_latent * self.beats_per_bar / self.steps_per_bar * 60.0 / tempo_bpm

    def ordered_dimensions(self) -> tuple[int, ...]:
        return self.dimension_order if self.dimension_order is not None else tuple(range(self.size))


class LatentTrack(Contract):
    """One latent vector per musical segment, with each segment's place in the video."""

    starts: Float64Vector = Field(description="Start of each segment, seconds.")
    ends: Float64Vector = Field(description="End of each segment, seconds.")
    values: Float32Matrix = Field(description="N×Z latent matrix, one row per segment.")
    spec: LatentSpec = Field(description="The latent space the values live in.")
    tempo_bpm: float = Field(gt=0, description="Tempo that fixed the segment grid, quarter notes per minute.")
    step_times: Float64Vector | None = Field(
        default=None,
        description="Time of every sixteenth-step boundary from the first segment's start to the last one's end "
        "(S + 1 values, following the tempo map); None on a constant grid at tempo_bpm.",
    )
    step_values: Float32Matrix | None = Field(
        default=None, description="S×Z latent path, one row per sixteenth step, for decoders that read z per step."
    )
    segment_steps: tuple[int, ...] | None = Field(
        default=None, description="Steps in each segment (they sum to S); a segment at a cut may be partial."
    )
    segment_resets: tuple[bool, ...] | None = Field(
        default=None,
        description="Whether each segment starts a new shot: the decoder restarts from the new latent instead "
        "of carrying its state.",
    )
    accent_steps: tuple[int, ...] = Field(
        default=(), description="Steps where a strong visual event inside a shot asks for an answer (an onset)."
    )
    segment_themes: tuple[int, ...] | None = Field(
        default=None,
        description="The theme of each segment's shot (`--form auto`): segments of one theme share their latent "
        "path, and a decoder that samples should draw them from the same random stream, so the music returns.",
    )

    @model_validator(mode="after")
    def _shapes_agree(self) -> LatentTrack:
        n = self.values.shape[0]
        if self.starts.shape != (n,) or self.ends.shape != (n,):
            raise ValueError(f"{n} latents but {self.starts.size} starts and {self.ends.size} ends")
        if self.values.shape[1] != self.spec.size:
            raise ValueError(f"latents have {self.values.shape[1]} dimensions, spec says {self.spec.size}")
        if n and np.any(self.ends <= self.starts):
            raise ValueError("every segment must end after it starts")
        if self.segment_steps is not None:
            self._check_steps(n)
        return self

    def _check_steps(self, n: int) -> None:
        steps = self.segment_steps or ()
        total = sum(steps)
        if len(steps) != n or any(count <= 0 for count in steps):
            raise ValueError(f"segment_steps needs {n} positive counts, got {steps}")
        if self.step_times is None or self.step_times.shape != (total + 1,) or np.any(np.diff(self.step_times) <= 0):
            raise ValueError(f"step_times needs {total + 1} increasing boundaries for {total} steps")
        if self.step_values is not None and self.step_values.shape != (total, self.spec.size):
            raise ValueError(f"step_values has shape {self.step_values.shape}, expected ({total}, {self.spec.size})")
        if self.segment_resets is not None and len(self.segment_resets) != n:
            raise ValueError(f"segment_resets needs {n} flags, got {len(self.segment_resets)}")
        if self.segment_themes is not None and (len(self.segment_themes) != n or min(self.segment_themes) < 0):
            raise ValueError(f"segment_themes needs {n} theme numbers (>= 0), got {self.segment_themes}")

    @property
    def per_step(self) -> bool:
        """Whether the track carries a step grid (segment_steps and step_times)."""
        return self.segment_steps is not None


class Note(Contract):
    """One note: pitch, loudness, timing in seconds, instrument."""

    pitch: int = Field(ge=0, le=127, description="MIDI pitch number.")
    velocity: int = Field(ge=1, le=127, description="MIDI velocity.")
    start: float = Field(ge=0, description="Onset in seconds.")
    end: float = Field(description="Release in seconds, after the onset.")
    program: int = Field(default=0, ge=0, le=127, description="General MIDI program (ignored for drums).")
    is_drum: bool = Field(default=False, description="Whether the note belongs to the percussion channel.")
    part: str = Field(default="", description="Part of the band the note belongs to (melody, bass, drums); '' = none.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Note:
        if self.end <= self.start:
            raise ValueError(f"note ends at {self.end} s, not after its start at {self.start} s")
        return self


class Marker(Contract):
    """A named point in time, written as a MIDI marker (for example a cut in the video)."""

    time: float = Field(ge=0, description="Seconds from the start.")
    text: str = Field(min_length=1, description="Label of the marker.")


EventKind = Literal["cut", "fade", "flash", "motion"]


class Event(Contract):
    """Something that happens in the picture: a shot change or a strong event inside a shot."""

    time: float = Field(ge=0, description="Seconds from the start (for a fade, its middle).")
    strength: float = Field(gt=0, description="How strong the event is; a hard cut between unlike shots is ~1.")
    kind: EventKind = Field(description="cut and fade start a new shot; flash and motion happen inside one.")

    @property
    def starts_shot(self) -> bool:
        return self.kind in ("cut", "fade")


class EventTrack(Contract):
    """The visual events of a video, sorted by time."""

    events: tuple[Event, ...] = Field(default=(), description="Events in time order.")
    duration: float = Field(gt=0, description="Length of the video in seconds.")

    @model_validator(mode="after")
    def _sorted(self) -> EventTrack:
        if any(b.time < a.time for a, b in zip(self.events, self.events[1:], strict=False)):
            raise ValueError("events must be sorted by time")
        return self

    @property
    def shot_starts(self) -> tuple[Event, ...]:
        """Cuts and fades: the events that start a new shot."""
        return tuple(event for event in self.events if event.starts_shot)

    @property
    def in_shot(self) -> tuple[Event, ...]:
        """Flashes and motion onsets."""
        return tuple(event for event in self.events if not event.starts_shot)


class TempoChange(Contract):
    """From ``time`` on, the music runs at ``bpm`` quarter notes per minute."""

    time: float = Field(ge=0, description="Seconds from the start.")
    bpm: float = Field(gt=0, description="Quarter notes per minute.")


class Score(Contract):
    """The music a decoder wrote: notes, tempo, metre and markers."""

    notes: tuple[Note, ...] = Field(description="All notes, in any order.")
    tempo_bpm: float = Field(gt=0, description="Quarter notes per minute.")
    time_signature: tuple[int, int] = Field(default=(4, 4), description="Numerator and denominator.")
    markers: tuple[Marker, ...] = Field(default=(), description="Markers such as segment starts and cuts.")
    duration: float = Field(gt=0, description="Length of the piece in seconds.")
    tempo_map: tuple[TempoChange, ...] = Field(
        default=(),
        description="Tempo changes in time order, the first at 0 s; empty means tempo_bpm throughout.",
    )
    cues: tuple[Marker, ...] = Field(
        default=(), description="Hit points (cuts, events) written as MIDI cue points, as a DAW imports them."
    )

    @model_validator(mode="after")
    def _tempo_map_ordered(self) -> Score:
        times = [change.time for change in self.tempo_map]
        if times and (times[0] != 0.0 or any(b <= a for a, b in pairwise(times))):
            raise ValueError("tempo_map must start at 0 s and increase strictly")
        return self

    @property
    def end_time(self) -> float:
        return max((note.end for note in self.notes), default=0.0)
