"""Registrations only: cheap to import, the models are built by the factories."""

from __future__ import annotations

from collections.abc import Callable

from score_core import hookimpl
from score_core.contracts import EncoderSpec, LatentSpec
from score_core.protocols import MusicDecoder, VisionEncoder
from score_core.registrations import DecoderRegistration, EncoderRegistration, StageOptions

COLOR_STATS_SPEC = EncoderSpec(name="color-stats", feature_size=17, input_size=(72, 128), resize="stretch",
                               batch_size=32, temporal=True)
ARPEGGIO_SPEC = LatentSpec(size=8, bars_per_segment=2, steps_per_bar=16)


def _color_stats(weights: str | None) -> VisionEncoder:
    from score_plugin_example.color_stats import ColorStatsEncoder

    return ColorStatsEncoder(COLOR_STATS_SPEC)


def _arpeggio(weights: str | None) -> MusicDecoder:
    from score_plugin_example.arpeggio import ArpeggioDecoder

    return ArpeggioDecoder(ARPEGGIO_SPEC)


@hookimpl
def register_encoders(register: Callable[[EncoderRegistration], None]) -> None:
    register(
        EncoderRegistration(
            name="color-stats",
            aliases=("colour-stats",),
            description="Brightness, saturation, hue histogram and motion energy per frame (no model)",
            spec=COLOR_STATS_SPEC,
            factory=_color_stats,
            default_fps=4.0,
            options=StageOptions,
        )
    )


@hookimpl
def register_decoders(register: Callable[[DecoderRegistration], None]) -> None:
    register(
        DecoderRegistration(
            name="arpeggio",
            description="Each 2-bar segment an arpeggio; the latent picks chord, register, density, velocity",
            latent_spec=ARPEGGIO_SPEC,
            factory=_arpeggio,
            options=StageOptions,
        )
    )
