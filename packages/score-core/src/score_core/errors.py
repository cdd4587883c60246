"""Errors a user sees as one line: what input, what went wrong."""

from __future__ import annotations


class ScoreError(Exception):
    """An error caused by the user's input or environment, shown as one line without a traceback."""

    def __init__(self, subject: str, cause: str) -> None:
        super().__init__(f"{subject}: {cause}")
        self.subject = subject
        self.cause = cause


class PluginError(ScoreError):
    """A plugin is missing, clashes with another, or failed while it ran."""


class IncompatibleStagesError(ScoreError):
    """Two pipeline stages whose contracts do not fit each other."""
