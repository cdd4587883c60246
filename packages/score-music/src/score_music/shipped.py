"""The MusicVAE weights shipped inside this package, described by a small JSON file read without torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from score_core.errors import ScoreError

WEIGHTS_FILE = "musicvae-mel_2bar.pt"
CARD_FILE = "musicvae-mel_2bar.json"
DRUMS_STEM = "musicvae-drums_2bar"
"""File stem of the shipped drums model (``.pt`` weights, ``.json`` card)."""


@dataclass(frozen=True)
class ShippedWeights:
    """Where the default weights are and the facts the registration needs: latent size and dimension use."""

    path: Path
    config: str
    z_size: int
    dimension_order: tuple[int, ...]
    sha256: str


def shipped_weights(stem: str | None = None) -> ShippedWeights:
    """The description of the default weights (or of the shipped model ``stem``, e.g. ``DRUMS_STEM``); a
    ScoreError when this installation has none."""
    folder = Path(str(resources.files("score_music") / "weights"))
    weights_file, card_file = (WEIGHTS_FILE, CARD_FILE) if stem is None else (f"{stem}.pt", f"{stem}.json")
    card = folder / card_file
    if not card.is_file() or not (folder / weights_file).is_file():
        raise ScoreError(stem or "musicvae", f"no default weights shipped in {folder}; pass --music-weights PATH")
    facts = json.loads(card.read_text())
    return ShippedWeights(
        path=folder / weights_file,
        config=facts["config"],
        z_size=int(facts["z_size"]),
        dimension_order=tuple(int(i) for i in facts["dimension_order"]),
        sha256=facts["sha256"],
    )
