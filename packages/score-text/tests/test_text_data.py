"""Vocabulary, reading text, batching: bucketing and per-epoch shuffles reproducible by seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from score_core.errors import ScoreError
from score_text.data import Batches, lm_arrays, load_sentences, split_sentences
from score_text.vocab import BOS, EOS, PAD, UNK, Vocabulary, build_vocabulary


def test_vocabulary_specials_cap_and_round_trip(tmp_path: Path) -> None:
    vocab = build_vocabulary([["a", "b", "a", "c"], ["a", "b"]], max_size=6)
    assert vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    assert vocab.tokens[4:] == ("a", "b")
    assert vocab.encode("a c b") == [4, UNK, 5]
    assert vocab.decode([BOS, 4, 5, EOS, 4]) == "a b"
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab


def test_char_level() -> None:
    vocab = build_vocabulary([list("abba")], level="char")
    assert vocab.decode(vocab.encode("ab")) == "ab"


def test_free_text_is_split_into_sentences() -> None:
    text = ("It rains. " * 40) + "Does it? Yes!"
    assert split_sentences(text, "free")[-2:] == ["Does it?", "Yes!"]
    assert len(split_sentences(text)) == 42


@pytest.mark.parametrize("payload", [b"", b"  \n\n", b"\x00\x01\x02binary", b"\xff\xfe\xfa"])
def test_bad_data_files(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(payload)
    with pytest.raises(ScoreError):
        load_sentences(path, "word")


def test_lm_arrays_shift_and_pad() -> None:
    inputs, targets = lm_arrays([[5, 6], [7]])
    assert inputs.tolist() == [[BOS, 5, 6], [BOS, 7, PAD]]
    assert targets.tolist() == [[5, 6, EOS], [7, EOS, PAD]]


def _orders(seed: int) -> list[list[list[int]]]:
    sequences = [[4] * (1 + i % 9) for i in range(200)]
    batches = Batches(sequences, 16, seed)
    plans = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        plans.append([list(b) for b in batches.plan])
    return plans


def test_batch_order_changes_per_epoch_and_is_reproducible() -> None:
    first = _orders(seed=1)
    assert first[0] != first[1] != first[2]
    assert first == _orders(seed=1)
    assert first != _orders(seed=2)
    assert sorted(i for b in first[1] for i in b) == list(range(200))


def test_batches_are_length_bucketed() -> None:
    sequences = [[4] * (1 + i % 20) for i in range(640)]
    batches = Batches(sequences, 32, 0)
    spreads = [np.ptp([len(sequences[i]) for i in b]) for b in batches.plan]
    assert np.mean(spreads) <= 2
