"""Saving and loading `.keras` files (safe mode on) with the vocabulary beside them."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError
from score_text.vocab import Vocabulary


def vocabulary_path(model_path: Path) -> Path:
    """Where the vocabulary copy beside a model lives: MODEL.vocab.json."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".vocab.json")


def save_model(model: Any, path: Path) -> None:
    """Write ``path`` atomically (a temporary `.keras` file renamed into place) and the vocabulary beside it."""
    from score_core.files import atomic_path

    path = Path(path)
    with atomic_path(path, suffix=".keras") as temporary:  # Keras saves only to names ending in .keras
        model.save(temporary, overwrite=True)
    model.vocabulary.save(vocabulary_path(path))


def load_model(path: Path, compile: bool = True) -> Any:
    """A LanguageModel or SentenceVAE from ``path``; anything else is a one-line ScoreError."""
    from score_text.models import LanguageModel, SentenceVAE, keras

    path = Path(path)
    if not path.is_file():
        raise ScoreError(str(path), "no such file")
    if not zipfile.is_zipfile(path):
        raise ScoreError(str(path), "is not a Keras model file (.keras zip archive)")
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except ScoreError:
        raise
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ScoreError(str(path), f"is not a score-text Keras model ({reason[:200]})") from None
    if not isinstance(model, LanguageModel | SentenceVAE):
        raise ScoreError(str(path), f"is a Keras model but not a score-text one ({type(model).__name__})")
    beside = vocabulary_path(path)
    if beside.is_file() and Vocabulary.load(beside) != model.vocabulary:
        raise ScoreError(str(path), f"vocabulary mismatch: {beside.name} differs from the vocabulary inside the model")
    return model
