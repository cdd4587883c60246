"""The `pixelvae` vision encoder: a trained PixelVAE's posterior mean μ as each frame's feature vector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from score_core.contracts import EncoderSpec
from score_core.errors import ScoreError
from score_core.files import sha256_file
from score_vision.pixel.checkpoint import KIND_NAMES, load_model_file
from score_vision.pixel.data import frames_to_channels
from score_vision.pixel.models import model_from_blob
from score_vision.pixel.vae import LatentImageModel

ENCODER_KINDS = ("pixelvae", "vae")


class LatentMeanEncoder:
    """Frames at the model's training size → μ of q(z | frame); the model's own colour mode (grey or RGB)."""

    def __init__(self, model: LatentImageModel, path: Path) -> None:
        self.model = model
        self.path = path
        self.spec = EncoderSpec(name="pixelvae", feature_size=model.config.latent,
                                input_size=(int(model.config.size[0]), int(model.config.size[1])), resize="crop",
                                batch_size=64)

    @torch.inference_mode()
    def encode(self, frames: np.ndarray) -> np.ndarray:
        images = torch.from_numpy(frames_to_channels(frames, self.model.config.colours))
        mu, _log_var = self.model.encode(images)
        return mu.float().numpy()

    def provenance(self) -> dict[str, Any]:
        return {"weights": str(self.path), "weights_sha256": sha256_file(self.path),
                "model": KIND_NAMES[self.model.kind], "config": self.model.config_dict()}


def pixelvae_encoder(weights: str | None) -> LatentMeanEncoder:
    """Load a model file from `score vision train-pixelvae` (or `train-vae`, for comparison)."""
    if not weights or weights == "none":
        raise ScoreError("encoder 'pixelvae'",
                         "needs --vision-weights MODEL.pt (train one with `score vision train-pixelvae`)")
    path = Path(weights)
    model = model_from_blob(load_model_file(path, kinds=ENCODER_KINDS), str(path))
    assert isinstance(model, LatentImageModel)
    return LatentMeanEncoder(model, path)
