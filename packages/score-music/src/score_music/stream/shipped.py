"""Where the shipped stream weights live (no torch import)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from score_core.errors import ScoreError

STREAM_WEIGHTS_FILE = "musicvae-stream.pt"


def stream_weights_path() -> Path:
    """The shipped stream weights; a ScoreError when this installation has none."""
    path = Path(str(resources.files("score_music") / "weights" / STREAM_WEIGHTS_FILE))
    if not path.is_file():
        raise ScoreError("musicvae-stream", f"no stream weights shipped at {path}; pass --music-weights PATH")
    return path
