"""The RNN language model and the Bowman et al. (2016) sentence VAE as Keras 3 models (any backend)."""

from __future__ import annotations

from typing import Any

import numpy as np

from score_text.backend import keras_module

keras = keras_module()
from keras import ops  # noqa: E402

from score_text.layers import PACKAGE, OneHot, WordDropout, masked_token_nll, recurrent  # noqa: E402
from score_text.vocab import PAD, Vocabulary  # noqa: E402

ANNEALING = ("sigmoid", "linear", "none")


class _TextModel(keras.Model):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """Shared plumbing: the vocabulary lives in the config; loading rebuilds the model on a dummy batch."""

    kind = "base"

    def __init__(self, vocabulary: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", None), trainable=kwargs.pop("trainable", True))
        self.vocabulary_config = dict(vocabulary)
        self.vocabulary = Vocabulary.from_json(self.vocabulary_config)

    def _args(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "vocabulary": self.vocabulary_config, **self._args()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _TextModel:
        return cls(**config)

    def get_build_config(self) -> dict[str, Any]:
        return {"dummy": True}

    def build_from_config(self, config: dict[str, Any]) -> None:
        self.build_on_dummy()

    def build_on_dummy(self) -> None:
        raise NotImplementedError


@keras.saving.register_keras_serializable(package=PACKAGE)
class LanguageModel(_TextModel):
    """Embedding (or one-hot) → stacked LSTM/GRU → logits; loss = mean NLL over non-PAD target tokens.

    ``dropout`` drops the non-recurrent connections (Zaremba et al. 2014): each RNN's inputs and the last RNN's
    outputs before the softmax.
    """

    kind = "lm"

    def __init__(self, vocabulary: dict[str, Any], embedding_dim: int = 64, units: int = 128, layers: int = 1,
                 cell: str = "lstm", one_hot: bool = False, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(vocabulary, **kwargs)
        self.embedding_dim, self.units, self.depth = int(embedding_dim), int(units), int(layers)
        self.cell, self.one_hot, self.dropout = cell, bool(one_hot), float(dropout)
        size = len(self.vocabulary)
        self.embed = OneHot(size, name="one_hot") if one_hot else keras.layers.Embedding(size, embedding_dim,
                                                                                         name="embedding")
        self.rnns = [recurrent(cell, units, True, dropout, name=f"{cell}_{i}") for i in range(self.depth)]
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.head = keras.layers.Dense(size, name="logits")

    def _args(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "units": self.units, "layers": self.depth, "cell": self.cell,
                "one_hot": self.one_hot, "dropout": self.dropout}

    def call(self, tokens: Any, training: bool | None = None) -> Any:
        x = self.embed(tokens)
        for rnn in self.rnns:
            x = rnn(x, training=training)
        return self.head(self.output_dropout(x, training=training))

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     **kwargs: Any) -> Any:
        nll, mask = masked_token_nll(y, y_pred)
        return ops.sum(nll) / ops.maximum(ops.sum(mask), 1.0)

    def build_on_dummy(self) -> None:
        self(np.zeros((1, 2), dtype="int32"))

    def next_logits(self, prefix: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Logits of the token after each row of ``prefix`` (B, T) → (B, V)."""
        return ops.convert_to_numpy(self(prefix, training=False))[:, -1]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SentenceVAE(_TextModel):
    """Bowman et al. sentence VAE: LSTM encoder → (μ, log σ²) → z → LSTM decoder started (and optionally fed) by z."""

    kind = "vae"

    def __init__(self, vocabulary: dict[str, Any], embedding_dim: int = 64, encoder_units: int = 128,
                 decoder_units: int = 128, latent_dim: int = 16, word_dropout: float = 0.3, feed_z: bool = False,
                 anneal: str = "sigmoid", anneal_steps: int = 2000, free_bits: float = 0.0, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(vocabulary, **kwargs)
        if anneal not in ANNEALING:
            from score_core.errors import ScoreError

            raise ScoreError("--anneal", f"unknown schedule {anneal!r} (sigmoid, linear or none)")
        self.embedding_dim, self.encoder_units, self.decoder_units = int(embedding_dim), int(encoder_units), int(
            decoder_units)
        self.latent_dim, self.word_dropout, self.feed_z = int(latent_dim), float(word_dropout), bool(feed_z)
        self.anneal, self.anneal_steps, self.free_bits, self.seed = anneal, max(1, int(anneal_steps)), float(
            free_bits), int(seed)
        size = len(self.vocabulary)
        self.embed = keras.layers.Embedding(size, embedding_dim, name="embedding")
        self.encoder = keras.layers.LSTM(encoder_units, name="encoder")
        self.to_mean = keras.layers.Dense(latent_dim, name="z_mean")
        self.to_log_var = keras.layers.Dense(latent_dim, name="z_log_var")
        self.to_state = keras.layers.Dense(2 * decoder_units, activation="tanh", name="z_to_state")
        self.dropper = WordDropout(word_dropout, seed=seed, name="word_dropout")
        self.decoder = keras.layers.LSTM(decoder_units, return_sequences=True, name="decoder")
        self.head = keras.layers.Dense(size, name="logits")
        self.noise = keras.random.SeedGenerator(seed + 1)
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.weight_tracker = keras.metrics.Mean(name="kl_weight")

    def _args(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "encoder_units": self.encoder_units,
                "decoder_units": self.decoder_units, "latent_dim": self.latent_dim, "word_dropout": self.word_dropout,
                "feed_z": self.feed_z, "anneal": self.anneal, "anneal_steps": self.anneal_steps,
                "free_bits": self.free_bits, "seed": self.seed}

    @property
    def metrics(self) -> list[Any]:
        own = [self.recon_tracker, self.kl_tracker, self.weight_tracker]
        return [m for m in super().metrics if all(m is not o for o in own)] + own

    def encode(self, tokens: Any, training: bool | None = None) -> tuple[Any, Any]:
        """(μ, log σ²) of sentences given as PAD-padded ids (tokens + EOS); padding is masked."""
        hidden = self.encoder(self.embed(tokens), mask=ops.not_equal(tokens, PAD), training=training)
        return self.to_mean(hidden), self.to_log_var(hidden)

    def decode(self, z: Any, inputs: Any, training: bool | None = None) -> Any:
        """Logits (B, T, V) of the decoder started by z, reading ``inputs`` ([BOS] + tokens)."""
        x = self.embed(self.dropper(inputs, training=training))
        if self.feed_z:
            steps = ops.shape(x)[1]
            x = ops.concatenate([x, ops.repeat(ops.expand_dims(ops.cast(z, x.dtype), 1), steps, axis=1)], axis=-1)
        state = self.to_state(z)
        h, c = state[:, : self.decoder_units], state[:, self.decoder_units :]
        return self.head(self.decoder(x, initial_state=[h, c], training=training))

    def call(self, inputs: Any, training: bool | None = None) -> tuple[Any, Any, Any]:
        sentence, decoder_inputs = inputs
        mean, log_var = self.encode(sentence, training=training)
        z = mean
        if training:
            z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=self.noise)
        return self.decode(z, decoder_inputs, training=training), mean, log_var

    def kl_weight(self) -> Any:
        """KL weight at the current optimizer step (annealed per step, not per epoch)."""
        if self.anneal == "none" or self.optimizer is None:
            return ops.convert_to_tensor(1.0)
        step = ops.cast(self.optimizer.iterations, "float32")
        if self.anneal == "linear":
            return ops.minimum(1.0, step / float(self.anneal_steps))
        return ops.sigmoid(10.0 * (step - self.anneal_steps / 2.0) / float(self.anneal_steps))

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     **kwargs: Any) -> Any:
        logits, mean, log_var = y_pred
        nll, _ = masked_token_nll(y, logits)
        recon = ops.mean(ops.sum(nll, axis=1))
        kl_dims = -0.5 * (1.0 + log_var - ops.square(mean) - ops.exp(log_var))
        kl = ops.mean(ops.sum(kl_dims, axis=1))
        kl_term = ops.sum(ops.maximum(ops.mean(kl_dims, axis=0), self.free_bits)) if self.free_bits > 0 else kl
        weight = ops.cast(self.kl_weight(), recon.dtype)
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        self.weight_tracker.update_state(weight)
        return recon + weight * kl_term

    def build_on_dummy(self) -> None:
        dummy = np.zeros((1, 2), dtype="int32")
        self((dummy, dummy))

    def next_logits(self, prefix: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Logits of the token after each row of ``prefix`` given latent rows ``z``."""
        return ops.convert_to_numpy(self.decode(z, prefix, training=False))[:, -1]


MODEL_KINDS: dict[str, type[_TextModel]] = {"lm": LanguageModel, "vae": SentenceVAE}
