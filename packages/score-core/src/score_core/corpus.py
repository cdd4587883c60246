"""Fitting a bridge over many videos, so the same shot gives the same latent whatever video it is in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from score_core.bridge import PcaWhitening
from score_core.pipeline import Pipeline, StageChoice
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
) -> CorpusFit:
    """Encode every video, fit PCA whitening to the decoder's latent size on all frames, save it to ``output``."""
    choice = StageChoice(vision=vision, music=music, vision_weights=vision_weights, vision_layer=layer)
    pipeline = Pipeline(registry, choice)
    rate = fps or pipeline.default_fps()
    blocks = [pipeline.encode(Path(video), rate)[0].values for video in videos]
    features = np.concatenate(blocks)
    whitening = PcaWhitening.fit(features, pipeline.latent_spec.size, pipeline.encoder_name)
    whitening.save(Path(output))
    return CorpusFit(videos=len(blocks), frames=int(features.shape[0]))
