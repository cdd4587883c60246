"""A model-free encoder: colour statistics and motion energy of each frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from score_core.contracts import EncoderSpec

HUE_BINS = 12


def rgb_to_hsv(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in [0, 1), saturation and value in [0, 1] of uint8 RGB frames (..., 3)."""
    rgb = frames.astype(np.float32) / 255.0
    value = rgb.max(axis=-1)
    minimum = rgb.min(axis=-1)
    chroma = value - minimum
    saturation = np.divide(chroma, value, out=np.zeros_like(value), where=value > 0)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(
        value == red,
        ((green - blue) / safe) % 6.0,
        np.where(value == green, (blue - red) / safe + 2.0, (red - green) / safe + 4.0),
    )
    hue = np.where(chroma > 0, hue / 6.0, 0.0)
    return hue, saturation, value


class ColorStatsEncoder:
    """Features: brightness mean/std, saturation mean/std, 12-bin hue histogram, motion energy.

    The hue histogram is weighted by saturation, so greys do not count as red. Motion energy is the mean
    absolute RGB change from the previous frame this encoder saw (0 for a video's first frame).
    """

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def encode(self, frames: np.ndarray) -> np.ndarray:
        hue, saturation, value = rgb_to_hsv(frames)
        count = frames.shape[0]
        features = np.zeros((count, self.spec.feature_size), dtype=np.float32)
        features[:, 0] = value.mean(axis=(1, 2))
        features[:, 1] = value.std(axis=(1, 2))
        features[:, 2] = saturation.mean(axis=(1, 2))
        features[:, 3] = saturation.std(axis=(1, 2))
        bins = np.minimum((hue * HUE_BINS).astype(np.int64), HUE_BINS - 1).reshape(count, -1)
        weights = saturation.reshape(count, -1)
        for row in range(count):
            histogram = np.bincount(bins[row], weights=weights[row], minlength=HUE_BINS)
            features[row, 4 : 4 + HUE_BINS] = histogram / max(weights[row].size, 1)
        rgb = frames.astype(np.float32) / 255.0
        for row in range(count):
            current = rgb[row]
            if self._previous is not None:
                features[row, 4 + HUE_BINS] = float(np.abs(current - self._previous).mean())
            self._previous = current
        return features

    def provenance(self) -> dict[str, Any]:
        return {"weights": None, "hue_bins": HUE_BINS}
