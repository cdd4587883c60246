"""The MusicVAE we ship: it loads offline, conforms, and has learnt tonal melodies (checks that can fail)."""

import numpy as np
import pytest
import torch

from score_core.testing import check_decoder
from score_music.corpus import split_of
from score_music.loading import load_decoder
from score_music.shipped import shipped_weights

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


@pytest.fixture(scope="module")
def decoder():
    return load_decoder(None)


def test_shipped_weights_are_described_and_load(decoder):
    shipped = shipped_weights()
    assert decoder.latent_spec.size == shipped.z_size
    assert decoder.latent_spec.dimension_order == shipped.dimension_order
    assert decoder.provenance()["weights_sha256"] == shipped.sha256


def test_shipped_decoder_conforms(decoder):
    check_decoder(decoder)


def _key_fit(pitches: list[int]) -> float:
    """Largest share of notes inside one major scale (its relative minor has the same notes)."""
    classes = np.array(pitches) % 12
    return max(float(np.isin((classes - tonic) % 12, MAJOR).mean()) for tonic in range(12))


def test_samples_from_the_prior_are_tonal_melodies(decoder):
    z = torch.randn(16, decoder.latent_spec.size, generator=torch.Generator().manual_seed(0)).numpy()
    events = decoder.segment_events(z, temperature=0.5, seed=0)
    melodies = [[int(e) - 2 + 21 for e in row if e >= 2] for row in events]
    melodies = [pitches for pitches in melodies if len(pitches) >= 3]
    assert len(melodies) >= 12, f"only {len(melodies)} of 16 samples hold a melody"
    fits = [_key_fit(pitches) for pitches in melodies]
    assert np.mean(fits) > 0.85  # random pitches fit one scale about 60 % of the time


def test_held_out_chorale_melodies_are_reconstructed(decoder):
    pytest.importorskip("music21", reason="music21 is in the score-music[train] extra")
    from music21 import converter

    from score_music.corpus import VOICES, source_files
    from score_music.extract import music21_melody, windows

    rows = []
    for path in source_files("bach"):
        if split_of(f"bach/{path.stem}") != "test":
            continue
        melody = music21_melody(converter.parse(path), part_names=VOICES)
        if melody is not None:
            rows.append(windows(melody))
        if sum(len(r) for r in rows) >= 24:
            break
    held_out = np.concatenate(rows).astype(np.int64)
    mu, _ = decoder.model.encode(torch.from_numpy(held_out))
    decoded, _ = decoder.model.decode(mu, steps=held_out.shape[1], temperature=0.0)
    accuracy = float((decoded.numpy() == held_out).mean())
    assert accuracy > 0.8, f"held-out step accuracy {accuracy:.3f}"
