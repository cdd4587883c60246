"""Custom Keras layers: one-hot input rows and real word dropout (tokens replaced by UNK)."""

from __future__ import annotations

from typing import Any

from score_text.backend import keras_module

keras = keras_module()
from keras import ops  # noqa: E402

from score_text.vocab import BOS, PAD, UNK  # noqa: E402

PACKAGE = "score_text"


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHot(keras.layers.Layer):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """Token ids (B, T) → float rows (B, T, depth), row i = the unit vector of its own id."""

    def __init__(self, depth: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, tokens: Any) -> Any:
        return ops.one_hot(ops.cast(tokens, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.depth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WordDropout(keras.layers.Layer):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """While training, replace each token (never PAD or BOS) by UNK with probability ``rate`` (Bowman et al.)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, tokens: Any, training: bool | None = None) -> Any:
        if not training or self.rate <= 0.0:
            return tokens
        noise = keras.random.uniform(ops.shape(tokens), seed=self.seed_generator)
        droppable = ops.logical_and(ops.not_equal(tokens, PAD), ops.not_equal(tokens, BOS))
        drop = ops.logical_and(ops.less(noise, self.rate), droppable)
        return ops.where(drop, ops.full_like(tokens, UNK), tokens)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def recurrent(cell: str, units: int, return_sequences: bool, dropout: float = 0.0, name: str | None = None) -> Any:
    """An LSTM or GRU layer."""
    kind = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}.get(cell)
    if kind is None:
        from score_core.errors import ScoreError

        raise ScoreError("--cell", f"unknown cell {cell!r} (lstm or gru)")
    return kind(units, return_sequences=return_sequences, dropout=dropout, name=name)


def masked_token_nll(targets: Any, logits: Any) -> tuple[Any, Any]:
    """Per-token NLL (B, T) with PAD positions zeroed, and the float mask."""
    nll = ops.sparse_categorical_crossentropy(ops.cast(targets, "int32"), logits, from_logits=True)
    mask = ops.cast(ops.not_equal(targets, PAD), nll.dtype)
    return nll * mask, mask
