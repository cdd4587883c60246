"""MusicVAE in pure PyTorch (Magenta's architecture; nothing is built at import time beyond torch itself)."""

from score_music.model.config import CONFIGS, NUM_CLASSES, MusicVAEConfig, get_config
from score_music.model.lstm import LstmState
from score_music.model.vae import MusicVAE, kl_divergence, slerp
from score_music.model.weights import load_weights, save_weights

__all__ = [
    "CONFIGS",
    "NUM_CLASSES",
    "LstmState",
    "MusicVAE",
    "MusicVAEConfig",
    "get_config",
    "kl_divergence",
    "load_weights",
    "save_weights",
    "slerp",
]
