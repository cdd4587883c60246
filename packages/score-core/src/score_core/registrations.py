"""What a plugin hands to ``register``: a name, a description, contracts and a lazy factory.

Creating a registration must stay cheap: the factory is the only place a plugin imports torch or keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from score_core.contracts import EncoderSpec, LatentSpec
from score_core.protocols import Bridge, MusicDecoder, VisionEncoder, Writer


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights come from, so users know what they run before they run it."""

    name: str
    license: str
    source: str


@dataclass(frozen=True)
class EncoderRegistration:
    """A vision encoder: ``factory(weights)`` builds it, ``weights`` None meaning the default weights."""

    name: str
    description: str
    spec: EncoderSpec
    factory: Callable[[str | None], VisionEncoder]
    aliases: tuple[str, ...] = ()
    weights: WeightsInfo | None = None
    default_fps: float = 2.0


@dataclass(frozen=True)
class DecoderRegistration:
    """A music decoder: ``factory(weights)`` builds it; its latent space is known without building it."""

    name: str
    description: str
    latent_spec: LatentSpec
    factory: Callable[[str | None], MusicDecoder]
    aliases: tuple[str, ...] = ()
    weights: WeightsInfo | None = None


@dataclass(frozen=True)
class BridgeRegistration:
    """A bridge from features to latents: ``factory(weights)`` builds it, fitted from a file when given one."""

    name: str
    description: str
    factory: Callable[[str | None], Bridge]
    aliases: tuple[str, ...] = ()
    output_prior: str = "standard-normal"


@dataclass(frozen=True)
class WriterRegistration:
    """A writer of one output file with the given suffix.

    It runs only when every writer in ``requires`` ran, and after those and any in ``after`` that run.
    """

    name: str
    description: str
    suffix: str
    factory: Callable[[], Writer]
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


Registration = EncoderRegistration | DecoderRegistration | BridgeRegistration | WriterRegistration
