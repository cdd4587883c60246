"""Fitting a bridge over many videos, so the same shot gives the same latent whatever video it is in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from score_core.pipeline import Pipeline, StageChoice, call_plugin
from score_core.registry import Registry


@dataclass(frozen=True)
class CorpusFit:
    """How much material a corpus bridge was fitted on."""

    videos: int
    frames: int


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
) -> CorpusFit:
    """Encode every video, fit PCA whitening to the decoder's latent size on all frames, save it to ``output``."""
    choice = StageChoice(vision=vision, music=music, bridge=bridge, vision_weights=vision_weights, vision_layer=layer)
    pipeline = Pipeline(registry, choice)
    rate = fps or pipeline.default_fps()
    blocks = [pipeline.encode(Path(video), rate)[0].values for video in videos]
    features = np.concatenate(blocks)
    label = f"bridge '{pipeline.bridge_registration.name}'"
    call_plugin(label, pipeline.bridge.fit, features, pipeline.latent_spec, pipeline.encoder_name)
    call_plugin(label, pipeline.bridge.save, Path(output))
    return CorpusFit(videos=len(blocks), frames=int(features.shape[0]))
