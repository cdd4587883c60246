"""The MusicVAE weights shipped inside this package, described by a small JSON file read without torch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from score_core.errors import ScoreError

WEIGHTS_FILE = "musicvae-mel_2bar.pt"
CARD_FILE = "musicvae-mel_2bar.json"


@dataclass(frozen=True)
class ShippedWeights:
    """Where the default weights are and the facts the registration needs: latent size and dimension use."""

    path: Path
    config: str
    z_size: int
    dimension_order: tuple[int, ...]
    sha256: str


def shipped_weights() -> ShippedWeights:
    """The default weights' description; a ScoreError when this installation has none."""
    folder = Path(str(resources.files("score_music") / "weights"))
    card = folder / CARD_FILE
    if not card.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise ScoreError("musicvae", f"no default weights shipped in {folder}; pass --music-weights PATH")
    facts = json.loads(card.read_text())
    return ShippedWeights(
        path=folder / WEIGHTS_FILE,
        config=facts["config"],
        z_size=int(facts["z_size"]),
        dimension_order=tuple(int(i) for i in facts["dimension_order"]),
        sha256=facts["sha256"],
    )
