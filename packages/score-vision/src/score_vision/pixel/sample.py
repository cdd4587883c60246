"""Drawing images from the pixel models, and tiling them into a PNG grid.

Two samplers draw the same images from one seed. "fast" (the default) caches the PixelCNNs' activations (see
fast_sample.py). "reference" runs one forward pass per subpixel; for the gated model each pass covers only the
rows the current row can see (its receptive field), which gives the same logits as a full pass. Both run in
float32: bfloat16 logits would draw other values after the first near-tie (and CPUs without native bfloat16
run it many times slower).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from score_core.files import atomic_write_bytes
from score_vision.pixel.fast_sample import RowCallback, complete_fast, draw
from score_vision.pixel.pixelcnn import LEVELS, GatedPixelCnn, PixelCnn
from score_vision.pixel.vae import ConvVae, LatentImageModel, PixelVae, sample_independent

Sampler = Literal["fast", "reference"]
SAMPLERS: tuple[Sampler, ...] = ("fast", "reference")


def rows_above(network: nn.Module) -> int | None:
    """How many rows above the current one a network's output depends on (None: all of them)."""
    if isinstance(network, GatedPixelCnn):
        return network.receptive_field()[0]
    return None


@torch.inference_mode()
def complete(network: nn.Module, images: torch.Tensor, start_row: int, generator: torch.Generator,
             temperature: float = 1.0, condition: torch.Tensor | None = None,
             on_row: RowCallback | None = None) -> torch.Tensor:
    """Fill rows ``start_row``… of uint8 ``images`` (B, C, H, W) from a PixelCNN, one forward pass per subpixel."""
    images = images.clone()
    _batch, colours, height, width = images.shape
    reach = rows_above(network)
    spatial = condition is not None and condition.dim() == 4
    for row in range(start_row, height):
        top = 0 if reach is None else max(0, row - reach)
        for col in range(width):
            for colour in range(colours):
                window = images[:, :, top:row + 1]
                cond = condition[:, :, top:row + 1] if spatial else condition
                logits = network(window, cond)[:, :, colour, row - top, col]
                images[:, colour, row, col] = draw(logits, temperature, generator).to(images.dtype)
        if on_row is not None:
            on_row(row + 1 - start_row, height - start_row)
    return images


@torch.inference_mode()
def sample_images(model: nn.Module, count: int, seed: int = 0, temperature: float = 1.0,
                  labels: torch.Tensor | None = None, start_images: torch.Tensor | None = None,
                  start_row: int = 0, on_row: RowCallback | None = None, sampler: Sampler = "fast") -> torch.Tensor:
    """``count`` uint8 images (count, C, H, W) from any pixel model: from scratch or completing ``start_images``.

    For the VAEs, z is drawn from the prior, or — when completing — is the posterior mean of the given image.
    """
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    colours, (height, width) = config.colours, tuple(config.size)
    canvas = torch.zeros(count, colours, height, width, dtype=torch.uint8)
    if start_images is not None:
        canvas = start_images.clone().to(torch.uint8)
        canvas[:, :, start_row:] = 0
    if isinstance(model, LatentImageModel):
        z = _latents(model, count, generator, start_images)
        if isinstance(model, ConvVae):
            drawn = sample_independent(model.image_logits(None, z), temperature, generator)
            canvas[:, :, start_row:] = drawn[:, :, start_row:]
            return canvas
        assert isinstance(model, PixelVae)
        condition = model.decoder(z)
        return _complete(sampler, model.pixelcnn, canvas, start_row, generator, temperature, condition, on_row)
    condition = labels if getattr(config, "classes", None) else None
    return _complete(sampler, model.network, canvas, start_row, generator, temperature, condition, on_row)


def _complete(sampler: Sampler, network: nn.Module, images: torch.Tensor, start_row: int,
              generator: torch.Generator, temperature: float, condition: torch.Tensor | None,
              on_row: RowCallback | None) -> torch.Tensor:
    if sampler == "fast" and isinstance(network, GatedPixelCnn | PixelCnn):
        return complete_fast(network, images, start_row, generator, temperature, condition, on_row)
    return complete(network, images, start_row, generator, temperature, condition, on_row)


def _latents(model: LatentImageModel, count: int, generator: torch.Generator,
             start_images: torch.Tensor | None) -> torch.Tensor:
    if start_images is not None:
        mu, _log_var = model.encode(start_images)
        return mu
    return torch.randn(count, model.config.latent, generator=generator)


def tile(images: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """Lay uint8 images (N, C, H, W) out on a grid with ``gap`` white pixels between them: (rows·H, cols·W, C)."""
    count, colours, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, colours), LEVELS - 1, np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        grid[top:top + height, left:left + width] = image.transpose(1, 2, 0)
    return grid


def write_grid(images: np.ndarray, path: Path, scale: int = 2, columns: int | None = None) -> None:
    """Write the images as one PNG grid, each pixel enlarged ``scale`` times."""
    from PIL import Image

    grid = tile(images, columns)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
