"""Reading text files, splitting validation data, and length-bucketed batches shuffled anew every epoch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError
from score_text.vocab import BOS, EOS, PAD

FORMATS = ("auto", "lines", "free")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def read_text(path: Path) -> str:
    """The file's text; a missing, empty or binary file is a ScoreError."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(str(path), "no such file")
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise ScoreError(str(path), "is a binary file, not plain text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScoreError(str(path), "is not UTF-8 text (binary file?)") from None
    if not text.strip():
        raise ScoreError(str(path), "is empty")
    return text


def split_sentences(text: str, layout: str = "auto") -> list[str]:
    """Sentences of a text: one per line, or free text split after . ! ? ("auto" picks by line length)."""
    if layout not in FORMATS:
        raise ScoreError("--format", f"unknown layout {layout!r} (auto, lines or free)")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if layout == "auto":
        layout = "free" if lines and np.median([len(line) for line in lines]) > 300 else "lines"
    if layout == "lines":
        return lines
    joined = " ".join(lines)
    return [s.strip() for s in _SENTENCE_END.split(joined) if s.strip()]


def load_sentences(path: Path, level: str, layout: str = "auto", max_length: int = 0) -> list[list[str]]:
    """Token lists of the file's sentences, optionally dropping those longer than ``max_length`` tokens."""
    sentences = [list(s) if level == "char" else s.split() for s in split_sentences(read_text(path), layout)]
    if max_length > 0:
        sentences = [s for s in sentences if len(s) <= max_length]
    if not sentences:
        raise ScoreError(str(path), "has no sentences" + (f" of at most {max_length} tokens" if max_length else ""))
    return sentences


def validation_split(items: Sequence[list[int]], fraction: float, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """(train, validation) from a seeded permutation; validation is empty when ``fraction`` is 0."""
    order = np.random.default_rng(seed).permutation(len(items))
    count = round(len(items) * fraction) if fraction > 0 else 0
    count = min(count, len(items) - 1)
    return [list(items[i]) for i in order[count:]], [list(items[i]) for i in order[:count]]


def pad_rows(rows: Sequence[Sequence[int]], length: int | None = None) -> np.ndarray:
    """Right-padded int32 matrix with PAD."""
    width = length or max((len(r) for r in rows), default=1)
    out = np.full((len(rows), max(width, 1)), PAD, dtype=np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row[:width]
    return out


def lm_arrays(sequences: Sequence[Sequence[int]], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decoder input ([BOS] + tokens) and target (tokens + [EOS]), both PAD-padded."""
    inputs = pad_rows([[BOS, *s] for s in sequences], length)
    targets = pad_rows([[*s, EOS] for s in sequences], length)
    return inputs, targets


def batch_plan(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
               bucket_size: int = 0) -> list[list[int]]:
    """Batches of indices: shuffle, sort by length inside chunks of ``bucket_size`` batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    chunk = max(batch_size, (bucket_size or 50) * batch_size)
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class Batches:
    """Length-bucketed, PAD-padded batches; the order is a function of (seed, epoch) only."""

    def __init__(self, sequences: Sequence[Sequence[int]], batch_size: int, seed: int, vae: bool = False,
                 bucket_size: int = 50) -> None:
        self.sequences = [list(s) for s in sequences]
        self.batch_size = batch_size
        self.seed = seed
        self.vae = vae
        self.bucket_size = bucket_size
        self.lengths = [len(s) for s in self.sequences]
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        self.plan = batch_plan(self.lengths, self.batch_size, rng, self.bucket_size)

    def __len__(self) -> int:
        return len(self.plan)

    def batch(self, index: int) -> tuple[object, np.ndarray]:
        rows = [self.sequences[i] for i in self.plan[index]]
        inputs, targets = lm_arrays(rows)
        if self.vae:
            return (targets, inputs), targets
        return inputs, targets


def make_dataset(batches: Batches, shuffle_each_epoch: bool = True) -> object:
    """A keras PyDataset over ``batches`` that re-plans the order at every epoch end."""
    from score_text.backend import keras_module

    keras = keras_module()

    class _Dataset(keras.utils.PyDataset):  # type: ignore[name-defined]  # keras is the module keras_module() returns
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)

        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, index: int) -> tuple[object, np.ndarray]:
            return batches.batch(index)

        def on_epoch_end(self) -> None:
            if shuffle_each_epoch:
                batches.set_epoch(batches.epoch + 1)

    return _Dataset()
