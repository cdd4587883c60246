"""Fixtures of the studio's tests: small real clips and a registry of the light example plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from score_core.media.synthetic import write_test_video
from score_core.registry import Registry, load_registry

LIGHT_PLUGINS = "example,studio"


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4.5 s H.264 clip (one arpeggio segment at 120 bpm) with a hard cut at 2 s."""
    return write_test_video(tmp_path_factory.mktemp("clips") / "clip.mp4", duration=4.5, cuts=(2.0,))


@pytest.fixture(scope="session")
def light_registry() -> Registry:
    """Core's writers and bridge, the example plugin's color-stats encoder and arpeggio decoder."""
    return load_registry(pinned=LIGHT_PLUGINS)
