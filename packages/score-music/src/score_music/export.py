"""Saving trained weights with the card the plugin reads: config, latent size, which dimensions the model uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from score_core.files import atomic_write_bytes, sha256_file
from score_music.loading import card_path


def latent_usage(model: Any, windows: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Mean KL (nats) of each latent dimension over ``windows``: how much the model uses it."""
    import torch

    totals = None
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            events = torch.from_numpy(np.asarray(windows[start : start + batch_size], dtype=np.int64))
            mu, sigma = model.encode(events)
            kl = 0.5 * (mu**2 + sigma**2 - 1.0) - torch.log(sigma)
            part = kl.sum(dim=0).numpy()
            totals = part if totals is None else totals + part
    assert totals is not None, "no windows to measure latent usage on"
    return totals / len(windows)


def export_weights(
    model: Any, path: Path, usage_windows: np.ndarray, facts: dict[str, Any] | None = None, half: bool = False,
) -> Path:
    """Write the weights (float16 with ``half``) to ``path`` and, beside them, the JSON card with the dimension
    order (most used first)."""
    import torch

    from score_music.model.weights import save_weights

    model.eval()
    save_weights(model, model.config, path, dtype=torch.float16 if half else torch.float32)
    usage = latent_usage(model, usage_windows)
    card = {
        "config": model.config.name,
        "z_size": model.config.z_size,
        "dimension_order": [int(i) for i in np.argsort(-usage, kind="stable")],
        "kl_per_dimension": [round(float(v), 5) for v in usage],
        "sha256": sha256_file(Path(path)),
        **(facts or {}),
    }
    atomic_write_bytes(card_path(Path(path)), (json.dumps(card, indent=2) + "\n").encode())
    return Path(path)
