"""The stream model's prior, KL, trainer (resume) and weight files, with tiny models and synthetic windows."""

import numpy as np
import pytest
import torch

from score_core.errors import ScoreError
from score_music.stream.model import STREAM_CONFIGS, StreamVAE, ar1_kl, sample_ar1_path
from score_music.stream.train import StreamTrainSettings, train_stream
from score_music.stream.weights import load_stream_weights, save_stream_weights


def test_ar1_prior_has_unit_variance_and_autocorrelation_rho_to_the_lag():
    rho = 0.8
    paths = sample_ar1_path(4000, 12, 3, rho, torch.Generator().manual_seed(0)).numpy()
    assert paths.var(axis=(0, 2)) == pytest.approx(np.ones(12), abs=0.08)
    for lag in (1, 2, 4):
        corr = np.mean([np.corrcoef(paths[:, t, 0], paths[:, t + lag, 0])[0, 1] for t in range(12 - lag)])
        assert corr == pytest.approx(rho**lag, abs=0.03)


def test_ar1_kl_matches_a_monte_carlo_estimate_and_reduces_to_the_standard_kl_at_rho_zero():
    generator = torch.Generator().manual_seed(1)
    mu = torch.randn(2, 5, 3, generator=generator)
    sigma = 0.3 + torch.rand(2, 5, 3, generator=generator)
    standard = 0.5 * (mu.square() + sigma.square() - 1 - 2 * sigma.log()).sum(dim=(1, 2))
    assert torch.allclose(ar1_kl(mu, sigma, 0.0), standard, atol=1e-5)

    rho = 0.7
    z = mu + sigma * torch.randn(200_000, *mu.shape, generator=generator)
    log_q = torch.distributions.Normal(mu, sigma).log_prob(z).sum(dim=(-1, -2))
    first = torch.distributions.Normal(0.0, 1.0).log_prob(z[..., 0, :]).sum(-1)
    rest = torch.distributions.Normal(rho * z[..., :-1, :], (1 - rho**2) ** 0.5).log_prob(z[..., 1:, :])
    estimate = (log_q - first - rest.sum(dim=(-1, -2))).mean(dim=0)
    assert torch.allclose(ar1_kl(mu, sigma, rho), estimate, rtol=0.02, atol=0.05)


def test_decoder_is_causal_in_the_latents_and_reads_each_beats_latent():
    torch.manual_seed(0)
    model = StreamVAE(STREAM_CONFIGS["stream-tiny"]).eval()
    events = torch.randint(0, 90, (3, 32))
    z = torch.randn(3, 8, 4)
    jumped = z.clone()
    jumped[:, 5:] += 3.0
    inputs = torch.nn.functional.pad(model.one_hot(events)[:, :-1], (0, 0, 1, 0))
    a, b = model.logits_for_inputs(inputs, z), model.logits_for_inputs(inputs, jumped)
    assert torch.equal(a[:, :20], b[:, :20])  # steps of beats 0-4 never see beat 5's latent
    assert (a[:, 20] - b[:, 20]).abs().max() > 1e-3  # the first step of beat 5 does


def _windows(n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 90, size=(n, 32)).astype(np.int64)


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    windows = _windows()
    whole = train_stream(StreamTrainSettings(config="stream-tiny", steps=6, batch_size=8, seed=3), windows)
    first = StreamTrainSettings(config="stream-tiny", steps=3, batch_size=8, seed=3, checkpoint_dir=tmp_path,
                                checkpoint_every=3)
    train_stream(first, windows)
    resumed = train_stream(StreamTrainSettings(config="stream-tiny", steps=6, batch_size=8, seed=3,
                                               checkpoint_dir=tmp_path, resume=True), windows)
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_weights_round_trip_in_float16_and_reject_other_files(tmp_path):
    torch.manual_seed(0)
    model = StreamVAE(STREAM_CONFIGS["stream-tiny"]).eval()
    path = save_stream_weights(model, tmp_path / "stream.pt")
    loaded = load_stream_weights(path)
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.allclose(loaded.state_dict()[key], value, atol=2e-3), key
    assert all(v.dtype == torch.float16 for v in torch.load(path, weights_only=True)["state_dict"].values())
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(ScoreError, match="not a score-musicvae-stream weights file"):
        load_stream_weights(other)


def test_a_weights_file_declaring_huge_or_negative_sizes_or_nan_is_refused_before_allocating(tmp_path):
    import json

    model = StreamVAE(STREAM_CONFIGS["stream-tiny"]).eval()
    path = save_stream_weights(model, tmp_path / "stream.pt")
    blob = torch.load(path, weights_only=True)
    cases = {
        "huge": ({**model.config.to_dict(), "decoder_sizes": [200_000]}, None, "over the limit"),
        "negative": ({**model.config.to_dict(), "z_size": -4}, None, "positive whole number"),
        "nan": (model.config.to_dict(), "nan", "NaN"),
    }
    for name, (config, poison, message) in cases.items():
        state = dict(blob["state_dict"])
        if poison:
            key = next(iter(state))
            state[key] = torch.full_like(state[key], float("nan"))
        hostile = tmp_path / f"{name}.pt"
        torch.save({**blob, "config": json.dumps(config), "state_dict": state}, hostile)
        assert hostile.stat().st_size < 2_000_000
        with pytest.raises(ScoreError, match=message):
            load_stream_weights(hostile)
