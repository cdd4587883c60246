"""Training either model from a text file: vocabulary, split, bucketed batches, fit, checkpoints, resume."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from score_core.errors import ScoreError
from score_text.data import Batches, load_sentences, make_dataset, validation_split
from score_text.vocab import Vocabulary, build_vocabulary


@dataclass
class TrainConfig:
    """Everything `score text train` needs besides the data and output paths."""

    model: str = "lm"
    level: str = "word"
    layout: str = "auto"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    max_vocab: int = 10000
    max_length: int = 0
    validation: float = 0.05
    bucket_size: int = 50
    clipnorm: float = 5.0
    model_args: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    minutes: float = 0.0
    validation_file: str = ""
    patience: int = 0


@dataclass
class TrainResult:
    model: Any
    history: list[dict[str, float]]
    epoch_seconds: list[float]
    validation: list[list[int]]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, Keras's global seed generator and the backend.

    ``keras.utils.set_random_seed`` imports tensorflow whenever it is installed, which must not happen on the
    torch backend (both in one process can crash), so on torch the same steps are done here.
    """
    from score_text.backend import keras_module

    keras = keras_module()
    if keras.backend.backend() != "torch":
        keras.utils.set_random_seed(seed)
        return
    import torch
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    global_state.set_global_attribute("global_random_seed", seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(config: TrainConfig, vocabulary: Vocabulary) -> Any:
    from score_text.models import MODEL_KINDS, keras

    kind = MODEL_KINDS.get(config.model)
    if kind is None:
        raise ScoreError("--model", f"unknown model {config.model!r} (lm or vae)")
    args = dict(config.model_args)
    if config.model == "vae":
        args.setdefault("seed", config.seed)
    model = kind(vocabulary=vocabulary.to_json(), **args)
    model.build_on_dummy()
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm), jit_compile=False)
    return model


RESUMABLE = ("epochs", "progress", "minutes", "model_args", "patience")
"""TrainConfig fields a resumed run may change (model_args are compared one by one)."""


def fixed_settings(config: TrainConfig) -> dict[str, Any]:
    """The options a resumed run must repeat exactly: all but the length of training and how it is shown."""
    settings = {key: value for key, value in asdict(config).items() if key not in RESUMABLE}
    return {**settings, **config.model_args}


def refuse_other_settings(checkpoint: Path, config: TrainConfig) -> None:
    """A ScoreError naming the first option that differs from the run the checkpoint continues."""
    from score_text.progress import read_state

    saved = read_state(checkpoint).get("settings")
    if saved is None:
        raise ScoreError(str(checkpoint), "has no record of its training options; start afresh without --resume")
    now = json.loads(json.dumps(fixed_settings(config)))
    defaults = json.loads(json.dumps(fixed_settings(TrainConfig())))
    for key in sorted({*saved, *now}):
        if saved.get(key, defaults.get(key)) != now.get(key):
            raise ScoreError(str(checkpoint), f"was trained with {key}={saved.get(key)!r}, not {now.get(key)!r}; "
                                              "resume with the same options, or start afresh without --resume")


def held_out_split(config: TrainConfig, vocabulary: Vocabulary,
                   encoded: list[list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    """(train, validation): every sentence and the validation file's when one is given, else a seeded split."""
    if not config.validation_file:
        return validation_split(encoded, config.validation, config.seed)
    held_out = load_sentences(Path(config.validation_file), config.level, config.layout)
    return encoded, [vocabulary.encode(s) for s in held_out]


def train(data: Path, config: TrainConfig, checkpoint: Path | None = None, resume: bool = False) -> TrainResult:
    """Train a model on ``data``; with ``resume``, continue from ``checkpoint`` (same vocabulary required).

    With ``config.patience`` > 0 (and validation data), training stops once the held-out figure has not improved
    for that many epochs, and the best model on it is returned (it is also kept as CHECKPOINT.best.keras).
    """
    from score_text.progress import Checkpoint, EpochSeeds, RichProgress, TimeBudget, best_path, read_state
    from score_text.storage import load_model

    if config.patience > 0 and checkpoint is None:
        raise ScoreError("--patience", "early stopping needs a checkpoint file to keep the best model in")
    seed_everything(config.seed)
    sentences = load_sentences(data, config.level, config.layout, config.max_length)
    previous: dict[str, Any] = {}
    if resume and checkpoint is not None and checkpoint.is_file():
        model = load_model(checkpoint, compile=True)
        vocabulary = model.vocabulary
        if model.kind != config.model or vocabulary.level != config.level:
            raise ScoreError(str(checkpoint), f"vocabulary mismatch: checkpoint is a {vocabulary.level}-level "
                                              f"{model.kind}, asked for a {config.level}-level {config.model}")
        fresh = build_vocabulary(sentences, config.level, config.max_vocab)
        if fresh != vocabulary:
            raise ScoreError(str(checkpoint), "vocabulary mismatch: the data builds another vocabulary")
        refuse_other_settings(checkpoint, config)
        previous = read_state(checkpoint)
    else:
        vocabulary = build_vocabulary(sentences, config.level, config.max_vocab)
        model = build_model(config, vocabulary)
    initial_epoch = int(previous.get("epoch", 0))
    encoded = [vocabulary.encode(s) for s in sentences]
    train_ids, valid_ids = held_out_split(config, vocabulary, encoded)
    if config.patience > 0 and not valid_ids:
        raise ScoreError("--patience", "early stopping needs validation data (--validation > 0 or --validation-file)")
    vae = config.model == "vae"
    batches = Batches(train_ids, config.batch_size, config.seed, vae=vae, bucket_size=config.bucket_size)
    batches.set_epoch(initial_epoch)
    valid = None
    if valid_ids:
        valid = make_dataset(Batches(valid_ids, config.batch_size, config.seed, vae=vae), shuffle_each_epoch=False)
    bar = RichProgress(config.epochs, len(batches), enabled=config.progress)
    callbacks: list[Any] = [EpochSeeds(config.seed, seed_everything), bar]
    if checkpoint is not None:
        callbacks.append(Checkpoint(checkpoint, fixed_settings(config), config.patience, previous))
    if config.minutes > 0:
        callbacks.append(TimeBudget(config.minutes * 60.0))
    stopped_early = config.patience > 0 and int(previous.get("waited", 0)) >= config.patience
    if initial_epoch < config.epochs and not stopped_early:
        model.fit(make_dataset(batches), validation_data=valid, epochs=config.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=0)
    if config.patience > 0 and checkpoint is not None and best_path(checkpoint).is_file():
        model = load_model(best_path(checkpoint), compile=True)
    return TrainResult(model, bar.history, bar.epoch_seconds, valid_ids)
