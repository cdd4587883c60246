"""Registrations of score-music: the `musicvae` decoder and the `score music` commands. Imports no torch."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from score_core import hookimpl
from score_core.contracts import LatentSpec
from score_core.registrations import DecoderRegistration, WeightsInfo
from score_music.shipped import DRUMS_STEM, shipped_weights

SEGMENT_BARS = 2
TRIO_Z_SIZE = 512
TRIO_BARS = 16


def build_decoder(weights: str | None) -> Any:
    """The pipeline decoder with the shipped weights, or a weights file saved by `score music train`."""
    from score_music.loading import load_decoder

    return load_decoder(weights)


def build_drums_decoder(weights: str | None) -> Any:
    """The drums decoder with the shipped drums weights, or a drums weights file from `score music train`."""
    from score_music.loading import load_drums_decoder

    return load_drums_decoder(weights)


def _drums_registration() -> DecoderRegistration:
    shipped = shipped_weights(DRUMS_STEM)
    return DecoderRegistration(
        name="musicvae-drums",
        aliases=("drums", shipped.config),
        description="MusicVAE 2-bar drums (Magenta's cat-drums encoding: 9 classes, GM channel 10), Groove MIDI",
        latent_spec=LatentSpec(
            size=shipped.z_size, bars_per_segment=SEGMENT_BARS, dimension_order=shipped.dimension_order
        ),
        factory=build_drums_decoder,
        weights=WeightsInfo(
            name=f"{shipped.path.name} (sha256 {shipped.sha256[:12]})",
            license="Apache-2.0 (trained by score on the Groove MIDI Dataset, CC BY 4.0, Gillick et al. 2019)",
            source="shipped in score-music; see MODEL_CARD.md",
        ),
    )


def build_trio_decoder(weights: str | None) -> Any:
    """The trio decoder; needs a weights file (Magenta's hierdec-trio_16bar imported by score)."""
    from score_music.trio_decoder import load_trio_decoder

    return load_trio_decoder(weights)


def build_band(weights: str | None) -> Any:
    """The band decoder (melody + bass + drums when installed), melody from the shipped or given weights."""
    from score_music.band import build_band as build

    return build(weights)


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
    register(_drums_registration())
    register(
        DecoderRegistration(
            name="musicvae-trio",
            aliases=("trio", "hierdec-trio_16bar"),
            description="Magenta's hierdec-trio_16bar (melody, bass, drums per 16 bars); needs --music-weights",
            latent_spec=LatentSpec(size=TRIO_Z_SIZE, bars_per_segment=TRIO_BARS),
            factory=build_trio_decoder,
            weights=WeightsInfo(
                name="none shipped: import Magenta's hierdec-trio_16bar checkpoint",
                license="the checkpoint's (Magenta's published checkpoints: Apache-2.0)",
                source="score music import-magenta CKPT -o trio.pt --config hierdec-trio_16bar",
            ),
            unavailable=lambda: "needs Magenta's checkpoint, imported with score music import-magenta",
        )
    )
    register(
        DecoderRegistration(
            name="band",
            aliases=("musicvae-band",),
            description="Melody (musicvae) + bass on the melody's chords + drums (musicvae-drums when installed)",
            latent_spec=LatentSpec(
                size=shipped.z_size, bars_per_segment=SEGMENT_BARS, dimension_order=shipped.dimension_order
            ),
            factory=build_band,
            weights=WeightsInfo(
                name=f"{shipped.path.name} (sha256 {shipped.sha256[:12]}) + drums plugin",
                license="Apache-2.0 (trained by score on BSD-licensed music21 corpus data)",
                source="shipped in score-music; drums from the musicvae-drums plugin",
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
