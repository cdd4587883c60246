"""The interfaces a plugin's objects implement: encoders, bridges, decoders and writers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from score_core.contracts import EncoderSpec, FeatureTrack, LatentSpec, LatentTrack, Score, SignalTrack, VideoInfo


@runtime_checkable
class VisionEncoder(Protocol):
    """Turns a batch of RGB frames into feature vectors."""

    spec: EncoderSpec

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Map uint8 frames (B, H, W, 3) at ``spec.input_size`` to float32 features (B, feature_size)."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Weights name, hash and any option that changes the features, for the run's sidecar."""
        ...


@runtime_checkable
class TemporalVisionEncoder(VisionEncoder, Protocol):
    """An encoder whose features depend on earlier frames (``spec.temporal``): ``reset()`` forgets them and
    is called before each video."""

    def reset(self) -> None: ...


@runtime_checkable
class Bridge(Protocol):
    """Maps a video's features into a decoder's latent space, one latent per musical segment."""

    @property
    def input_size(self) -> int | None:
        """Feature size the bridge was fitted on, or None while it fits on each video."""
        ...

    @property
    def output_size(self) -> int | None:
        """Latent size the bridge was fitted for, or None while it fits on each video."""
        ...

    def to_latents(
        self, features: FeatureTrack, spec: LatentSpec, starts: np.ndarray, ends: np.ndarray, tempo_bpm: float
    ) -> LatentTrack:
        """One latent per segment [starts[i], ends[i]) in the space ``spec`` describes."""
        ...

    def fit(self, features: np.ndarray, spec: LatentSpec, encoder: str) -> None:
        """Fit on (N, D) features of a corpus (rows of many videos, from ``encoder``), for latents of ``spec``;
        afterwards the bridge maps every video alike (`score bridge fit`)."""
        ...

    def save(self, path: Path) -> None:
        """Write the fitted bridge to ``path``, for the factory to load (``--bridge-weights``)."""
        ...

    def provenance(self) -> dict[str, Any]: ...


@runtime_checkable
class MusicDecoder(Protocol):
    """Writes music from a track of latents."""

    latent_spec: LatentSpec

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        """Decode every segment; the same latents, temperature and seed give the same score."""
        ...

    def provenance(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunContext:
    """Everything a writer may need about the run it writes out; read-only (the pipeline hands each writer a
    new context holding what the writers before it wrote and noted)."""

    video: Path
    video_info: VideoInfo
    score: Score
    features: FeatureTrack
    latents: LatentTrack
    visual_change: SignalTrack
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    targets: Mapping[str, Path] = field(default_factory=dict)
    """Writer name -> the final path its output gets once every writer succeeded."""
    written: Mapping[str, Path] = field(default_factory=dict)
    """Writer name -> the (temporary) file it wrote; writers listed in ``requires`` are always present."""
    notes: Mapping[str, Any] = field(default_factory=dict)
    """Writer name -> the facts it reported for the sidecar, such as which audio renderer ran."""
    evaluation: dict[str, Any] | None = None
    """Correspondence and musicality figures (score_core.analysis) when the run was asked to evaluate."""


@runtime_checkable
class Writer(Protocol):
    """Writes one output file of a run."""

    def write(self, context: RunContext, path: Path) -> Mapping[str, Any] | None:
        """Write the output to ``path`` (a temporary name the pipeline renames when every writer succeeded);
        return facts for the sidecar (``context.notes[name]`` of later writers), or None."""
        ...
