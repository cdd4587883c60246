"""The fast (cached) sampler draws exactly the images of the reference sampler, from one seed."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from score_vision.pixel.fast_sample import GatedCache, complete_fast
from score_vision.pixel.models import build_model
from score_vision.pixel.pixelcnn import GatedPixelCnn, PixelCnnConfig, build_pixelcnn
from score_vision.pixel.sample import complete, sample_images

CONFIGS = {
    "grey k3": ({"colours": 1, "size": (9, 7), "layers": 3, "kernel": 3}, None),
    "colour k5": ({"colours": 3, "size": (7, 6), "layers": 2, "kernel": 5}, None),
    "one layer k7": ({"colours": 1, "size": (8, 9), "layers": 1, "kernel": 7}, None),
    "colour classes": ({"colours": 3, "size": (6, 6), "layers": 3, "kernel": 3, "classes": 4}, "labels"),
    "grey map": ({"colours": 1, "size": (8, 8), "layers": 2, "kernel": 5, "condition_channels": 5}, "map"),
    "plain grey": ({"kind": "pixelcnn", "colours": 1, "size": (9, 8), "layers": 2}, None),
    "plain colour": ({"kind": "pixelcnn", "colours": 3, "size": (6, 7), "layers": 3}, None),
}


def random_network(config: dict[str, Any]) -> nn.Module:
    """A PixelCNN (gated unless said) with large random weights: softmaxes far from uniform and from each other."""
    torch.manual_seed(0)
    network = build_pixelcnn(PixelCnnConfig(**{"kind": "gated", "channels": 12, **config})).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.3)
    return network


def condition_for(kind: str | None, batch: int, config: dict[str, Any]) -> torch.Tensor | None:
    generator = torch.Generator().manual_seed(5)
    if kind == "labels":
        return torch.randint(0, config["classes"], (batch,), generator=generator)
    if kind == "map":
        return torch.randn(batch, config["condition_channels"], *config["size"], generator=generator)
    return None


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_sampler_draws_the_reference_images(name: str) -> None:
    config, condition_kind = CONFIGS[name]
    network = random_network(config)
    condition = condition_for(condition_kind, 3, config)
    canvas = torch.zeros(3, config["colours"], *config["size"], dtype=torch.uint8)
    reference = complete(network, canvas, 0, torch.Generator().manual_seed(1), 0.8, condition)
    fast = complete_fast(network, canvas, 0, torch.Generator().manual_seed(1), 0.8, condition)
    assert torch.equal(fast, reference)
    assert len(reference.unique()) > 20, "the draws should be varied, or the test proves little"


@pytest.mark.parametrize("kind", ["gated", "pixelcnn"])
def test_fast_completion_keeps_the_given_rows_and_matches_the_reference(kind: str) -> None:
    config = {"kind": kind, "colours": 3, "size": (10, 6), "layers": 3, "kernel": 5}
    network = random_network(config)
    start = torch.randint(0, 256, (2, 3, 10, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    reference = complete(network, start, 6, torch.Generator().manual_seed(3))
    fast = complete_fast(network, start, 6, torch.Generator().manual_seed(3))
    assert torch.equal(fast, reference) and torch.equal(fast[:, :, :6], start[:, :, :6])


def test_cached_logits_equal_a_full_forward_pass() -> None:
    """Position by position, on a fixed image: catches a wrong cache even where a draw would not change."""
    config = {"colours": 3, "size": (7, 8), "layers": 3, "kernel": 5, "classes": 2}
    network = random_network(config)
    assert isinstance(network, GatedPixelCnn)
    image = torch.randint(0, 256, (2, 3, 7, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    labels = torch.tensor([0, 1])
    with torch.inference_mode():
        full = network(image, labels)
        cache = GatedCache(network, torch.zeros_like(image), labels)
        for row in range(7):
            cache.begin_row(row)
            for col in range(8):
                for colour in range(3):
                    logits = cache.logits(col, colour)
                    assert torch.allclose(logits, full[:, :, colour, row, col], atol=1e-4), (row, col, colour)
                    cache.place(col, colour, image[:, colour, row, col])


@pytest.mark.parametrize("kind", ["gated", "pixelvae", "pixelcnn"])
def test_both_samplers_of_sample_images_agree(kind: str) -> None:
    config = ({"latent": 4, "width": 8, "map_channels": 4, "pixel_layers": 2, "pixel_channels": 6, "size": (8, 8)}
              if kind == "pixelvae" else {"channels": 6, "layers": 2, "kernel": 3, "size": (6, 5)})
    torch.manual_seed(0)
    model = build_model(kind, config).eval()
    fast = sample_images(model, 2, seed=3, sampler="fast")
    assert torch.equal(fast, sample_images(model, 2, seed=3, sampler="reference"))
