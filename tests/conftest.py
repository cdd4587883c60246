"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from score_core.media.synthetic import write_test_video


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """A 10 s, 25 fps H.264 clip with hard cuts at 3 s and 7 s."""
    return write_test_video(tmp_path_factory.mktemp("clips") / "clip.mp4", duration=10.0, cuts=(3.0, 7.0))
