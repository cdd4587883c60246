"""The same commands on the TensorFlow backend (run with KERAS_BACKEND=tensorflow, in its own process)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from text_support import TINY, run_cli

pytestmark = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND") != "tensorflow" or importlib.util.find_spec("tensorflow") is None,
    reason="TensorFlow backend test: set KERAS_BACKEND=tensorflow with tensorflow installed (own tox env)",
)


def test_train_evaluate_interpolate_on_tensorflow(corpus: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    assert keras.backend.backend() == "tensorflow"
    out = tmp_path / "tf.keras"
    assert run_cli("train", "--model", "vae", str(corpus), "-o", str(out), *TINY, "--epochs", "2") == 0
    capsys.readouterr()
    assert run_cli("evaluate", str(out), str(corpus), "--json") == 0
    assert json.loads(capsys.readouterr().out)["sentences"] == 320
    assert run_cli("interpolate", str(out), "the cat chases the mouse", "the chef bakes a cake") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5
