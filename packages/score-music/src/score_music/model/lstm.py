"""Stacked LSTMs on torch.nn.LSTM (fast fused loops on CPU) and Magenta's LSTMBlockCell parameter layout.

Magenta stores each cell as TensorFlow's `LSTMBlockCell`: `kernel` [input + hidden, 4·hidden] (input rows first),
`bias` [4·hidden], gates in the order i, c (TF's "j"), f, o, and a forget bias of +1.0 added at run time, not
stored. torch.nn.LSTM keeps `weight_ih` [4·hidden, input], `weight_hh` [4·hidden, hidden], gates i, f, g(=c), o.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

LstmState = tuple[tuple[Tensor, Tensor], ...]
"""Per layer, bottom first: (h, c), each (batch, hidden)."""

MAGENTA_FORGET_BIAS = 1.0


def magenta_cell_to_torch(
    kernel: np.ndarray, bias: np.ndarray, input_size: int, forget_bias: float = MAGENTA_FORGET_BIAS
) -> dict[str, np.ndarray]:
    """Convert one LSTMBlockCell (kernel, bias) to torch.nn.LSTM's weight_ih, weight_hh, bias_ih, bias_hh."""
    hidden = bias.shape[0] // 4
    if kernel.shape != (input_size + hidden, 4 * hidden) or bias.shape != (4 * hidden,):
        raise ValueError(f"LSTM kernel {kernel.shape} / bias {bias.shape} do not fit input {input_size}")
    k_i, k_c, k_f, k_o = np.split(kernel.astype(np.float32), 4, axis=1)
    b_i, b_c, b_f, b_o = np.split(bias.astype(np.float32), 4)
    torch_kernel = np.concatenate([k_i, k_f, k_c, k_o], axis=1)  # torch order i, f, g, o
    return {
        "weight_ih": np.ascontiguousarray(torch_kernel[:input_size].T),
        "weight_hh": np.ascontiguousarray(torch_kernel[input_size:].T),
        "bias_ih": np.concatenate([b_i, b_f + np.float32(forget_bias), b_c, b_o]),
        "bias_hh": np.zeros(4 * hidden, np.float32),
    }


class StackedLstm(nn.Module):
    """Unidirectional LSTM layers (sizes may differ), stepped or run over whole sequences."""

    def __init__(self, input_size: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        inputs = (input_size, *sizes[:-1])
        self.layers = nn.ModuleList(nn.LSTM(i, h, batch_first=True) for i, h in zip(inputs, sizes, strict=True))

    @property
    def state_size(self) -> int:
        """Total floats of one state (c and h of every layer)."""
        return 2 * sum(self.sizes)

    def forward(self, x: Tensor, state: LstmState) -> tuple[Tensor, LstmState]:
        """Run (batch, time, input) from `state`; returns the top layer's outputs and the final state."""
        new_state = []
        for layer, (h, c) in zip(self.layers, state, strict=True):
            x, (h_n, c_n) = layer(x, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
            new_state.append((h_n[0], c_n[0]))
        return x, tuple(new_state)

    def step(self, x: Tensor, state: LstmState) -> tuple[Tensor, LstmState]:
        """One time step: (batch, input) → (batch, hidden)."""
        out, state = self(x.unsqueeze(1), state)
        return out[:, 0], state

    def state_from_flat(self, flat: Tensor) -> LstmState:
        """Split a (batch, state_size) tensor in Magenta's order c0, h0, c1, h1, … into an LstmState."""
        parts = torch.split(flat, [s for size in self.sizes for s in (size, size)], dim=-1)
        return tuple((parts[2 * i + 1], parts[2 * i]) for i in range(len(self.sizes)))

    @staticmethod
    def state_to_flat(state: LstmState) -> Tensor:
        """Concatenate a state in Magenta's order c0, h0, c1, h1, …."""
        return torch.cat([t for h, c in state for t in (c, h)], dim=-1)
