"""Fixtures: a templated corpus the tests write themselves and tiny models trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from text_support import TINY, corpus_lines, run_cli

os.environ.setdefault("KERAS_BACKEND", "torch")

@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    if os.environ["KERAS_BACKEND"] != "torch":  # never load torch beside tensorflow
        return
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text("\n".join(corpus_lines()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_lm(corpus: Path) -> Path:
    out = corpus.parent / "lm.keras"
    assert run_cli("train", "--model", "lm", str(corpus), "-o", str(out), *TINY) == 0
    return out


@pytest.fixture(scope="session")
def trained_vae(corpus: Path) -> Path:
    out = corpus.parent / "vae.keras"
    # No free bits: word dropout 0.75 and z fed at every step keep the KL above zero on their own.
    args = ["--epochs", "40", "--latent-dim", "8", "--anneal-steps", "300", "--word-dropout", "0.75", "--feed-z"]
    assert run_cli("train", "--model", "vae", str(corpus), "-o", str(out), *TINY, *args) == 0
    return out
