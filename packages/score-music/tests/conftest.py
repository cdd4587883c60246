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


@pytest.fixture(scope="session")
def pop909_root() -> Path:
    """POP909 (``$SCORE_POP909`` or ../shared/data/music/pop909 beside the repository); tests that use it skip
    when it is absent."""
    candidates = [os.environ.get("SCORE_POP909"),
                  str(Path(__file__).resolve().parents[3].parent / "shared" / "data" / "music" / "pop909"),
                  "/work/shared/data/music/pop909"]
    found = next((Path(c) for c in candidates if c and (Path(c) / "001" / "001.mid").is_file()), None)
    if found is None:
        pytest.skip("POP909 (../shared/data/music/pop909) is absent")
    return found
