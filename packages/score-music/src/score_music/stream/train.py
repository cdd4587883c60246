"""Train the per-beat stream VAE: KL against the AR(1) prior with free bits and beta annealing, lr decay,
gradient clipping, two-pass scheduled sampling; seeded per step, checkpointed atomically, resumable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from score_core.errors import ScoreError
from score_core.files import atomic_path
from score_music.model.vae import free_nats
from score_music.stream.model import STREAM_CONFIGS, StreamConfig, StreamVAE, ar1_kl
from score_music.train import Validation, _generator, batch_indices

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CHECKPOINT_NAME = "stream-checkpoint.pt"
CHECKPOINT_FORMAT = "score-stream-train"


@dataclass(frozen=True)
class StreamTrainSettings:
    """Everything besides the data that decides a training run."""

    config: str | StreamConfig = "stream-mel_beat"
    steps: int = 1000
    batch_size: int | None = None
    seed: int = 0
    checkpoint_dir: Path | None = None
    checkpoint_every: int = 250
    validate_every: int = 1000
    valid_max_windows: int = 1024
    resume: bool = False
    num_threads: int | None = None


StreamValidation = Validation
"""Held-out figures of a stream model, as for MusicVAE; active dimensions count over windows and beats."""


@dataclass
class StreamTrainReport:
    model: StreamVAE
    config: StreamConfig
    steps: int
    wall_s: float
    validations: list[StreamValidation] = field(default_factory=list)
    checkpoint: Path | None = None


def resolve_config(config: str | StreamConfig) -> StreamConfig:
    if isinstance(config, StreamConfig):
        return config
    if config not in STREAM_CONFIGS:
        raise ScoreError(f"stream config {config!r}", f"unknown; known: {', '.join(STREAM_CONFIGS)}")
    return STREAM_CONFIGS[config]


def beta_at(config: StreamConfig, step: int) -> float:
    return (1.0 - config.beta_rate**step) * config.max_beta


def lr_at(config: StreamConfig, step: int) -> float:
    return (config.learning_rate - config.min_learning_rate) * config.decay_rate**step + config.min_learning_rate


def sampling_probability_at(config: StreamConfig, step: int) -> float:
    """Magenta's inverse-sigmoid schedule: 1 − k / (k + exp(step / k))."""
    x = step / config.sampling_rate - np.log(config.sampling_rate)
    return float(1.0 / (1.0 + np.exp(-x))) if x > -700 else 0.0


def step_loss(model: StreamVAE, events: torch.Tensor, step: int, generator: torch.Generator) -> dict[str, Any]:
    """Summed cross-entropy per sequence + beta · max(KL − free nats, 0), averaged over the batch."""
    config = model.config
    mu, sigma = model.encode(events)
    z = mu + sigma * torch.randn(mu.shape, generator=generator)
    targets = model.one_hot(events)
    inputs = F.pad(targets[:, :-1], (0, 0, 1, 0))
    probability = sampling_probability_at(config, step)
    if probability > 0.0:  # second pass reads a mix of true events and samples of the first pass's outputs
        with torch.no_grad():
            first = model.logits_for_inputs(inputs, z)
            probs = torch.softmax(first[:, :-1], dim=-1).reshape(-1, config.num_classes)
            sampled = torch.multinomial(probs, 1, generator=generator).reshape(events.shape[0], -1)
            use = torch.rand(sampled.shape, generator=generator) < probability
            mixed = torch.where(use, sampled, events[:, :-1])
        inputs = F.pad(model.one_hot(mixed), (0, 0, 1, 0))
    logits = model.logits_for_inputs(inputs, z)
    ce = F.cross_entropy(logits.reshape(-1, config.num_classes), events.reshape(-1), reduction="none")
    r_loss = ce.reshape(events.shape).sum(dim=1).mean()
    kl = ar1_kl(mu, sigma, config.rho)
    beta = beta_at(config, step)
    cost = torch.clamp(kl - free_nats(config.free_bits), min=0.0).mean()
    accuracy = (logits.argmax(-1) == events).float().mean()
    return {"loss": r_loss + beta * cost, "r_loss": r_loss, "kl": kl.mean(), "accuracy": accuracy}


@torch.no_grad()
def evaluate_stream(model: StreamVAE, windows: np.ndarray, step: int = 0, batch_size: int = 512) -> StreamValidation:
    """Held-out loss, KL, teacher-forced and free-running (argmax) accuracy, latent usage."""
    was_training = model.training
    model.eval()
    totals = {"r": 0.0, "kl": 0.0, "acc": 0.0, "sacc": 0.0}
    mus = []
    for start in range(0, len(windows), batch_size):
        events = torch.as_tensor(np.asarray(windows[start:start + batch_size]), dtype=torch.long)
        mu, sigma = model.encode(events)
        logits = model.teacher_forced_logits(events, mu)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), events.reshape(-1), reduction="sum")
        decoded, _ = model.decode(mu, temperature=0.0)
        totals["r"] += ce.item()
        totals["kl"] += ar1_kl(mu, sigma, model.config.rho).sum().item()
        totals["acc"] += (logits.argmax(-1) == events).float().mean(dim=1).sum().item()
        totals["sacc"] += (decoded == events).float().mean(dim=1).sum().item()
        mus.append(mu.reshape(-1, mu.shape[-1]))
    model.train(was_training)
    n = max(len(windows), 1)
    all_mu = torch.cat(mus)
    active = (all_mu.var(dim=0) > 0.01).float().mean().item() if len(all_mu) > 1 else 0.0
    return StreamValidation(step, (totals["r"] + totals["kl"]) / n, totals["kl"] / n, totals["acc"] / n,
                            totals["sacc"] / n, active)


def _save_checkpoint(path: Path, model: StreamVAE, optimizer: torch.optim.Optimizer, step: int,
                     settings: StreamTrainSettings, validations: list[StreamValidation]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(settings).items()
             if k != "config"}
    blob = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "config": model.config.to_dict(), "settings": plain,
            "validations": [dataclasses.asdict(v) for v in validations]}
    with atomic_path(path) as temporary:
        torch.save(blob, temporary)


def load_stream_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by `train_stream` (safe load)."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScoreError(str(path), f"not a readable training checkpoint ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise ScoreError(str(path), "not a score stream-model training checkpoint")
    return blob


def train_stream(
    settings: StreamTrainSettings,
    train_windows: np.ndarray,
    valid_windows: np.ndarray | None = None,
    progress: Callable[[int, dict[str, float], StreamValidation | None], None] | None = None,
    augment: Augment | None = None,
) -> StreamTrainReport:
    """Train (or with `settings.resume` continue from the checkpoint) up to `settings.steps` steps.

    Every random draw of step s comes from generators seeded by (seed, stream, s), so a resumed run continues
    exactly as an uninterrupted one would."""
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    config = resolve_config(settings.config)
    windows = np.asarray(train_windows)
    if windows.ndim != 2 or windows.shape[1] != config.seq_len or len(windows) == 0:
        raise ScoreError("training windows", f"expected a non-empty (N, {config.seq_len}) array, got {windows.shape}")
    batch_size = settings.batch_size or config.batch_size
    torch.manual_seed(settings.seed)
    model = StreamVAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step = 0
    validations: list[StreamValidation] = []
    ckpt = settings.checkpoint_dir / CHECKPOINT_NAME if settings.checkpoint_dir else None
    if settings.resume and ckpt is not None and ckpt.is_file():
        blob = load_stream_checkpoint(ckpt)
        if blob["config"] != config.to_dict():
            raise ScoreError(str(ckpt), f"checkpoint is config {blob['config'].get('name')!r}, not {config.name!r}")
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        step = int(blob["step"])
        validations = [StreamValidation(**v) for v in blob.get("validations", [])]
    model.train()
    started = time.perf_counter()
    valid = None if valid_windows is None else np.asarray(valid_windows)[: settings.valid_max_windows]
    while step < settings.steps:
        rows = windows[batch_indices(len(windows), batch_size, settings.seed, step)]
        if augment is not None:
            rows = augment(rows, np.random.default_rng([settings.seed, 1, step]))
        events = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, step)
        terms = step_loss(model, events, step, _generator(settings.seed, 2, step))
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        validation = None
        if valid is not None and len(valid) and (step % settings.validate_every == 0 or step == settings.steps):
            validation = evaluate_stream(model, valid, step)
            validations.append(validation)
        if ckpt is not None and (step % settings.checkpoint_every == 0 or step == settings.steps):
            _save_checkpoint(ckpt, model, optimizer, step, settings, validations)
        if progress is not None:
            progress(step, {k: float(v.detach()) for k, v in terms.items()}, validation)
    model.eval()
    return StreamTrainReport(model, config, step, time.perf_counter() - started, validations, ckpt)
