"""PixelCNN (van den Oord et al. 2016a) and gated PixelCNN (2016b) over 8-bit images, 256-way softmax per subpixel.

Both return logits shaped (batch, 256, colours, height, width), so ``F.cross_entropy(logits, image)`` with the
uint8 image as target is the negative log-likelihood.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from score_vision.pixel.masks import MaskedConv2d, MaskType, channel_groups, masked_1x1, pixelcnn_mask

LEVELS = 256


@dataclass(frozen=True)
class PixelCnnConfig:
    """Architecture of a (gated) PixelCNN; ``size`` is the (height, width) it was trained on."""

    kind: Literal["pixelcnn", "gated"] = "gated"
    colours: int = 1
    size: tuple[int, int] = (28, 28)
    channels: int = 64
    layers: int = 8
    kernel: int = 5
    classes: int | None = None
    condition_channels: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0..255 float) images to floats in [-1, 1]."""
    values = images if images.is_floating_point() else images.float()
    return values / 127.5 - 1.0


def output_head(channels: int, colours: int) -> nn.Sequential:
    """ReLU → 1×1 → ReLU → 1×1 to 256 logits per colour, keeping the colour order."""
    out_groups = torch.arange(LEVELS * colours) // LEVELS
    return nn.Sequential(
        nn.ReLU(),
        masked_1x1(channels, channels, colours),
        nn.ReLU(),
        masked_1x1(channels, LEVELS * colours, colours, out_groups=out_groups),
    )


def full_precision(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Run the softmax head in float32 even under bfloat16 autocast: the 256 logits need the precision."""
    with torch.autocast(features.device.type, enabled=False):
        return head(features.float() if features.dtype == torch.bfloat16 else features)


def reshape_logits(logits: torch.Tensor, colours: int) -> torch.Tensor:
    batch, _, height, width = logits.shape
    return logits.view(batch, colours, LEVELS, height, width).transpose(1, 2)


class PixelCnn(nn.Module):
    """The original PixelCNN: a 7×7 mask-A convolution, then residual blocks around 3×3 mask-B convolutions.

    It has the known blind spot (pixels up and to the right are never seen); the gated model removes it.
    """

    def __init__(self, config: PixelCnnConfig) -> None:
        super().__init__()
        self.config = config
        colours, hidden = config.colours, config.channels
        wide = 2 * hidden
        self.input = self._masked(colours, wide, 7, "A", in_groups=torch.arange(colours))
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.ReLU(), masked_1x1(wide, hidden, colours),
                nn.ReLU(), self._masked(hidden, hidden, 3, "B"),
                nn.ReLU(), masked_1x1(hidden, wide, colours),
            )
            for _ in range(config.layers)
        )
        self.head = output_head(wide, colours)

    def _masked(self, in_channels: int, out_channels: int, kernel: int, mask_type: MaskType,
                in_groups: torch.Tensor | None = None) -> MaskedConv2d:
        colours = self.config.colours
        in_groups = channel_groups(in_channels, colours) if in_groups is None else in_groups
        mask = pixelcnn_mask(channel_groups(out_channels, colours), in_groups, (kernel, kernel), mask_type)
        return MaskedConv2d(in_channels, out_channels, (kernel, kernel), mask, padding=kernel // 2)

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        features = self.input(to_unit_range(images))
        for block in self.blocks:
            features = features + block(features)
        return reshape_logits(full_precision(self.head, features), self.config.colours)


class GatedLayer(nn.Module):
    """One gated layer: a vertical stack (rows above) feeding a horizontal stack (the row so far).

    The vertical stack works on an input shifted down by one row, once, before the first layer, so its
    kernel of ``kernel//2 + 1`` rows never needs re-masking and its receptive field grows by ``kernel//2``
    rows every layer; there is no blind spot.
    """

    def __init__(self, in_channels: int, config: PixelCnnConfig, first: bool) -> None:
        super().__init__()
        hidden, colours, half = config.channels, config.colours, config.kernel // 2
        self.half_kernel, self.first = half, first
        gated_groups = channel_groups(hidden, colours).repeat(2)
        in_groups = torch.arange(colours) if first else channel_groups(in_channels, colours)
        self.vertical = nn.Conv2d(in_channels, 2 * hidden, (half + 1, config.kernel))
        horizontal_mask = torch.ones(2 * hidden, in_channels, 1, half + 1)
        horizontal_mask[:, :, 0, half] = (
            (gated_groups[:, None] > in_groups[None, :]) if first else (gated_groups[:, None] >= in_groups[None, :])
        ).float()
        self.horizontal = MaskedConv2d(in_channels, 2 * hidden, (1, half + 1), horizontal_mask)
        self.vertical_to_horizontal = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.residual = None if first else masked_1x1(hidden, hidden, colours)
        self.skip = masked_1x1(hidden, hidden, colours)
        self.class_bias = None
        if config.classes:
            self.class_bias = nn.Embedding(config.classes, 4 * hidden)
        self.spatial = None
        if config.condition_channels:
            self.spatial = nn.Conv2d(config.condition_channels, 4 * hidden, 1)

    def forward(self, vertical: torch.Tensor, horizontal: torch.Tensor, condition: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        half = self.half_kernel
        v_pre = self.vertical(F.pad(vertical, (half, half, half, 0)))
        h_pre = self.horizontal(F.pad(horizontal, (half, 0, 0, 0))) + self.vertical_to_horizontal(v_pre)
        if condition is not None:
            bias = self.condition_bias(condition)
            v_bias, h_bias = bias.chunk(2, dim=1)
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        v_out = gate(v_pre)
        h_gated = gate(h_pre)
        skip = self.skip(h_gated)
        h_out = h_gated if self.residual is None else horizontal + self.residual(h_gated)
        return v_out, h_out, skip

    def condition_bias(self, condition: torch.Tensor) -> torch.Tensor:
        """The (B, 4·hidden, 1 or H, 1 or W) bias a class label or a condition map adds to both stacks."""
        if self.class_bias is not None:
            return self.class_bias(condition)[:, :, None, None]
        if self.spatial is not None:
            return self.spatial(condition)
        raise ValueError("this model takes no condition")


def gate(pre_activation: torch.Tensor) -> torch.Tensor:
    content, gate_logit = pre_activation.chunk(2, dim=1)
    return torch.tanh(content) * torch.sigmoid(gate_logit)


class GatedPixelCnn(nn.Module):
    """Gated PixelCNN with a blind-spot-free vertical stack, colour masks, and an optional class or map condition."""

    def __init__(self, config: PixelCnnConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(
            GatedLayer(config.colours if index == 0 else config.channels, config, first=index == 0)
            for index in range(config.layers)
        )
        self.head = output_head(config.channels, config.colours)

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = to_unit_range(images)
        vertical = F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]
        horizontal = x
        skips = None
        for layer in self.layers:
            vertical, horizontal, skip = layer(vertical, horizontal, condition)
            skips = skip if skips is None else skips + skip
        assert skips is not None, "a PixelCNN has at least one layer"
        return reshape_logits(full_precision(self.head, skips), self.config.colours)

    def receptive_field(self) -> tuple[int, int]:
        """(rows above, columns either side) that the output sees; the current row is seen as far left."""
        reach = self.config.layers * (self.config.kernel // 2)
        return reach + 1, reach


def build_pixelcnn(config: PixelCnnConfig) -> nn.Module:
    return GatedPixelCnn(config) if config.kind == "gated" else PixelCnn(config)


def nll_bits_per_dim(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per subpixel, in bits."""
    return F.cross_entropy(logits, images.long()) / math.log(2.0)


def initialise_output_bias(model: nn.Module, images: torch.Tensor) -> None:
    """Start the softmax at the data's marginal distribution of pixel values (per colour)."""
    final: Any = cast(nn.Sequential, model.head)[-1]
    colours = images.shape[1]
    with torch.no_grad():
        for colour in range(colours):
            counts = torch.bincount(images[:, colour].reshape(-1).long(), minlength=LEVELS).float() + 1.0
            final.bias[colour * LEVELS:(colour + 1) * LEVELS] = (counts / counts.sum()).log()
