"""Both models through the real `score text …` CLI on a tiny corpus; bad inputs; a light plugin import."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from text_support import TOPICS, run_cli


def test_lm_trains_samples_and_evaluates(trained_lm: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = json.loads((trained_lm.parent / "lm.ckpt.keras.json").read_text())
    assert state["epoch"] == 12
    capsys.readouterr()
    assert run_cli("evaluate", str(trained_lm), str(corpus), "--json") == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["perplexity"] < 6.0  # uniform over the 58 tokens would be 58
    assert run_cli("sample", str(trained_lm), "-n", "3", "--seed", "1") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_lm_loss_falls(corpus: Path, tmp_path: Path) -> None:
    from score_text.train import TrainConfig, train

    config = TrainConfig(model="lm", epochs=3, learning_rate=0.01, progress=False, validation=0.0,
                         model_args={"units": 16, "embedding_dim": 8, "one_hot": False})
    history = train(corpus, config).history
    assert history[-1]["loss"] < history[0]["loss"] - 0.3


def test_vae_loss_falls_and_kl_stays_non_zero(trained_vae: Path, corpus: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    state = json.loads((trained_vae.parent / "vae.ckpt.keras.json").read_text())
    assert state["logs"]["kl_weight"] > 0.9  # annealing finished
    capsys.readouterr()
    assert run_cli("evaluate", str(trained_vae), str(corpus), "--json") == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["kl"] > 0.1
    assert figures["reconstruction"] < 12.0  # an untrained decoder costs ~ 5.5 tokens × ln 53 ≈ 22 nats


def test_interpolate_prints_steps_from_a_to_b(trained_vae: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from score_text.generate import decode, encode_sentences
    from score_text.storage import load_model

    a, b = "the cat chases the mouse", "the farmer plants the corn in spring"
    capsys.readouterr()
    assert run_cli("interpolate", str(trained_vae), a, b, "--steps", "5") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    model = load_model(trained_vae, compile=False)
    ends = decode(model, 2, encode_sentences(model, [a, b]), 0.0, 0)
    assert [lines[0], lines[-1]] == ends
    words = {w for topic in TOPICS for part in topic for phrase in part for w in phrase.split()}
    assert all(line and set(line.split()) <= words for line in lines)
    # the path starts in a's topic and ends in b's: the latent carries what the sentence is about
    assert topic_of(lines[0]) == topic_of(a) and topic_of(lines[-1]) == topic_of(b), lines


def topic_of(sentence: str) -> int:
    """The templated topic whose subjects, verbs and objects share the most words with ``sentence``."""
    tokens = set(sentence.split()) - {"the", "a", "in", "at"}
    overlaps = [len(tokens & {w for part in topic[:3] for phrase in part for w in phrase.split()}) for topic in TOPICS]
    return overlaps.index(max(overlaps))


def test_resume_continues_from_checkpoint(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.keras"
    small = ["--units", "8", "--embedding-dim", "4", "--quiet"]
    assert run_cli("train", str(corpus), "-o", str(out), "--epochs", "1", *small) == 0
    assert run_cli("train", str(corpus), "-o", str(out), "--epochs", "2", "--resume", "--overwrite", *small) == 0
    assert json.loads((tmp_path / "r.ckpt.keras.json").read_text())["epoch"] == 2
    assert "1 epochs this run" in capsys.readouterr().out


def test_bad_inputs_fail_with_one_line(tmp_path: Path, trained_lm: Path, corpus: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    empty, binary, notmodel = tmp_path / "empty.txt", tmp_path / "bin.txt", tmp_path / "x.keras"
    empty.write_text("")
    binary.write_bytes(bytes(range(256)))
    notmodel.write_text("hello")
    zipped = tmp_path / "z.keras"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("config.json", "{}")
    mismatched = tmp_path / "m.keras"
    mismatched.write_bytes(trained_lm.read_bytes())
    (tmp_path / "m.vocab.json").write_text(json.dumps({"level": "word", "tokens": ["<pad>", "<unk>", "<s>", "</s>"]}))
    cases = [
        ("train", str(empty), "-o", str(tmp_path / "a.keras")),
        ("train", str(binary), "-o", str(tmp_path / "a.keras")),
        ("train", str(corpus), "-o", str(trained_lm)),  # exists, no --overwrite
        ("sample", str(notmodel)),
        ("sample", str(zipped)),
        ("evaluate", str(mismatched), str(corpus)),
        ("evaluate", str(trained_lm), str(empty)),
        ("interpolate", str(trained_lm), "a", "b"),
    ]
    for case in cases:
        capsys.readouterr()
        assert run_cli(*case) == 2, case
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("score: error: "), (case, err)
    assert "vocabulary mismatch" in _error_of(capsys, "evaluate", str(mismatched), str(corpus))


def _error_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    run_cli(*args)
    return capsys.readouterr().err


def test_plugin_import_is_light() -> None:
    code = ("import sys, score_text.plugin, score_text.cli; "
            "bad = [m for m in ('keras', 'torch', 'tensorflow') if m in sys.modules]; print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_torch_backend_keeps_tensorflow_out(trained_lm: Path) -> None:
    code = ("import sys; from score_cli.app import main; "
            f"main(['text', 'sample', {str(trained_lm)!r}, '-n', '1']); print('tensorflow' in sys.modules)")
    env = {"KERAS_BACKEND": "torch", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


def _weights(path: Path) -> list:
    from score_text.storage import load_model

    return [w.copy() for w in load_model(path, compile=False).get_weights()]


def test_resume_continues_bit_for_bit_and_refuses_other_options(corpus: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    small = ["--model", "vae", "--units", "8", "--embedding-dim", "4", "--latent-dim", "3", "--quiet", "--lr", "0.01"]
    whole, split = tmp_path / "whole.keras", tmp_path / "split.keras"
    assert run_cli("train", str(corpus), "-o", str(whole), "--epochs", "2", *small) == 0
    assert run_cli("train", str(corpus), "-o", str(split), "--epochs", "1", *small) == 0
    first = _weights(split)
    assert run_cli("train", str(corpus), "-o", str(split), "--epochs", "2", "--resume", "--overwrite", *small) == 0
    for resumed, uninterrupted in zip(_weights(split), _weights(whole), strict=True):
        assert np.array_equal(resumed, uninterrupted)
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(split), first, strict=True))
    capsys.readouterr()
    for conflict, name in ((["--seed", "1"], "seed=0"), (["--lr", "0.02"], "learning_rate=0.01"),
                           (["--latent-dim", "4"], "latent_dim=3")):
        assert run_cli("train", str(corpus), "-o", str(split), "--epochs", "3", "--resume", "--overwrite",
                       *small, *conflict) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "split.ckpt.keras: was trained with " + name in error[0], error


def test_early_stopping_on_a_validation_file_keeps_the_best_model(corpus: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from text_support import corpus_lines

    valid = tmp_path / "valid.txt"
    valid.write_text("\n".join(corpus_lines(60, seed=1)) + "\n", encoding="utf-8")
    out = tmp_path / "es.keras"
    quick = ["--units", "48", "--embedding-dim", "24", "--lr", "0.05", "--quiet"]  # overfits within a few epochs
    capsys.readouterr()
    assert run_cli("train", str(corpus), "-o", str(out), "--validation-file", str(valid), "--patience", "2",
                   "--epochs", "40", *quick) == 0
    state = json.loads((tmp_path / "es.ckpt.keras.json").read_text())
    assert state["epoch"] < 40 and state["waited"] == 2 and state["best_epoch"] == state["epoch"] - 2
    assert state["logs"]["val_loss"] > state["best"]
    assert [epoch["val_loss"] for epoch in state["history"]][state["best_epoch"] - 1] == state["best"]
    assert len(state["history"]) == state["epoch"]
    printed = json.loads(capsys.readouterr().out.split("validation ", 1)[1])
    assert printed["sentences"] == 60  # the held-out sentences are the file's, not a split of the training data
    assert printed["nll_per_token"] == pytest.approx(state["best"], rel=0.01)
    best, last = _weights(tmp_path / "es.ckpt.best.keras"), _weights(tmp_path / "es.ckpt.keras")
    assert all(np.array_equal(a, b) for a, b in zip(_weights(out), best, strict=True))  # the output is the best model
    assert any(not np.array_equal(a, b) for a, b in zip(best, last, strict=True))
    done = state["epoch"]
    assert run_cli("train", str(corpus), "-o", str(out), "--validation-file", str(valid), "--patience", "2",
                   "--epochs", "40", "--resume", "--overwrite", *quick) == 0
    assert json.loads((tmp_path / "es.ckpt.keras.json").read_text())["epoch"] == done  # stopped runs stay stopped
    assert "0 epochs this run" in capsys.readouterr().out


def test_early_stopping_needs_validation_data(corpus: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.keras"
    for extra in (["--validation", "0", "--patience", "1"], ["--validation-file", str(tmp_path / "absent.txt")]):
        capsys.readouterr()
        assert run_cli("train", str(corpus), "-o", str(out), "--epochs", "1", "--units", "8", "--quiet", *extra) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("score: error: "), error
        assert not out.exists()
