"""Grooves the drums model has really heard: posterior means of Groove MIDI training windows.

The drums VAE's prior is N(0, I), but its posteriors sit in a small part of that space (KL at the free bits):
latents drawn from the prior decode to hits scattered over the bar (the snare on beats 2 or 4 only ~0.17 of the
time), while the latents of real grooves decode to grooves (~0.28, the human windows' 0.29). The band therefore
reads the video's drum components as a point in the standardised space of these posterior means and plays the
nearest real groove's latent: a shot still picks its own groove, and every groove it can pick is one a drummer
played.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from score_core.errors import ScoreError

LIBRARY_SUFFIX = ".grooves.npz"


def library_path(weights: Path) -> Path:
    """Where the groove library of a drums weights file lives: beside it, ``NAME.grooves.npz``."""
    return weights.with_name(weights.stem + LIBRARY_SUFFIX)


@dataclass(frozen=True)
class GrooveLibrary:
    """Posterior means (n, z) of real grooves, and their standardised coordinates for nearest-neighbour lookup."""

    latents: np.ndarray
    whitened: np.ndarray

    @classmethod
    def of(cls, latents: np.ndarray) -> GrooveLibrary:
        """The library of these posterior means, each latent dimension standardised by its spread over them (so
        the bridge's strongest components, put on the model's most-used dimensions, choose among grooves the way
        they would move a sampled latent)."""
        values = np.asarray(latents, dtype=np.float64)
        spread = np.maximum(values.std(axis=0), 1e-6)
        whitened = (values - values.mean(axis=0)) / spread
        return cls(latents=values.astype(np.float32), whitened=whitened.astype(np.float32))

    def nearest(self, components: np.ndarray) -> np.ndarray:
        """For each row of ``components`` (standard-normal coordinates, (m, z)), the latent of the groove whose
        standardised coordinates are nearest."""
        rows = np.asarray(components, dtype=np.float32)
        distances = (rows**2).sum(axis=1)[:, None] - 2 * rows @ self.whitened.T + (self.whitened**2).sum(axis=1)
        return self.latents[np.argmin(distances, axis=1)]


def posterior_means(model: Any, windows: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The drums model's posterior means (n, z) for event windows (n, steps)."""
    import torch

    means = []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            mu, _ = model.encode(torch.from_numpy(np.asarray(windows[start : start + batch], dtype=np.int64)))
            means.append(mu.numpy())
    return np.concatenate(means) if means else np.zeros((0, 0), dtype=np.float32)


def save_library(path: Path, latents: np.ndarray, facts: dict[str, Any]) -> None:
    """Write posterior means (float16) and the facts that made them."""
    np.savez_compressed(path, latents=np.asarray(latents, dtype=np.float16),
                        facts=np.array([repr(sorted(facts.items()))]))


def load_library(path: Path) -> GrooveLibrary:
    """The groove library at ``path``; a ScoreError naming it when it cannot be read."""
    try:
        with np.load(path) as data:
            latents = np.asarray(data["latents"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as error:
        raise ScoreError(str(path), f"not a groove library ({error})") from None
    if latents.ndim != 2 or latents.shape[0] < 2:
        raise ScoreError(str(path), f"not a groove library (latents of shape {latents.shape})")
    return GrooveLibrary.of(latents)
