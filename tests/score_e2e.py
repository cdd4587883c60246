"""End-to-end helpers: the real `score` executable, shared clips, plugins installed on disk."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from score_core.testing import Completed, run_score

__all__ = ["Completed", "install_plugin", "run_score", "shared_video"]

SHARED_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"


def shared_video(name: str) -> Path:
    path = SHARED_VIDEO / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not part of a fresh clone)")
    return path


def install_plugin(site: Path, name: str, source: str) -> dict[str, str]:
    """Install a plugin distribution (module + dist-info with a `score` entry point) into ``site``.

    Returns the environment that puts ``site`` on the path of a `score` subprocess.
    """
    module = name.replace("-", "_")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[score]\n{module} = {module}\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
