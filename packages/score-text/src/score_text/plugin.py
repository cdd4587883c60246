"""Registrations of score-text: the `score text …` commands. Imports neither keras nor torch."""

from __future__ import annotations

from typing import Any

from score_core import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    from score_text.cli import app as text_app

    app.add_typer(text_app, name="text")
