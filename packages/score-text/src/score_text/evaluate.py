"""Held-out figures: NLL per token and per sentence, perplexity, and for the VAE KL and active units."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from score_text.data import Batches, lm_arrays
from score_text.vocab import PAD


@dataclass
class Evaluation:
    """Figures in nats; for the VAE the NLL is the ELBO bound (reconstruction with one z sample + KL)."""

    sentences: int
    tokens: int
    nll_per_sentence: float
    nll_per_token: float
    perplexity: float
    reconstruction: float | None = None
    kl: float | None = None
    active_units: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def token_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """NLL of each target (B, T) in nats, 0 at PAD."""
    logp = _log_softmax(logits.astype(np.float64))
    picked = np.take_along_axis(logp, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    return np.where(targets != PAD, -picked, 0.0)


def evaluate(model: Any, sequences: Sequence[Sequence[int]], batch_size: int = 64, seed: int = 0) -> Evaluation:
    """Evaluate ``model`` on id sequences (EOS counted as a token, as in Bowman et al.)."""
    from keras import ops

    batches = Batches(sequences, batch_size, seed, vae=model.kind == "vae")
    rng = np.random.default_rng(seed)
    total = recon_total = kl_total = 0.0
    tokens = 0
    means: list[np.ndarray] = []
    for index in range(len(batches)):
        rows = [batches.sequences[i] for i in batches.plan[index]]
        inputs, targets = lm_arrays(rows)
        tokens += int((targets != PAD).sum())
        if model.kind == "lm":
            logits = ops.convert_to_numpy(model(inputs, training=False))
            total += float(token_nll(logits, targets).sum())
            continue
        mean, log_var = (ops.convert_to_numpy(t) for t in model.encode(targets, training=False))
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape).astype(mean.dtype)
        logits = ops.convert_to_numpy(model.decode(z, inputs, training=False))
        recon = float(token_nll(logits, targets).sum())
        kl = float((-0.5 * (1.0 + log_var - mean**2 - np.exp(log_var))).sum())
        recon_total += recon
        kl_total += kl
        total += recon + kl
        means.append(mean)
    count = len(batches.sequences)
    result = Evaluation(count, tokens, total / count, total / max(tokens, 1), math.exp(min(total / max(tokens, 1), 50)))
    if model.kind == "vae":
        result.reconstruction = recon_total / count
        result.kl = kl_total / count
        result.active_units = active_units(np.concatenate(means))
    return result


def active_units(means: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across sentences (Burda et al.): Var_x E[z_u] > threshold."""
    if len(means) < 2:
        return 0
    return int((means.var(axis=0) > threshold).sum())
