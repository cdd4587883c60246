"""Keras callbacks: a rich progress bar on stderr and per-epoch checkpoints for resuming."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from score_text.backend import keras_module

keras = keras_module()


class RichProgress(keras.callbacks.Callback):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """One bar per epoch on stderr with the running metrics; quiet when ``enabled`` is false."""

    def __init__(self, epochs: int, steps: int, enabled: bool = True) -> None:
        super().__init__()
        self.epochs, self.steps, self.enabled = epochs, steps, enabled
        self.bar: Any = None
        self.task: Any = None
        self.history: list[dict[str, float]] = []
        self.epoch_seconds: list[float] = []
        self._started = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), TextColumn("{task.fields[detail]}"),
                            console=Console(stderr=True), transient=False)
        self.bar.start()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()
        if self.bar is not None:
            self.task = self.bar.add_task(f"epoch {epoch + 1}/{self.epochs}", total=self.steps, detail="")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, detail=_format(logs))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch_seconds.append(time.perf_counter() - self._started)
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, detail=_format(logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.stop()


def _format(logs: dict[str, Any] | None) -> str:
    return " ".join(f"{k} {float(v):.3f}" for k, v in (logs or {}).items())


class Checkpoint(keras.callbacks.Callback):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """After every epoch: the model (with optimizer state) to ``path``, and to ``path``.json the epoch count,
    every epoch's figures and the options a resume must repeat; with validation data, the best model so far to
    NAME.best.keras, and with ``patience`` > 0, training stops after that many epochs without a better one."""

    def __init__(self, path: Path, settings: dict[str, Any] | None = None, patience: int = 0,
                 previous: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.settings = settings or {}
        self.patience = patience
        previous = previous or {}
        self.best: float | None = previous.get("best")
        self.best_epoch: int = int(previous.get("best_epoch", 0))
        self.waited: int = int(previous.get("waited", 0))
        self.history: list[dict[str, float]] = list(previous.get("history", []))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        from score_core.files import atomic_write_bytes
        from score_text.storage import save_model

        figure = held_out_figure(logs or {})
        if figure is not None and (self.best is None or figure < self.best):
            self.best, self.best_epoch, self.waited = figure, epoch + 1, 0
            save_model(self.model, best_path(self.path))
        elif figure is not None:
            self.waited += 1
        save_model(self.model, self.path)
        figures = {k: float(v) for k, v in (logs or {}).items()}
        self.history.append(figures)
        state = {"epoch": epoch + 1, "logs": figures, "history": self.history, "settings": self.settings,
                 "best": self.best, "best_epoch": self.best_epoch, "waited": self.waited}
        atomic_write_bytes(state_path(self.path), json.dumps(state).encode())
        if self.patience and self.waited >= self.patience:
            self.model.stop_training = True


def held_out_figure(logs: dict[str, Any]) -> float | None:
    """What early stopping watches: the validation NLL per token for the LM; for the VAE the whole bound
    (reconstruction + KL, whatever the KL weight is at the time), so annealing cannot fake an improvement."""
    if "val_recon" in logs and "val_kl" in logs:
        return float(logs["val_recon"]) + float(logs["val_kl"])
    return float(logs["val_loss"]) if "val_loss" in logs else None


class EpochSeeds(keras.callbacks.Callback):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """Before every epoch, every random generator (global ones and the model's own seed generators) is set from
    (seed, epoch) alone, so a run resumed at an epoch draws exactly what the uninterrupted run drew there."""

    def __init__(self, seed: int, reseed: Any) -> None:
        super().__init__()
        self.seed, self.reseed = seed, reseed

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import numpy as np

        sequence = np.random.SeedSequence([self.seed, epoch])
        self.reseed(int(sequence.generate_state(1)[0] >> 1))
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        draws = sequence.spawn(1)[0].generate_state(len(states)) >> 1
        for variable, draw in zip(states, draws, strict=True):
            variable.assign(np.array([draw, 0], dtype=variable.dtype))


class TimeBudget(keras.callbacks.Callback):  # type: ignore[name-defined]  # keras is the module keras_module() returns
    """Stop training once ``seconds`` of wall time have passed (checked after every batch)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.start = time.perf_counter()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def state_path(checkpoint: Path) -> Path:
    return Path(checkpoint).with_name(Path(checkpoint).name + ".json")


def best_path(checkpoint: Path) -> Path:
    """Where the best model on validation data lives beside a checkpoint: NAME.best.keras."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name.removesuffix(".keras") + ".best.keras")


def read_state(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's state file as a dict (empty when there is none)."""
    path = state_path(checkpoint)
    return json.loads(path.read_text()) if path.is_file() else {}
