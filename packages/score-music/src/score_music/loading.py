"""Building the pipeline decoder from the shipped weights or a user's weights file."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from score_core.contracts import LatentSpec
from score_core.errors import ScoreError
from score_core.files import sha256_file
from score_music.decoder import MusicVaeDecoder
from score_music.melody import STEPS_PER_BAR
from score_music.model.numpy_decoder import NumpyLstmDecoder
from score_music.shipped import DRUMS_STEM, shipped_weights


def card_path(weights: Path) -> Path:
    """The JSON description written beside a weights file (config, latent size, dimension use)."""
    return weights.with_suffix(".json")


def dimension_order(weights: Path, z_size: int) -> tuple[int, ...] | None:
    """Latent dimensions from most to least used, as recorded beside the weights, if recorded."""
    card = card_path(weights)
    if not card.is_file():
        return None
    order = tuple(int(i) for i in json.loads(card.read_text()).get("dimension_order", ()))
    return order if sorted(order) == list(range(z_size)) else None


def key_normalised(weights: Path) -> bool:
    """Whether the card beside a weights file says the model learnt key-normalised windows."""
    card = card_path(weights)
    return card.is_file() and bool(json.loads(card.read_text()).get("key_normalised", False))


def _build(path: Path, label: str, drums: bool | None) -> MusicVaeDecoder:
    from score_music.drums_decoder import DrumsVaeDecoder
    from score_music.model.numpy_weights import read_numpy_weights

    read = read_numpy_weights(path)
    if read is None:  # not readable without torch: the torch loader reads it or names the fault
        from score_music.model.weights import load_weights

        model, config = load_weights(path)
        sampler, load_model = None, None
    else:
        config, tensors = read
        model = None
        flat = not config.hierarchical and not config.part_classes
        sampler = NumpyLstmDecoder(tensors) if flat else None
        load_model = partial(_load_torch_model, path)
    is_drums = config.encoder_input == "drum_roll"
    if drums is not None and drums != is_drums:
        want = "a drums model" if drums else "a melody model"
        raise ScoreError(str(path), f"weights are config {config.name!r}, not {want}")
    spec = LatentSpec(
        size=config.z_size,
        bars_per_segment=config.seq_len // STEPS_PER_BAR,
        steps_per_bar=STEPS_PER_BAR,
        dimension_order=dimension_order(path, config.z_size),
    )
    provenance: dict[str, Any] = {"weights": label, "weights_sha256": sha256_file(path), "config": config.name}
    if key_normalised(path):
        provenance["key_normalised"] = True
    decoder_type = DrumsVaeDecoder if is_drums else MusicVaeDecoder
    return decoder_type(model, spec, provenance, load_model=load_model, sampler=sampler)


def _load_torch_model(path: Path) -> Any:
    from score_music.model.weights import load_weights

    return load_weights(path)[0]


def load_decoder(weights: str | None) -> MusicVaeDecoder:
    """The decoder for `weights` (a file from `score music train`; a drums model gives drums), or the shipped
    default melody model when None."""
    path = Path(weights) if weights else shipped_weights().path
    return _build(path, str(path) if weights else f"shipped:{path.name}", None)


def load_drums_decoder(weights: str | None) -> MusicVaeDecoder:
    """The drums decoder for `weights` (a drums model from `score music train --model drums`), or the shipped
    drums model when None; a melody weights file is refused."""
    path = Path(weights) if weights else shipped_weights(DRUMS_STEM).path
    return _build(path, str(path) if weights else f"shipped:{path.name}", True)
