"""The shipped musicvae-stream weights: they load, conform, answer a latent jump at once, and stay tonal."""

import numpy as np
import pytest
import torch

from score_core.registry import load_registry
from score_core.testing import check_decoder
from score_music.stream.decoder import load_stream_decoder
from score_music.stream.metrics import jump_tv, musicality, response_lag, stream_probabilities
from score_music.stream.model import sample_ar1_path


@pytest.fixture(scope="module")
def decoder():
    return load_stream_decoder(None)


def test_shipped_stream_weights_load_and_match_the_registration(decoder):
    registration = load_registry().decoders.get("musicvae-stream")
    assert decoder.latent_spec == registration.latent_spec
    assert decoder.latent_spec.steps_per_latent == 4
    assert decoder.provenance()["weights"] == "shipped:musicvae-stream.pt"
    check_decoder(decoder)


def _prior_paths(model, n: int, beats: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return sample_ar1_path(n, beats, model.config.z_size, model.config.rho, generator).numpy()


def test_a_latent_jump_moves_the_output_within_a_beat_and_a_small_wobble_does_not(decoder):
    model = decoder.model
    before = _prior_paths(model, 64, 8, seed=0)
    jumped_to = _prior_paths(model, 64, 8, seed=1)
    with torch.no_grad():  # both runs read the same events: the model's own greedy line under `before`
        events = model.decode(torch.from_numpy(before), temperature=0.0)[0].numpy()
    probabilities = stream_probabilities(model)
    jump = jump_tv(probabilities, events, before, jumped_to, 4)
    assert jump[:, :16].max() == 0.0  # nothing changes before the jump
    lag = response_lag(jump, 16, 0.25)
    assert lag.lag_median <= 4 and lag.reached > 0.8
    wobble = jump_tv(probabilities, events, before, before + 0.05 * jumped_to, 4)
    assert response_lag(wobble, 16, 0.25).reached < 0.2


def test_prior_samples_over_eight_bars_are_tonal_lines(decoder):
    model = decoder.model
    with torch.no_grad():
        events = model.sample(32, 32, torch.Generator().manual_seed(0), temperature=0.5).numpy()
    figures = musicality(events)
    assert figures.empty < 0.1
    assert figures.in_scale > 0.85  # uniformly random pitches give about 0.6
    assert figures.mean_abs_interval < 5.0
