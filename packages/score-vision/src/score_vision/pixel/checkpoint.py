"""Pixel-model files: one torch file holding the model kind, its config, weights and (optionally) training state."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes

FORMAT = "score-pixel-model"
KIND_NAMES = {
    "pixelcnn": "PixelCNN",
    "gated": "gated PixelCNN",
    "vae": "convolutional VAE",
    "pixelvae": "PixelVAE",
}


def save_model_file(path: Path, blob: dict[str, Any]) -> None:
    """Write ``blob`` (plain values and tensors) to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **blob}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_model_file(path: str | Path, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Read a pixel-model file safely (tensors and plain values only); ``kinds`` lists the model kinds accepted."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(str(path), "no such file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScoreError(str(path), f"not a score pixel-model file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or blob.get("kind") not in KIND_NAMES:
        raise ScoreError(str(path), "not a score pixel-model file")
    if kinds is not None and blob["kind"] not in kinds:
        wanted = " or ".join(KIND_NAMES[kind] for kind in kinds)
        raise ScoreError(str(path), f"is a {KIND_NAMES[blob['kind']]} model, not a {wanted}")
    return blob
