"""What the run's seed does to the latent track before decoding: axis orientation and the unreachable dimensions.

A bridge's axes have no preferred sign (a principal component and its negative explain the same variance), so
every seed but 0 flips a seed-chosen half of the latent axes (`orient_for_seed`): the picture moves the latent
exactly as much, at the same moments (every cut is as large a jump), but towards other music, so two seeds give
two different tunes rather than the same tune with other sampling noise. Seed 0 keeps the bridge's own signs.

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
_ORIENTATION_STREAM = 0x5167


def axis_signs(seed: int, size: int) -> np.ndarray:
    """+1 or -1 per latent axis: all +1 for seed 0, else a seed-chosen half of the axes (at least one) -1."""
    signs = np.ones(size, dtype=np.float32)
    if seed == 0 or size == 0:
        return signs
    rng = np.random.default_rng([seed, _ORIENTATION_STREAM])
    signs[rng.permutation(size)[: max(1, size // 2)]] = -1.0
    return signs


def orient_for_seed(latents: LatentTrack, seed: int) -> LatentTrack:
    """``latents`` with each axis multiplied by its `axis_signs` sign (unchanged for seed 0)."""
    signs = axis_signs(seed, latents.spec.size)
    if np.all(signs > 0):
        return latents
    update: dict[str, object] = {"values": (np.asarray(latents.values) * signs).astype(np.float32)}
    if latents.step_values is not None:
        update["step_values"] = (np.asarray(latents.step_values) * signs).astype(np.float32)
    return latents.model_copy(update=update)


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
