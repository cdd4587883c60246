"""Sampling sentences from either model and decoding interpolations between two sentences in the VAE's latent space."""

from __future__ import annotations

from typing import Any

import numpy as np

from score_core.errors import ScoreError
from score_text.vocab import BOS, EOS, PAD, UNK


def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator, allow_unk: bool) -> np.ndarray:
    logits = logits.astype(np.float64).copy()
    logits[:, PAD] = -np.inf
    logits[:, BOS] = -np.inf
    if not allow_unk:
        logits[:, UNK] = -np.inf
    if temperature <= 0:
        return logits.argmax(axis=-1)
    scaled = logits / temperature
    probs = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(p), p=p) for p in probs])


def decode(model: Any, count: int, z: np.ndarray | None, temperature: float, seed: int, max_length: int = 40,
           allow_unk: bool = False) -> list[str]:
    """Generate ``count`` sentences token by token (re-reading the prefix each step), stopping at EOS."""
    rng = np.random.default_rng(seed)
    prefix = np.full((count, 1), BOS, dtype=np.int32)
    done = np.zeros(count, dtype=bool)
    for _ in range(max_length):
        nxt = _pick(model.next_logits(prefix, z), temperature, rng, allow_unk).astype(np.int32)
        nxt = np.where(done, PAD, nxt)
        prefix = np.concatenate([prefix, nxt[:, None]], axis=1)
        done |= nxt == EOS
        if done.all():
            break
    return [model.vocabulary.decode(row[1:]) for row in prefix]


def sample(model: Any, count: int, temperature: float = 1.0, seed: int = 0, max_length: int = 40) -> list[str]:
    """Sentences from the LM, or from the VAE's prior N(0, I)."""
    z = None
    if model.kind == "vae":
        z = np.random.default_rng(seed).standard_normal((count, model.latent_dim)).astype(np.float32)
    return decode(model, count, z, temperature, seed + 1, max_length)


def encode_sentences(model: Any, sentences: list[str]) -> np.ndarray:
    """Posterior means of sentences (tokens + EOS)."""
    from keras import ops

    from score_text.data import pad_rows

    rows = [[*model.vocabulary.encode(s), EOS] for s in sentences]
    mean, _ = model.encode(pad_rows(rows), training=False)
    return ops.convert_to_numpy(mean)


def interpolate(model: Any, first: str, second: str, steps: int = 5, max_length: int = 40) -> list[str]:
    """Greedy decodings of ``steps`` evenly spaced points on the segment from μ(first) to μ(second)."""
    if model.kind != "vae":
        raise ScoreError("interpolate", "needs a sentence VAE (train with --model vae), not a language model")
    if steps < 2:
        raise ScoreError("--steps", "must be at least 2")
    for sentence in (first, second):
        if not model.vocabulary.split(sentence):
            raise ScoreError("interpolate", "a sentence is empty")
    a, b = encode_sentences(model, [first, second])
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    z = (1.0 - weights) * a[None] + weights * b[None]
    return decode(model, steps, z.astype(np.float32), 0.0, 0, max_length)
