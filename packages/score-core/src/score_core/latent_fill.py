"""Latent dimensions the picture cannot reach, filled from the prior.

A bridge fitted on one video supports at most one latent dimension per frame it saw (fewer frames than latent
dimensions, or components without variance), and maps the rest to 0, the prior's mean. A latent that is zero in
most dimensions lies far inside the prior's typical shell, and MusicVAE decodes it to its tamest melody (one
pitch, stepping by a tone). These dimensions take a draw from the prior from the run's seed instead, constant
over the piece: the picture still moves every dimension it reaches, and a seed picks which melody it moves.
"""

from __future__ import annotations

import numpy as np

from score_core.contracts import LatentTrack

_FILL_STREAM = 0x5EED


def unsupported_dimensions(latents: LatentTrack) -> np.ndarray:
    """Indices of the dimensions that are exactly zero in every segment (and every step, if the track has them)."""
    idle = ~np.any(latents.values != 0, axis=0)
    if latents.step_values is not None:
        idle &= ~np.any(latents.step_values != 0, axis=0)
    return np.flatnonzero(idle)


def fill_from_prior(latents: LatentTrack, seed: int) -> LatentTrack:
    """``latents`` with every unsupported dimension set to one draw from the prior, the same over the piece."""
    idle = unsupported_dimensions(latents)
    if not idle.size:
        return latents
    rng = np.random.default_rng([seed, _FILL_STREAM])
    size = latents.spec.size
    draw = rng.uniform(-1.0, 1.0, size) if latents.spec.prior == "uniform" else rng.standard_normal(size)
    draw = draw.astype(np.float32)
    values = np.array(latents.values)
    values[:, idle] = draw[idle]
    update: dict[str, object] = {"values": values}
    if latents.step_values is not None:
        path = np.array(latents.step_values)
        path[:, idle] = draw[idle]
        update["step_values"] = path
    return latents.model_copy(update=update)
