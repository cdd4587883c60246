"""Training loop for the pixel models: seeded batches, cosine learning rate over a step or time budget,
validation in bits/dim every N steps, atomic checkpoints after each validation, and exact resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from score_core.errors import ScoreError
from score_vision.pixel.checkpoint import load_model_file, save_model_file
from score_vision.pixel.models import build_model


@dataclass(frozen=True)
class TrainSettings:
    """How long and how to train; ``max_seconds`` counts training time across resumes (validation excluded)."""

    max_steps: int = 10_000
    max_seconds: float | None = None
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    eval_every: int = 200
    seed: int = 0
    bfloat16: bool = True
    grad_clip: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Validation:
    step: int
    bits_per_dim: float
    extras: dict[str, float] = field(default_factory=dict)


@dataclass
class Report:
    """One step's figures for the progress callback; ``validation`` is set on validation steps."""

    step: int
    total_steps: int
    fraction: float
    loss: float
    bits_per_dim: float
    validation: Validation | None = None


@dataclass
class TrainResult:
    step: int
    seconds: float
    images_per_second: float
    history: list[dict[str, Any]]


def learning_rate_at(settings: TrainSettings, step: int, fraction: float) -> float:
    """Linear warm-up, then cosine decay to zero at the end of the budget."""
    warm = min(1.0, (step + 1) / max(1, settings.warmup_steps))
    return settings.learning_rate * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, fraction)))


def batch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of the training set for one epoch; a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(count)


@torch.inference_mode()
def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray | None = None,
             batch_size: int = 100, bfloat16: bool = True) -> Validation:
    """Mean bits/dim (and the model's other figures) over ``images``.

    ``bfloat16`` runs the convolutions as in training (the softmax stays float32), so the figure is the exact
    likelihood of the model as trained and sampled.
    """
    model.eval()
    totals: dict[str, float] = {}
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size])
        label = None if labels is None else torch.from_numpy(labels[start:start + batch_size])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            terms = model.loss_terms(batch, label, step=-1, generator=torch.Generator().manual_seed(start))
        for name, value in terms.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(batch)
    model.train()
    means = {name: value / len(images) for name, value in totals.items()}
    bits = means.pop("bits_per_dim")
    means.pop("loss", None)
    return Validation(step=-1, bits_per_dim=bits, extras=means)


def train(
    kind: str,
    config: dict[str, Any],
    train_images: np.ndarray,
    valid_images: np.ndarray,
    settings: TrainSettings,
    output: Path,
    train_labels: np.ndarray | None = None,
    valid_labels: np.ndarray | None = None,
    resume: bool = False,
    data_info: dict[str, Any] | None = None,
    progress: Callable[[Report], None] | None = None,
) -> TrainResult:
    """Train a ``kind`` model and keep it in ``output`` (a checkpoint after every validation and at the end)."""
    torch.manual_seed(settings.seed)
    model = build_model(kind, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    step, seconds, history = 0, 0.0, []
    if resume:
        blob = load_model_file(output, kinds=(kind,))
        if blob.get("config") != model.config_dict():
            raise ScoreError(str(output), "was trained with another architecture; remove --resume or the file")
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        step, seconds, history = blob["step"], blob["seconds"], list(blob["history"])
    else:
        model.prepare(torch.from_numpy(train_images[:2000]))
    count = len(train_images)
    if count < settings.batch_size:
        raise ScoreError("training data", f"{count} images, fewer than one batch of {settings.batch_size}")
    per_epoch = count // settings.batch_size

    def fraction() -> float:
        by_steps = step / settings.max_steps
        by_time = seconds / settings.max_seconds if settings.max_seconds else 0.0
        return max(by_steps, by_time)

    def save() -> None:
        save_model_file(output, {
            "kind": kind, "config": model.config_dict(), "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "step": step, "seconds": seconds, "history": history,
            "settings": settings.as_dict(), "data": data_info or {},
        })

    model.train()
    images_seen, timed = 0, 0.0
    while fraction() < 1.0:
        started = time.perf_counter()
        epoch, offset = divmod(step, per_epoch)
        first = offset * settings.batch_size
        index = batch_order(count, settings.seed, epoch)[first:first + settings.batch_size]
        batch = torch.from_numpy(train_images[index])
        labels = None if train_labels is None else torch.from_numpy(train_labels[index])
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(settings, step, fraction())
        generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bfloat16):
            terms = model.loss_terms(batch, labels, step, generator)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        step += 1
        elapsed = time.perf_counter() - started
        seconds += elapsed
        timed += elapsed
        images_seen += len(index)
        report = Report(step, settings.max_steps, fraction(), terms["loss"].item(), terms["bits_per_dim"].item())
        if step % settings.eval_every == 0 or fraction() >= 1.0:
            validation = evaluate(model, valid_images, valid_labels, bfloat16=settings.bfloat16)
            validation = Validation(step, validation.bits_per_dim, validation.extras)
            report.validation = validation
            history.append({"step": step, "seconds": round(seconds, 2), "train_bits_per_dim": report.bits_per_dim,
                            "valid_bits_per_dim": validation.bits_per_dim, **validation.extras})
            save()
        if progress is not None:
            progress(report)
    if not history or history[-1]["step"] != step:
        save()
    return TrainResult(step, seconds, images_seen / timed if timed else 0.0, history)
