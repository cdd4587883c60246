"""The convolutional VAE baseline and PixelVAE (Gulrajani et al. 2016), both over 8-bit pixels.

Both share the encoder (two stride-2 convolutions → μ, log σ²) and the map decoder (z → a feature map at full
resolution). The VAE reads 256 logits per subpixel straight off that map, independently; PixelVAE feeds the map
as the spatial condition of a small gated PixelCNN, so the latent need not carry low-level detail.
Every figure is in bits: reconstruction in bits/dim, KL in bits per image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from score_core.errors import ScoreError
from score_vision.pixel.pixelcnn import (
    LEVELS,
    GatedPixelCnn,
    PixelCnnConfig,
    full_precision,
    initialise_output_bias,
    nll_bits_per_dim,
    reshape_logits,
    to_unit_range,
)

LN2 = math.log(2.0)


@dataclass(frozen=True)
class VaeConfig:
    """Architecture and KL schedule; ``free_bits`` is per latent unit, in bits; ``anneal_steps`` 0 means no warm-up."""

    kind: Literal["vae", "pixelvae"] = "pixelvae"
    colours: int = 1
    size: tuple[int, int] = (28, 28)
    latent: int = 32
    width: int = 64
    map_channels: int = 32
    pixel_layers: int = 4
    pixel_channels: int = 32
    kernel: int = 5
    free_bits: float = 0.0
    anneal_steps: int = 2000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_size(size: tuple[int, int]) -> None:
    height, width = size
    if height % 4 or width % 4 or height < 8 or width < 8:
        raise ScoreError(f"size {height}x{width}", "the VAE encoder halves the image twice: use multiples of 4, ≥ 8")


class LatentEncoder(nn.Module):
    """Image → (μ, log σ²) of a diagonal Gaussian posterior."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        width, (height, cols) = config.width, config.size
        self.convs = nn.Sequential(
            nn.Conv2d(config.colours, width // 2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width // 2, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        )
        self.posterior = nn.Linear(width * (height // 4) * (cols // 4), 2 * config.latent)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.convs(to_unit_range(images)).flatten(1)
        mu, log_var = self.posterior(features).float().chunk(2, dim=1)
        return mu, log_var.clamp(-12.0, 8.0)


class MapDecoder(nn.Module):
    """z → a (map_channels, H, W) feature map through two stride-2 transposed convolutions."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        width, (height, cols) = config.width, config.size
        self.quarter = (width, height // 4, cols // 4)
        self.project = nn.Linear(config.latent, width * (height // 4) * (cols // 4))
        self.upsample = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width // 2, config.map_channels, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(-1, *self.quarter))


class LatentImageModel(nn.Module):
    """Shared by both kinds: posterior, reparameterised sample, annealed KL with free bits."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        check_size(config.size)
        self.kind = config.kind
        self.config = config
        self.encoder = LatentEncoder(config)
        self.decoder = MapDecoder(config)

    def config_dict(self) -> dict[str, Any]:
        return self.config.as_dict()

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(images)

    def image_logits(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def kl_weight(self, step: int) -> float:
        if step < 0 or self.config.anneal_steps <= 0:
            return 1.0
        return min(1.0, step / self.config.anneal_steps)

    def loss_terms(self, images: torch.Tensor, labels: torch.Tensor | None, step: int,
                   generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        mu, log_var = self.encode(images)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * log_var) * noise
        recon = nll_bits_per_dim(self.image_logits(images, z).float(), images)
        kl_units = 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var) / LN2  # bits, (batch, latent)
        kl_bits = kl_units.sum(dim=1).mean()
        dims = images[0].numel()
        kept = kl_units.mean(dim=0)
        if self.config.free_bits > 0:
            kept = kept.clamp(min=self.config.free_bits)
        loss = recon + self.kl_weight(step) * kept.sum() / dims
        active = (mu.detach().var(dim=0) > 0.01).float().sum() if len(mu) > 1 else torch.tensor(0.0)
        return {"loss": loss, "bits_per_dim": recon + kl_bits / dims, "recon_bits_per_dim": recon,
                "kl_bits": kl_bits, "active_units": active}

    def prepare(self, images: torch.Tensor) -> None:
        return None


class ConvVae(LatentImageModel):
    """The baseline: every subpixel's 256 logits come from the decoded map alone (no autoregression)."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__(config)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(config.map_channels, LEVELS * config.colours, 1))

    def image_logits(self, images: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        return reshape_logits(full_precision(self.head, self.decoder(z)), self.config.colours)

    def prepare(self, images: torch.Tensor) -> None:
        initialise_output_bias(self, images)


class PixelVae(LatentImageModel):
    """PixelVAE: the decoded map conditions a small gated PixelCNN at every layer."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__(config)
        self.pixelcnn = GatedPixelCnn(PixelCnnConfig(
            kind="gated", colours=config.colours, size=config.size, channels=config.pixel_channels,
            layers=config.pixel_layers, kernel=config.kernel, condition_channels=config.map_channels))

    def image_logits(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.pixelcnn(images, self.decoder(z))

    def prepare(self, images: torch.Tensor) -> None:
        initialise_output_bias(self.pixelcnn, images)


def build_vae_model(kind: str, config: dict[str, Any]) -> LatentImageModel:
    values = {**config, "kind": kind, "size": tuple(config.get("size", (28, 28)))}
    vae_config = VaeConfig(**values)
    return PixelVae(vae_config) if kind == "pixelvae" else ConvVae(vae_config)


def sample_independent(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """Draw every subpixel from its own softmax: logits (B, 256, C, H, W) → uint8 (B, C, H, W)."""
    probabilities = F.softmax(logits.float().movedim(1, -1) / temperature, dim=-1)
    flat = probabilities.reshape(-1, LEVELS)
    draws = torch.multinomial(flat, 1, generator=generator).view(probabilities.shape[:-1])
    return draws.to(torch.uint8)
