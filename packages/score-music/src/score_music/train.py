"""Train a MusicVAE as Magenta does: KL annealing with free bits, lr decay, global-norm clipping, scheduled
sampling; seeded, checkpointed (atomic writes) and resumable to the bit."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from score_core.errors import ScoreError
from score_core.files import atomic_path
from score_music.model.config import MusicVAEConfig, get_config
from score_music.model.vae import MusicVAE, free_nats, kl_divergence

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class TrainSettings:
    """What to train and how; everything that decides the result is here (plus the data and `augment`)."""

    config: str | MusicVAEConfig = "cat-mel_2bar_small"
    steps: int = 1000
    batch_size: int | None = None
    """None: the config's batch size (Magenta: 512)."""
    seed: int = 0
    checkpoint_dir: Path | None = None
    checkpoint_every: int = 500
    validate_every: int = 500
    valid_max_windows: int = 4096
    scheduled_sampling: Literal["exact", "parallel", "off"] = "exact"
    """exact: step-by-step as Magenta; parallel: one teacher-forced pass, then a second pass on inputs mixed
    from its samples (Duckworth et al. 2019), ~2 passes instead of a 32-step loop; off: teacher forcing."""
    resume: bool = False
    num_threads: int | None = None
    init_weights: Path | None = None
    """Start (when not resuming) from these weights of the same config instead of fresh ones."""
    start_step: int = 0
    """The step a run from ``init_weights`` starts at: the learning-rate, KL and sampling schedules go on from
    there (give the step the weights were trained to)."""
    key_normalised: bool = False
    """The windows were moved to C major / A minor (recorded in checkpoints, so exports can say so)."""


@dataclass(frozen=True)
class Validation:
    """Held-out metrics; z is the posterior mean."""

    step: int
    loss: float
    """Mean per-sequence reconstruction loss (nats, teacher-forced) + KL, as Magenta's eval at beta 1."""
    kl: float
    """Mean KL per sequence (nats)."""
    accuracy: float
    """Per-step accuracy, teacher-forced."""
    sampled_accuracy: float
    """Per-step accuracy when the decoder feeds back its own argmax outputs."""
    active_dims: float
    """Fraction of latent dimensions whose posterior mean varies across windows (variance > 0.01)."""


@dataclass(frozen=True)
class Progress:
    """One training step's figures, handed to the progress callback."""

    step: int
    """Steps done (1 after the first update)."""
    loss: float
    r_loss: float
    kl: float
    accuracy: float
    lr: float
    beta: float
    sampling_probability: float
    validation: Validation | None = None


@dataclass
class TrainReport:
    """What a `train` call did."""

    model: MusicVAE
    config: MusicVAEConfig
    steps: int
    wall_s: float
    last: Progress | None
    validations: list[Validation] = field(default_factory=list)
    checkpoint: Path | None = None


def beta_at(config: MusicVAEConfig, step: int) -> float:
    """Magenta's KL weight (1 − beta_rate^step) · max_beta at global step `step` (0-based)."""
    return (1.0 - config.beta_rate**step) * config.max_beta


def lr_at(config: MusicVAEConfig, step: int) -> float:
    """Magenta's learning rate (lr − min) · decay^step + min."""
    return (config.learning_rate - config.min_learning_rate) * config.decay_rate**step + config.min_learning_rate


def sampling_probability_at(config: MusicVAEConfig, step: int) -> float:
    """Probability of feeding the model's own sample instead of the truth (Magenta's schedules)."""
    rate = config.sampling_rate
    if config.sampling_schedule == "inverse_sigmoid":
        # 1 − k / (k + exp(step / k)), written as a sigmoid so large steps do not overflow.
        x = step / rate - math.log(rate)
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    if config.sampling_schedule == "exponential":
        return 1.0 - rate**step
    if config.sampling_schedule == "constant":
        return rate
    return 0.0


def kl_cost(mu: torch.Tensor, sigma: torch.Tensor, free_bits: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(KL per sequence, max(KL − free_bits·ln 2, 0) per sequence), both in nats."""
    kl = kl_divergence(mu, sigma)
    return kl, torch.clamp(kl - free_nats(free_bits), min=0.0)


def _generator(seed: int, stream: int, step: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, stream, step]).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Rows of step `step`: epochs are seeded permutations, consumed in order (stateless, so resumable)."""
    start = step * batch_size
    out: list[np.ndarray] = []
    while len(out) < batch_size:
        epoch, offset = divmod(start, n)
        perm = np.random.default_rng([seed, 0, epoch]).permutation(n)
        take = perm[offset:offset + batch_size - len(out)]
        out.extend(take.tolist())
        start += len(take)
    return np.asarray(out, np.int64)


def _logits(model: MusicVAE, events: torch.Tensor, z: torch.Tensor, probability: float, mode: str,
            generator: torch.Generator) -> torch.Tensor:
    if probability <= 0.0 or mode == "off" or model.config.hierarchical:
        return model.teacher_forced_logits(events, z)
    if mode == "exact":
        return model.scheduled_logits(events, z, probability, generator)
    with torch.no_grad():
        first = model.teacher_forced_logits(events, z)
        probs = torch.softmax(first[:, :-1], dim=-1).reshape(-1, first.shape[-1])
        sampled = torch.multinomial(probs, 1, generator=generator).reshape(first.shape[0], -1)
        use = torch.rand(sampled.shape, generator=generator) < probability
        mixed = torch.where(use, sampled, events[:, :-1])
    inputs = F.pad(model.one_hot(mixed), (0, 0, 1, 0))
    return model.decoder.teacher_forced(inputs, z)


def training_step_loss(model: MusicVAE, events: torch.Tensor, step: int, generator: torch.Generator,
                       mode: str = "exact") -> dict[str, torch.Tensor | float]:
    """Magenta's loss: mean over sequences of (summed cross-entropy) + beta · mean(max(KL − free nats, 0))."""
    config = model.config
    mu, sigma = model.encode(events)
    z = mu + sigma * torch.randn(mu.shape, generator=generator)
    probability = sampling_probability_at(config, step)
    logits = _logits(model, events, z, probability, mode, generator)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), events.reshape(-1), reduction="none")
    r_loss = ce.reshape(events.shape).sum(dim=1).mean()
    kl, cost = kl_cost(mu, sigma, config.free_bits)
    beta = beta_at(config, step)
    accuracy = (logits.argmax(-1) == events).float().mean()
    return {"loss": r_loss + beta * cost.mean(), "r_loss": r_loss, "kl": kl.mean(), "accuracy": accuracy,
            "beta": beta, "sampling_probability": probability}


@torch.no_grad()
def evaluate(model: MusicVAE, windows: np.ndarray, step: int = 0, batch_size: int = 512) -> Validation:
    """Held-out loss, KL, teacher-forced and free-running (argmax) accuracy, and latent usage."""
    was_training = model.training
    model.eval()
    totals = {"r": 0.0, "kl": 0.0, "acc": 0.0, "sacc": 0.0}
    mus = []
    for start in range(0, len(windows), batch_size):
        events = torch.as_tensor(windows[start:start + batch_size], dtype=torch.long)
        mu, sigma = model.encode(events)
        logits = model.teacher_forced_logits(events, mu)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), events.reshape(-1), reduction="sum")
        decoded, _ = model.decode(mu, steps=events.shape[1], temperature=0.0)
        totals["r"] += ce.item()
        totals["kl"] += kl_divergence(mu, sigma).sum().item()
        totals["acc"] += (logits.argmax(-1) == events).float().mean(dim=1).sum().item()
        totals["sacc"] += (decoded == events).float().mean(dim=1).sum().item()
        mus.append(mu)
    model.train(was_training)
    n = max(len(windows), 1)
    all_mu = torch.cat(mus) if mus else torch.zeros(1, model.config.z_size)
    active = (all_mu.var(dim=0) > 0.01).float().mean().item() if len(all_mu) > 1 else 0.0
    return Validation(step, (totals["r"] + totals["kl"]) / n, totals["kl"] / n, totals["acc"] / n,
                      totals["sacc"] / n, active)


def _save_checkpoint(path: Path, model: MusicVAE, optimizer: torch.optim.Optimizer, step: int,
                     settings: TrainSettings, config: MusicVAEConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(settings).items()
             if k != "config"}
    blob = {"format": "score-musicvae-train", "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "config_name": config.name, "config": config.to_dict(), "settings": plain,
            # Every random draw of step s comes from generators seeded by (seed, stream, s): nothing else to keep.
            "rng": {"scheme": "per-step-seed-sequence", "seed": settings.seed}}
    with atomic_path(path) as temporary:
        torch.save(blob, temporary)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by `train` (safe load: tensors and plain values only)."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScoreError(str(path), f"not a readable training checkpoint ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != "score-musicvae-train":
        raise ScoreError(str(path), "not a score MusicVAE training checkpoint")
    return blob


def _item(value: torch.Tensor | float) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _resolve(config: str | MusicVAEConfig) -> MusicVAEConfig:
    return get_config(config) if isinstance(config, str) else config


def train(
    settings: TrainSettings,
    train_windows: np.ndarray,
    valid_windows: np.ndarray | None = None,
    progress: Callable[[Progress], None] | None = None,
    augment: Augment | None = None,
) -> TrainReport:
    """Train (or, with `settings.resume`, continue from `checkpoint_dir`) up to `settings.steps` steps."""
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    config = _resolve(settings.config)
    windows = np.asarray(train_windows)
    if windows.ndim != 2 or windows.shape[1] != config.seq_len or len(windows) == 0:
        raise ScoreError("training windows", f"expected a non-empty (N, {config.seq_len}) array, got "
                                             f"{windows.shape}")
    batch_size = settings.batch_size or config.batch_size
    torch.manual_seed(settings.seed)  # only the initial weights come from the global generator
    model = MusicVAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step = 0
    ckpt = settings.checkpoint_dir / CHECKPOINT_NAME if settings.checkpoint_dir else None
    if settings.resume and ckpt is not None and ckpt.is_file():
        blob = load_checkpoint(ckpt)
        if MusicVAEConfig.from_dict(blob["config"]) != config:
            raise ScoreError(str(ckpt), f"checkpoint is config {blob['config_name']!r}, not {config.name!r}")
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        step = int(blob["step"])
    elif settings.init_weights is not None:
        from score_music.model.weights import load_weights

        start, _ = load_weights(settings.init_weights, expected=config)
        model.load_state_dict(start.state_dict())
        step = settings.start_step
    model.train()
    started = time.perf_counter()
    last: Progress | None = None
    validations: list[Validation] = []
    valid = None if valid_windows is None else np.asarray(valid_windows)[: settings.valid_max_windows]
    while step < settings.steps:
        rows = windows[batch_indices(len(windows), batch_size, settings.seed, step)]
        if augment is not None:
            rows = augment(rows, np.random.default_rng([settings.seed, 1, step]))
        events = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        lr = lr_at(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        terms = training_step_loss(model, events, step, _generator(settings.seed, 2, step),
                                   settings.scheduled_sampling)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()  # type: ignore[union-attr]
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if not torch.isfinite(norm) or norm >= config.grad_norm_clip_to_zero:
            optimizer.zero_grad(set_to_none=False)  # Magenta applies a zero gradient: the step still counts
        optimizer.step()
        step += 1
        validation = None
        if valid is not None and len(valid) and (step % settings.validate_every == 0 or step == settings.steps):
            validation = evaluate(model, valid, step)
            validations.append(validation)
        last = Progress(step, _item(terms["loss"]), _item(terms["r_loss"]), _item(terms["kl"]),
                        _item(terms["accuracy"]), lr, _item(terms["beta"]), _item(terms["sampling_probability"]),
                        validation)
        if ckpt is not None and (step % settings.checkpoint_every == 0 or step == settings.steps):
            _save_checkpoint(ckpt, model, optimizer, step, settings, config)
        if progress is not None:
            progress(last)
    model.eval()
    return TrainReport(model, config, step, time.perf_counter() - started, last, validations, ckpt)
