"""Autoregressive convolution masks, applied functionally (the stored weight is never edited).

Pixels are ordered in raster order and, within a pixel, colour channels R → G → B. Hidden channels are split
into as many groups as there are colours; group g may see colour g of the current pixel only in a type "B" mask
(not in type "A", used on the raw image in the first layer).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

MaskType = Literal["A", "B"]


def channel_groups(channels: int, colours: int) -> torch.Tensor:
    """Colour group of each of ``channels`` channels: contiguous blocks, one per colour."""
    return torch.arange(channels) * colours // channels


def centre_channel_mask(out_groups: torch.Tensor, in_groups: torch.Tensor, mask_type: MaskType) -> torch.Tensor:
    """(out, in) mask for the current pixel's tap: B lets group g see groups ≤ g, A only groups < g."""
    if mask_type == "A":
        return (out_groups[:, None] > in_groups[None, :]).float()
    return (out_groups[:, None] >= in_groups[None, :]).float()


def pixelcnn_mask(
    out_groups: torch.Tensor, in_groups: torch.Tensor, kernel: tuple[int, int], mask_type: MaskType
) -> torch.Tensor:
    """Mask of a centred kernel: rows above the centre, the centre row left of centre, and the centre tap."""
    height, width = kernel
    mask = torch.zeros(len(out_groups), len(in_groups), height, width)
    centre_row, centre_col = height // 2, width // 2
    mask[:, :, :centre_row, :] = 1.0
    mask[:, :, centre_row, :centre_col] = 1.0
    mask[:, :, centre_row, centre_col] = centre_channel_mask(out_groups, in_groups, mask_type)
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution whose weight is multiplied by a fixed mask in every forward pass."""

    mask: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], mask: torch.Tensor,
                 padding: int | tuple[int, int] = 0, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        if mask.shape != self.weight.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match weight {tuple(self.weight.shape)}")
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


def masked_1x1(in_channels: int, out_channels: int, colours: int, out_groups: torch.Tensor | None = None,
               mask_type: MaskType = "B") -> nn.Conv2d:
    """A 1×1 convolution that keeps the colour order (a plain one when there is a single colour)."""
    if colours == 1:
        return nn.Conv2d(in_channels, out_channels, 1)
    out_groups = channel_groups(out_channels, colours) if out_groups is None else out_groups
    mask = centre_channel_mask(out_groups, channel_groups(in_channels, colours), mask_type)
    return MaskedConv2d(in_channels, out_channels, (1, 1), mask[:, :, None, None])
