"""Fitting a bridge over many videos, so the same shot gives the same latent whatever video it is in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from score_core.contracts import FeatureTrack, SignalTrack
from score_core.errors import ScoreError
from score_core.pipeline import Pipeline, StageChoice, call_plugin
from score_core.registry import Registry
from score_core.theme_book import ThemeBook, fit_theme_book
from score_core.themes import shot_means


@dataclass(frozen=True)
class CorpusFit:
    """How much material a corpus bridge was fitted on."""

    videos: int
    frames: int
    themes: int = 0


def fit_corpus_bridge(
    registry: Registry,
    videos: Sequence[Path],
    output: Path,
    *,
    vision: str,
    music: str,
    vision_weights: str | None = None,
    fps: float | None = None,
    layer: str | None = None,
    bridge: str = "pca",
    theme_book: Path | None = None,
) -> CorpusFit:
    """Encode every video, fit PCA whitening to the decoder's latent size on all frames, save it to ``output``;
    with ``theme_book``, also save the corpus's shots grouped into themes there (score_core.theme_book)."""
    choice = StageChoice(vision=vision, music=music, bridge=bridge, vision_weights=vision_weights, vision_layer=layer)
    pipeline = Pipeline(registry, choice)
    rate = fps or pipeline.default_fps()
    blocks: list[np.ndarray] = []
    shots: list[np.ndarray] = []
    for video in videos:
        track, change = pipeline.encode(Path(video), rate)
        blocks.append(track.values)
        if theme_book is not None:
            shots.append(shot_means(track, _shot_starts(pipeline, Path(video), change)))
    features = np.concatenate(blocks)
    label = f"bridge '{pipeline.bridge_registration.name}'"
    call_plugin(label, pipeline.bridge.fit, features, pipeline.latent_spec, pipeline.encoder_name)
    themes = 0
    if theme_book is not None:
        book = _fit_book(pipeline, shots, features, label, track.encoder, track.encoder_version)
        themes = book.size
    call_plugin(label, pipeline.bridge.save, Path(output))
    if theme_book is not None:
        book.save(Path(theme_book))
    return CorpusFit(videos=len(blocks), frames=int(features.shape[0]), themes=themes)


def _shot_starts(pipeline: Pipeline, video: Path, change: SignalTrack) -> list[float]:
    from score_core.media import probe
    from score_core.media.events import answered_events, detect_events

    signals = pipeline.frame_signals
    events = detect_events(change, probe(video).duration, luma=signals.get("luma"),
                           slow_change=signals.get("slow-change"), mix_residual=signals.get("mix-residual"))
    return [event.time for event in answered_events(events, *pipeline.grey_histograms).shot_starts]


def _fit_book(pipeline: Pipeline, shots: list[np.ndarray], features: np.ndarray, label: str, encoder: str,
              encoder_version: str) -> ThemeBook:
    sha = pipeline.bridge.provenance().get("sha256")
    if not sha:
        raise ScoreError("--theme-book", f"{label} reports no digest, so no theme book can be tied to it")
    spec = pipeline.latent_spec

    def latents_of(centres: np.ndarray) -> np.ndarray:
        places = np.arange(len(centres), dtype=np.float64)
        track = FeatureTrack(times=places, values=centres.astype(np.float32), encoder=encoder,
                             encoder_version=encoder_version)
        latents = call_plugin(label, pipeline.bridge.to_latents, track, spec, places, places + 1.0, 120.0)
        return np.asarray(latents.values)

    return fit_theme_book(shots, features.mean(axis=0), latents_of, str(sha))
