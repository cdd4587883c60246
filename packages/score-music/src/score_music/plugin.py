"""Registrations of score-music: the `musicvae` decoder and the `score music` commands. Imports no torch."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from score_core import hookimpl
from score_core.contracts import LatentSpec
from score_core.registrations import DecoderRegistration, WeightsInfo
from score_music.shipped import shipped_weights

SEGMENT_BARS = 2


def build_decoder(weights: str | None) -> Any:
    """The pipeline decoder with the shipped weights, or a weights file saved by `score music train`."""
    from score_music.loading import load_decoder

    return load_decoder(weights)


@hookimpl
def register_decoders(register: Callable[[DecoderRegistration], None]) -> None:
    shipped = shipped_weights()
    register(
        DecoderRegistration(
            name="musicvae",
            aliases=("musicvae-mel_2bar", shipped.config),
            description="MusicVAE 2-bar melody model (PyTorch port), trained on the music21 folk/classical corpus",
            latent_spec=LatentSpec(
                size=shipped.z_size, bars_per_segment=SEGMENT_BARS, dimension_order=shipped.dimension_order
            ),
            factory=build_decoder,
            weights=WeightsInfo(
                name=f"{shipped.path.name} (sha256 {shipped.sha256[:12]})",
                license="Apache-2.0 (trained by score on BSD-licensed music21 corpus data)",
                source="shipped in score-music; see MODEL_CARD.md",
            ),
        )
    )
    _register_stream(register)


def build_stream_decoder(weights: str | None) -> Any:
    """The per-beat stream decoder with the shipped weights, or a file saved by `score music train-stream`."""
    from score_music.stream.decoder import load_stream_decoder

    return load_stream_decoder(weights)


def _register_stream(register: Callable[[DecoderRegistration], None]) -> None:
    from score_music.stream.decoder import read_card, stream_latent_spec
    from score_music.stream.shipped import STREAM_WEIGHTS_FILE

    weights = Path(str(resources.files("score_music") / "weights" / STREAM_WEIGHTS_FILE))
    card = read_card(weights) or {"z_size": 16, "steps_per_latent": 4}
    register(
        DecoderRegistration(
            name="musicvae-stream",
            aliases=("stream",),
            description="Melody decoder reading one latent per beat (sequential VAE, AR(1) prior): answers "
            "a change of picture on the next beat",
            latent_spec=stream_latent_spec(card),
            factory=build_stream_decoder,
            weights=WeightsInfo(
                name=f"{weights.name} (sha256 {str(card.get('sha256', 'missing'))[:12]})",
                license="Apache-2.0 (trained by score on BSD-licensed music21 corpus data)",
                source="shipped in score-music; see MODEL_CARD.md",
            ),
        )
    )


@hookimpl
def register_commands(app: Any) -> None:
    from score_music.cli import app as music_app

    app.add_typer(music_app, name="music")
