"""What a plugin hands to ``register``: a name, a description, contracts and a lazy factory.

Creating a registration must stay cheap: the factory is the only place a plugin imports torch or keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from score_core.contracts import EncoderSpec, LatentSpec
from score_core.errors import PluginError
from score_core.protocols import Bridge, MusicDecoder, VisionEncoder, Writer


class StageOptions(BaseModel):
    """The options a stage takes (``--vision-opt key=value`` …): none. Plugins subclass it to declare theirs;
    a key the model does not declare is refused with one line naming plugin and option."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WeightsOptions(StageOptions):
    """A stage that loads weights: ``weights`` is a local file, None meaning the plugin's default."""

    weights: str | None = None


class LayerOptions(WeightsOptions):
    """An encoder that can give the features of an earlier ``layer`` (e.g. ``features.7``)."""

    layer: str | None = None


def parse_options(label: str, model: type[StageOptions], raw: Mapping[str, Any]) -> StageOptions:
    """``raw`` (strings from the command line, or values) validated by ``model``; a one-line PluginError
    naming ``label`` (such as ``encoder 'mobilenet'``) and the option otherwise."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as error:
        first = error.errors()[0]
        option = ".".join(str(part) for part in first["loc"]) or "options"
        if first["type"] == "extra_forbidden":
            takes = ", ".join(model.model_fields) or "no options"
            raise PluginError(label, f"takes no option '{option}' (it takes: {takes})") from None
        raise PluginError(label, f"option '{option}': {first['msg']}") from None


def build_stage(factory: Callable[..., Any], options: StageOptions) -> Any:
    """Call a registration's factory: ``factory(weights, **other_options)``."""
    values = options.model_dump()
    return factory(values.pop("weights", None), **values)


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights come from, so users know what they run before they run it."""

    name: str
    license: str
    source: str


@dataclass(frozen=True)
class EncoderRegistration:
    """A vision encoder: ``factory(weights, **other options)`` builds it (see ``build_stage``), ``weights`` None
    meaning the default weights; ``options`` declares what it takes."""

    name: str
    description: str
    spec: EncoderSpec
    factory: Callable[..., VisionEncoder]
    aliases: tuple[str, ...] = ()
    weights: WeightsInfo | None = None
    default_fps: float = 2.0
    options: type[StageOptions] = WeightsOptions
    unavailable: Callable[[], str | None] | None = None
    """Why the encoder cannot run here without weights given by the user (None: it can), checked cheaply."""


@dataclass(frozen=True)
class DecoderRegistration:
    """A music decoder: ``factory(weights, **other options)`` builds it; its latent space is known without
    building it; ``options`` declares what it takes."""

    name: str
    description: str
    latent_spec: LatentSpec
    factory: Callable[..., MusicDecoder]
    aliases: tuple[str, ...] = ()
    weights: WeightsInfo | None = None
    options: type[StageOptions] = WeightsOptions
    unavailable: Callable[[], str | None] | None = None
    """Why the decoder cannot run here without weights given by the user (None: it can), checked cheaply."""


@dataclass(frozen=True)
class BridgeRegistration:
    """A bridge from features to latents: ``factory(weights, **other options)`` builds it, fitted from a file
    when given one; ``options`` declares what it takes (``--bridge-opt key=value``)."""

    name: str
    description: str
    factory: Callable[..., Bridge]
    aliases: tuple[str, ...] = ()
    output_prior: str = "standard-normal"
    options: type[StageOptions] = WeightsOptions


@dataclass(frozen=True)
class WriterRegistration:
    """A writer of one output file with the given suffix (no two writers share one).

    ``factory(**options)`` builds it, ``options`` declaring what it takes (``--writer-opt NAME.KEY=VALUE``).
    It runs only when every writer in ``requires`` ran, and after those and any in ``after`` that run
    (``after=("*",)``: after every writer that does not say so too). ``folder``: its output is a directory (an
    earlier run's folder is replaced with ``--overwrite`` like a file).
    """

    name: str
    description: str
    suffix: str
    factory: Callable[..., Writer]
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    options: type[StageOptions] = StageOptions
    folder: bool = False


Registration = EncoderRegistration | DecoderRegistration | BridgeRegistration | WriterRegistration
