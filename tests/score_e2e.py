"""End-to-end helpers: the real `score` executable, shared clips, plugins installed on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from score_core.testing import Completed, install_fake_plugin, run_score

__all__ = ["Completed", "install_plugin", "run_score", "shared_video"]

SHARED_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"


def shared_video(name: str) -> Path:
    path = SHARED_VIDEO / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not part of a fresh clone)")
    return path


def install_plugin(site: Path, name: str, source: str) -> dict[str, str]:
    """Install a plugin distribution into ``site``; the environment that puts it on a `score` subprocess's path."""
    return install_fake_plugin(site, name, source)
