"""The four trainable image models behind one interface, built from a config dict.

Each has ``kind``, ``config``, ``config_dict()``, ``prepare(images)`` (data-dependent initialisation) and
``loss_terms(images, labels, step, generator)``: a dict with ``loss`` to minimise and ``bits_per_dim`` (the
negative log-likelihood or its bound), plus model-specific figures, all in bits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from score_core.errors import ScoreError
from score_vision.pixel.pixelcnn import PixelCnnConfig, build_pixelcnn, initialise_output_bias, nll_bits_per_dim


class PixelCnnModel(nn.Module):
    """A (gated) PixelCNN trained by maximum likelihood."""

    def __init__(self, config: PixelCnnConfig) -> None:
        super().__init__()
        self.kind = config.kind
        self.config = config
        self.network = build_pixelcnn(config)

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.network(images, condition)

    def loss_terms(self, images: torch.Tensor, labels: torch.Tensor | None, step: int,
                   generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        condition = labels if self.config.classes else None
        bits = nll_bits_per_dim(self.network(images, condition).float(), images)
        return {"loss": bits, "bits_per_dim": bits}

    def config_dict(self) -> dict[str, Any]:
        return self.config.as_dict()

    def prepare(self, images: torch.Tensor) -> None:
        initialise_output_bias(self.network, images)


def pixelcnn_config(values: dict[str, Any]) -> PixelCnnConfig:
    return PixelCnnConfig(**{**values, "size": tuple(values.get("size", (28, 28)))})


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    """A fresh model of ``kind`` ("pixelcnn", "gated", "vae", "pixelvae") from its config dict."""
    if kind in ("pixelcnn", "gated"):
        return PixelCnnModel(pixelcnn_config({**config, "kind": kind}))
    from score_vision.pixel.vae import build_vae_model

    return build_vae_model(kind, config)


MAX_PARAMETERS = 100_000_000
"""A pixel-model file whose config declares more parameters than this is refused before anything is allocated."""


def model_from_blob(blob: dict[str, Any], source: str) -> nn.Module:
    """The model stored in a loaded pixel-model file, in eval mode.

    The config is first built on PyTorch's meta device (shapes only, no memory), so a small file declaring huge
    layers is refused by its parameter count; NaN or infinite weights are refused too."""
    try:
        with torch.device("meta"):
            sizes = sum(p.numel() for p in build_model(blob["kind"], blob["config"]).parameters())
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ScoreError(source, f"holds an invalid {blob.get('kind')} config ({type(exc).__name__})") from None
    if sizes > MAX_PARAMETERS:
        raise ScoreError(source, f"config declares {sizes:,} parameters, over the limit of {MAX_PARAMETERS:,}")
    state = blob.get("model")
    if isinstance(state, dict) and any(
        isinstance(t, torch.Tensor) and t.is_floating_point() and not torch.isfinite(t).all() for t in state.values()
    ):
        raise ScoreError(source, "holds NaN or infinite weights")
    try:
        model = build_model(blob["kind"], blob["config"])
        model.load_state_dict(blob["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        reason = type(exc).__name__
        raise ScoreError(source, f"does not hold a consistent {blob.get('kind')} model ({reason})") from None
    return model.eval()
