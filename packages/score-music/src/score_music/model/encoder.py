"""MusicVAE's bidirectional LSTM encoder: final forward and backward h → mu and sigma."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BidirectionalLstmEncoder(nn.Module):
    """Stacked bidirectional LSTMs; each layer reads both directions' outputs of the one below (Magenta's
    `stack_bidirectional_dynamic_rnn`)."""

    def __init__(self, input_size: int, sizes: tuple[int, ...], z_size: int) -> None:
        super().__init__()
        inputs = (input_size, *(2 * s for s in sizes[:-1]))
        self.layers = nn.ModuleList(
            nn.LSTM(i, h, batch_first=True, bidirectional=True) for i, h in zip(inputs, sizes, strict=True)
        )
        self.mu = nn.Linear(2 * sizes[-1], z_size)
        self.sigma = nn.Linear(2 * sizes[-1], z_size)

    def forward(self, sequence: Tensor) -> tuple[Tensor, Tensor]:
        """(batch, time, input) one-hot → mu, sigma, each (batch, z)."""
        x = sequence
        h_n = None
        for layer in self.layers:
            x, (h_n, _) = layer(x)
        assert h_n is not None
        final = torch.cat([h_n[0], h_n[1]], dim=-1)  # last layer: forward final h, backward final h
        return self.mu(final), F.softplus(self.sigma(final))
