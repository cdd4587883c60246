"""Hook specifications of the ``score`` plugin project; their docstrings are the reference for plugin authors.

Each hook receives a ``register`` callback instead of returning values, so later versions can give the
callback new optional keyword arguments without breaking plugins written today.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from score_core.registrations import (
    BridgeRegistration,
    DecoderRegistration,
    EncoderRegistration,
    WriterRegistration,
)

PROJECT = "score"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_encoders(register: Callable[[EncoderRegistration], None]) -> None:
    """Call ``register(EncoderRegistration(...))`` once for each vision encoder the plugin provides."""


@hookspec
def register_decoders(register: Callable[[DecoderRegistration], None]) -> None:
    """Call ``register(DecoderRegistration(...))`` once for each music decoder the plugin provides."""


@hookspec
def register_bridges(register: Callable[[BridgeRegistration], None]) -> None:
    """Call ``register(BridgeRegistration(...))`` once for each feature-to-latent bridge."""


@hookspec
def register_writers(register: Callable[[WriterRegistration], None]) -> None:
    """Call ``register(WriterRegistration(...))`` once for each output file type."""


@hookspec
def register_commands(app: Any) -> None:
    """Add sub-commands to the ``score`` typer application ``app`` (for example ``app.add_typer(...)``)."""
