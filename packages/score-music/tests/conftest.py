"""Fixtures shared by score-music's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def groove_root() -> Path:
    """The Groove MIDI Dataset (``$SCORE_GROOVE`` or ../shared/data/music/groove beside the repository);
    tests that use it skip when it is absent."""
    candidates = [os.environ.get("SCORE_GROOVE"),
                  str(Path(__file__).resolve().parents[3].parent / "shared" / "data" / "music" / "groove"),
                  "/work/shared/data/music/groove"]
    found = next((Path(c) for c in candidates if c and (Path(c) / "info.csv").is_file()), None)
    if found is None:
        pytest.skip("the Groove MIDI Dataset (../shared/data/music/groove) is absent")
    return found
