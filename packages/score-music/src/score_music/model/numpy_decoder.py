"""The flat categorical LSTM decoder's sampling loop in numpy: what `score run` needs, without torch.

The arithmetic is `CategoricalLstmDecoder`'s (torch.nn.LSTM's gate order i, f, g, o; the initial state
tanh(Dense(z)) split as c0, h0, c1, h1, …; each step reads the previous one-hot event and that step's z).
Sampling draws from a numpy Generator, so a seed gives the same events on every machine and numpy version
that keeps PCG64's stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NumpyState = tuple[tuple[np.ndarray, np.ndarray], ...]
"""Per layer, bottom first: (h, c), each (hidden,)."""


@dataclass(frozen=True)
class _Layer:
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class NumpyLstmDecoder:
    """Samples events from a flat MusicVAE decoder's weights, one sequence at a time."""

    def __init__(self, tensors: dict[str, np.ndarray], prefix: str = "decoder.") -> None:
        layers = []
        index = 0
        while f"{prefix}lstm.layers.{index}.weight_ih_l0" in tensors:
            name = f"{prefix}lstm.layers.{index}."
            layers.append(_Layer(
                weight_ih=np.ascontiguousarray(tensors[name + "weight_ih_l0"].T),
                weight_hh=np.ascontiguousarray(tensors[name + "weight_hh_l0"].T),
                bias=tensors[name + "bias_ih_l0"] + tensors[name + "bias_hh_l0"],
            ))
            index += 1
        if not layers:
            raise ValueError(f"no decoder LSTM under {prefix!r}")
        self.layers = tuple(layers)
        self.sizes = tuple(layer.weight_hh.shape[0] for layer in layers)
        self.initial_weight = np.ascontiguousarray(tensors[f"{prefix}z_to_initial_state.weight"].T)
        self.initial_bias = tensors[f"{prefix}z_to_initial_state.bias"]
        self.output_weight = np.ascontiguousarray(tensors[f"{prefix}output_projection.weight"].T)
        self.output_bias = tensors[f"{prefix}output_projection.bias"]
        self.num_classes = int(self.output_bias.shape[0])
        self.z_size = int(self.initial_weight.shape[0])

    def initial_state(self, z: np.ndarray) -> NumpyState:
        """The state that latent ``z`` (z_size,) sets."""
        flat = np.tanh(z.astype(np.float32) @ self.initial_weight + self.initial_bias)
        state, offset = [], 0
        for size in self.sizes:
            c, h = flat[offset : offset + size], flat[offset + size : offset + 2 * size]
            state.append((h, c))
            offset += 2 * size
        return tuple(state)

    def sample(
        self,
        path: np.ndarray,
        temperature: float,
        rng: np.random.Generator,
        first_input: int | None = None,
        state: NumpyState | None = None,
        onset_steps: frozenset[int] = frozenset(),
    ) -> tuple[np.ndarray, NumpyState]:
        """Events (steps,) for a latent path (steps, z_size), one row read per step, and the final state.

        Without ``state`` the initial state comes from the first row; ``first_input`` is the previous event
        (None: a zero input, as a trained phrase starts). At ``onset_steps`` only note-ons may be chosen."""
        path = np.asarray(path, dtype=np.float32)
        classes = self.num_classes
        state = self.initial_state(path[0]) if state is None else state
        bottom = self.layers[0]
        from_z = path @ bottom.weight_ih[classes:] + bottom.bias  # the z part of every step's input at once
        events = np.empty(path.shape[0], dtype=np.int64)
        previous = first_input
        current = list(state)
        for t in range(path.shape[0]):
            x: np.ndarray | None = None
            for index, layer in enumerate(self.layers):
                h, c = current[index]
                if index == 0:
                    gates = from_z[t] + h @ layer.weight_hh
                    if previous is not None:
                        gates = gates + layer.weight_ih[previous]
                else:
                    assert x is not None
                    gates = x @ layer.weight_ih + h @ layer.weight_hh + layer.bias
                i, f, g, o = np.split(gates, 4)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                current[index] = (h, c)
                x = h
            assert x is not None
            logits = x @ self.output_weight + self.output_bias
            if t in onset_steps:
                logits[:2] = -np.inf  # no-event and note-off
            previous = choose(logits, temperature, rng)
            events[t] = previous
        return events, tuple(current)


def choose(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """An event index: argmax at temperature 0, else a draw from softmax(logits / temperature)."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    cumulative = np.cumsum(weights)
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), logits.size - 1))
