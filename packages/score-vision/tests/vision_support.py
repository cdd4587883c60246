"""Helpers for score-vision's tests: decoding frames at given times, cover-cropping, cosine similarity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

SHARED_VIDEO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "video"


def cover_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale an RGB image to cover ``size`` (height, width), then centre-crop: what the media layer does."""
    from PIL import Image

    height, width = image.shape[:2]
    scale = max(size[0] / height, size[1] / width)
    resized = Image.fromarray(image).resize(
        (max(size[1], round(width * scale)), max(size[0], round(height * scale))), Image.Resampling.BILINEAR
    )
    left = (resized.width - size[1]) // 2
    top = (resized.height - size[0]) // 2
    return np.asarray(resized.crop((left, top, left + size[1], top + size[0])))


def frames_at(path: Path, times: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """Decode the frames nearest to ``times`` with PyAV, cover-cropped to ``size``."""
    import av

    wanted = sorted(times)
    found: dict[float, tuple[float, np.ndarray]] = {}
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is None:
                continue
            for time in wanted:
                distance = abs(frame.time - time)
                if time not in found or distance < found[time][0]:
                    found[time] = (distance, frame.to_ndarray(format="rgb24"))
            if frame.time > wanted[-1] + 0.5:
                break
    return np.stack([cover_crop(found[time][1], size) for time in times])


def cosine(rows: Iterable[np.ndarray]) -> np.ndarray:
    matrix = np.stack(list(rows)).astype(np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix @ matrix.T
