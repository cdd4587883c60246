"""Registrations only: `score studio` and `score live` are added to the CLI; nothing heavy is imported here."""

from __future__ import annotations

from typing import Any

from score_core import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    """Add `score studio` (the local web page) and `score live` (MIDI from a camera, stream or file)."""
    from score_studio.commands import live, studio

    app.command()(studio)
    app.command()(live)
