"""MusicVAE in pure PyTorch (Magenta's architecture; nothing is built at import time), and the numpy decoder
that samples a flat model without torch. torch is imported only when a torch name is first used."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from score_music.model.config import CONFIGS, NUM_CLASSES, MusicVAEConfig, get_config

_TORCH_NAMES = {
    "LstmState": "score_music.model.lstm",
    "MusicVAE": "score_music.model.vae",
    "kl_divergence": "score_music.model.vae",
    "slerp": "score_music.model.vae",
    "load_weights": "score_music.model.weights",
    "save_weights": "score_music.model.weights",
}

__all__ = ["CONFIGS", "NUM_CLASSES", "MusicVAEConfig", "get_config", *_TORCH_NAMES]


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        return getattr(import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
