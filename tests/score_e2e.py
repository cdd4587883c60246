"""End-to-end helpers: the real `score` executable, shared clips, plugins installed on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
SCORE = shutil.which("score", path=str(Path(sys.executable).parent)) or "score"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_score(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> Completed:
    """Run the installed `score` command in a subprocess."""
    merged = {**os.environ, **(env or {})}
    result = subprocess.run(
        [SCORE, *map(str, args)], capture_output=True, text=True, env=merged, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return Completed(result.returncode, result.stdout, result.stderr)


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
