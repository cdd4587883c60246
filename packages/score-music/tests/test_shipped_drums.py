"""The drums model we ship: it loads offline, conforms, and has learnt grooves (checks that can fail)."""

import numpy as np
import pytest
import torch

from score_core.testing import check_decoder
from score_music.drums import groove_statistics
from score_music.groove import groove_windows, read_groove_events
from score_music.loading import load_drums_decoder
from score_music.shipped import DRUMS_STEM, shipped_weights


@pytest.fixture(scope="module")
def decoder():
    torch.set_num_threads(1)
    return load_drums_decoder(None)


def test_shipped_drums_weights_are_described_fp16_and_load(decoder):
    shipped = shipped_weights(DRUMS_STEM)
    assert decoder.latent_spec.size == shipped.z_size
    assert decoder.latent_spec.dimension_order == shipped.dimension_order
    assert decoder.provenance()["weights_sha256"] == shipped.sha256
    assert shipped.path.stat().st_size < 4_000_000  # float16, a few MB


def test_shipped_drums_decoder_conforms(decoder):
    check_decoder(decoder)


def test_samples_from_the_prior_are_grooves_on_the_beat(decoder):
    z = torch.randn(32, decoder.latent_spec.size, generator=torch.Generator().manual_seed(0)).numpy()
    events = decoder.segment_events(z, temperature=0.5, seed=0)
    stats = groove_statistics(events)
    # Random events: 0.5 of hits on eighths, ~72 hits per bar; human test grooves: ~0.66 and ~19.
    assert stats["eighth_share"] > 0.6
    assert 4 < stats["hits_per_bar"] < 40
    assert 0.15 < stats["kick_snare_balance"] < 0.85
    assert stats["empty_bar_rate"] < 0.2


@pytest.mark.shared_data
def test_held_out_grooves_are_reconstructed(decoder, groove_root):
    # Test-split performances (info.csv: split = test), never seen in training.
    paths = ["drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid",
             "drummer1/eval_session/10_soul-groove10_102_beat_4-4.mid"]
    windows = np.concatenate([groove_windows(read_groove_events(groove_root / p)) for p in paths]).astype(np.int64)
    events = torch.from_numpy(windows)
    mu, _ = decoder.model.encode(events)
    with torch.no_grad():
        logits = decoder.model.teacher_forced_logits(events, mu)
    accuracy = float((logits.argmax(-1) == events).float().mean())
    assert accuracy > 0.5, accuracy
