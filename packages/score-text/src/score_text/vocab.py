"""Vocabulary with PAD/UNK/BOS/EOS, a size cap, word or character level."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from score_core.errors import ScoreError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
LEVELS = ("word", "char")


@dataclass(frozen=True)
class Vocabulary:
    """Tokens by id (the four specials first) and the tokenisation level."""

    tokens: tuple[str, ...]
    level: str = "word"
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ScoreError("vocabulary", f"unknown level {self.level!r} (word or char)")
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise ScoreError("vocabulary", "does not start with the special tokens <pad> <unk> <s> </s>")
        object.__setattr__(self, "index", {token: i for i, token in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    def split(self, sentence: str) -> list[str]:
        """Tokens of one sentence at this vocabulary's level."""
        return list(sentence.strip()) if self.level == "char" else sentence.split()

    def encode(self, sentence: str | Sequence[str]) -> list[int]:
        """Ids of a sentence (string or token list); unknown tokens become UNK."""
        pieces = self.split(sentence) if isinstance(sentence, str) else sentence
        return [self.index.get(token, UNK) for token in pieces]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids up to the first EOS, without PAD/BOS."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else SPECIALS[UNK])
        return ("" if self.level == "char" else " ").join(out)

    def to_json(self) -> dict[str, object]:
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocabulary:
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ScoreError("vocabulary", "has no list of tokens")
        return cls(tuple(tokens), str(data.get("level", "word")))

    def save(self, path: Path) -> None:
        from score_core.files import atomic_write_bytes

        atomic_write_bytes(path, json.dumps(self.to_json(), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise ScoreError(str(path), f"is not a vocabulary file ({error})") from None


def build_vocabulary(sentences: Iterable[Sequence[str]], level: str = "word", max_size: int = 10000,
                     min_count: int = 1) -> Vocabulary:
    """The ``max_size`` most frequent tokens (specials included), ties broken alphabetically."""
    counts = Counter(token for sentence in sentences for token in sentence)
    for special in SPECIALS:
        counts.pop(special, None)
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    keep = max(0, max_size - len(SPECIALS))
    return Vocabulary(SPECIALS + tuple(ranked[:keep]), level)
