"""MusicVAE model: shapes, seeding, argmax at temperature 0, state carry, slerp, KL math, weight files."""

from __future__ import annotations

import math

import pytest
import torch

from score_core.errors import ScoreError
from score_music.model import CONFIGS, MusicVAE, get_config, kl_divergence, load_weights, save_weights, slerp
from score_music.train import beta_at, kl_cost, lr_at, sampling_probability_at


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread; two threads on two shared cores spin-wait badly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> MusicVAE:
    torch.manual_seed(0)
    return MusicVAE(get_config("tiny")).eval()


@pytest.fixture(scope="module")
def tiny_hier() -> MusicVAE:
    torch.manual_seed(1)
    return MusicVAE(get_config("tiny-hierdec")).eval()


def test_configs_carry_magentas_values():
    small = get_config("cat-mel_2bar_small")
    assert (small.encoder_sizes, small.z_size, small.decoder_sizes) == ((512,), 256, (256, 256))
    assert (small.max_beta, small.free_bits, small.beta_rate) == (0.2, 0.0, 0.99999)
    assert (small.sampling_schedule, small.sampling_rate, small.batch_size) == ("inverse_sigmoid", 1000.0, 512)
    big = get_config("cat-mel_2bar_big")
    assert (big.encoder_sizes, big.z_size, big.decoder_sizes, big.max_beta) == ((2048,), 512, (2048,) * 3, 0.5)
    hier = get_config("hierdec-mel_16bar")
    assert (hier.encoder_sizes, hier.conductor_sizes, hier.decoder_sizes) == ((2048, 2048), (1024, 1024), (1024,) * 2)
    assert (hier.seq_len, hier.num_segments, hier.segment_steps, hier.free_bits) == (256, 16, 16, 256.0)
    with pytest.raises(ScoreError, match="did you mean cat-mel_2bar_small"):
        get_config("cat-mel_2bar_smal")
    assert set(CONFIGS) >= {"tiny", "tiny-hierdec"}


def test_shapes(tiny, tiny_hier):
    events = torch.randint(0, 90, (3, 32), generator=torch.Generator().manual_seed(0))
    for model in (tiny, tiny_hier):
        mu, sigma = model.encode(events)
        assert mu.shape == sigma.shape == (3, model.config.z_size) and bool((sigma > 0).all())
        assert model.teacher_forced_logits(events, mu).shape == (3, 32, 90)
        assert model.reconstruct(events).shape == (3, 32)
        assert model.sample(2, torch.Generator().manual_seed(0)).shape == (2, 32)


def test_sampling_is_seeded_and_needs_a_generator(tiny, tiny_hier):
    for model in (tiny, tiny_hier):
        a = model.sample(4, torch.Generator().manual_seed(7), temperature=1.0)
        b = model.sample(4, torch.Generator().manual_seed(7), temperature=1.0)
        c = model.sample(4, torch.Generator().manual_seed(8), temperature=1.0)
        assert torch.equal(a, b) and not torch.equal(a, c)
        with pytest.raises(ValueError, match="Generator"):
            model.decode(torch.zeros(1, model.config.z_size), temperature=0.5)


def test_temperature_zero_is_argmax_of_the_teacher_forced_logits(tiny, tiny_hier):
    for model in (tiny, tiny_hier):
        z = torch.randn(3, model.config.z_size, generator=torch.Generator().manual_seed(3))
        events, _ = model.decode(z, temperature=0.0)
        again, _ = model.decode(z, temperature=0.0, generator=torch.Generator().manual_seed(99))
        assert torch.equal(events, again)
        with torch.no_grad():  # feeding the argmax path back as teacher input reproduces it
            assert torch.equal(model.teacher_forced_logits(events, z).argmax(-1), events)


def test_decoding_in_two_halves_with_carried_state_equals_one_pass(tiny):
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(4))
    whole, _ = tiny.decode(z, steps=32)
    first, state = tiny.decode(z, steps=16)
    second, _ = tiny.decode(z, steps=16, first_input=first[:, -1], state=state)
    assert torch.equal(torch.cat([first, second], dim=1), whole)
    one_hot = torch.nn.functional.one_hot(first[:, -1], 90).float()
    assert torch.equal(tiny.decode(z, steps=16, first_input=one_hot, state=state)[0], second)


def test_hierarchical_first_input_changes_only_what_it_should(tiny_hier):
    z = torch.randn(2, 6, generator=torch.Generator().manual_seed(5))
    whole, _ = tiny_hier.decode(z)
    first_bar, _ = tiny_hier.decode(z, steps=16)
    assert torch.equal(first_bar, whole[:, :16])
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_hier.decode(z, steps=20)


def test_scheduled_sampling_at_probability_zero_is_teacher_forcing(tiny):
    events = torch.randint(0, 90, (4, 32), generator=torch.Generator().manual_seed(1))
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        teacher = tiny.teacher_forced_logits(events, z)
        scheduled = tiny.scheduled_logits(events, z, 0.0, torch.Generator().manual_seed(0))
        sampled = tiny.scheduled_logits(events, z, 1.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(scheduled, teacher, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sampled[:, 0], teacher[:, 0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(sampled[:, 5:], teacher[:, 5:], atol=1e-3)


def test_slerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    b = b / b.norm() * a.norm()
    path = slerp(a, b, 7)
    assert path.shape == (7, 16)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path.norm(dim=1), torch.full((7,), float(a.norm())))
    # The midpoint bisects the angle.
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
    assert math.isclose(cos(path[3], a), cos(path[3], b), rel_tol=1e-5)
    parallel = slerp(a, 2 * a, 3)  # no angle: falls back to a straight line
    torch.testing.assert_close(parallel[1], 1.5 * a)


def test_kl_free_bits_and_schedules_on_known_numbers():
    assert float(kl_divergence(torch.zeros(1, 4), torch.ones(1, 4))) == 0.0
    mu, sigma = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, math.e]])
    expected = 0.5 * 1.0 + 0.5 * (math.e**2 - 1.0 - 2.0)
    assert math.isclose(float(kl_divergence(mu, sigma)), expected, rel_tol=1e-6)
    _, cost = kl_cost(mu, sigma, free_bits=1.0)
    assert math.isclose(float(cost), expected - math.log(2.0), rel_tol=1e-6)
    _, nothing = kl_cost(mu, sigma, free_bits=10.0)
    assert float(nothing) == 0.0
    small = get_config("cat-mel_2bar_small")
    assert beta_at(small, 0) == 0.0
    assert math.isclose(beta_at(small, 100_000), (1 - 0.99999**100_000) * 0.2)
    assert math.isclose(beta_at(small, 100_000), 0.1264, abs_tol=1e-4)
    assert lr_at(small, 0) == pytest.approx(1e-3)
    assert lr_at(small, 10_000) == pytest.approx(0.99e-3 * 0.9999**10_000 + 1e-5)
    assert lr_at(small, 10**7) == pytest.approx(1e-5)
    assert sampling_probability_at(small, 0) == pytest.approx(1 - 1000 / 1001)
    assert sampling_probability_at(small, round(1000 * math.log(1000))) == pytest.approx(0.5, abs=1e-3)
    assert sampling_probability_at(small, 10**7) == 1.0
    assert sampling_probability_at(get_config("hierdec-mel_16bar"), 5000) == 0.0
    assert beta_at(get_config("hierdec-mel_16bar"), 1) == 0.2  # Magenta's default beta_rate 0: no annealing


def test_weights_round_trip_and_mismatches(tiny, tmp_path):
    path = save_weights(tiny, tiny.config, tmp_path / "tiny.pt")
    model, config = load_weights(path, expected="tiny")
    assert config == tiny.config
    for key, value in tiny.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    half = save_weights(tiny, tiny.config, tmp_path / "half.pt", dtype=torch.float16)
    model16, _ = load_weights(half)
    assert next(model16.parameters()).dtype == torch.float32
    with pytest.raises(ScoreError, match=r"weights are config 'tiny' .* expected 'cat-mel_2bar_small'"):
        load_weights(path, expected="cat-mel_2bar_small")
    torch.save({"state_dict": {}, "format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ScoreError, match="not a score-musicvae weights file"):
        load_weights(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ScoreError, match="not a readable weights file"):
        load_weights(tmp_path / "junk.pt")
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["encoder.mu.weight"] = torch.zeros(3, 3)
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(ScoreError, match=r"tensor encoder.mu.weight has shape \(3, 3\)"):
        load_weights(tmp_path / "bad.pt")
    with pytest.raises(ScoreError, match="not config 'cat-mel_2bar_small'"):
        save_weights(tiny, get_config("cat-mel_2bar_small"), tmp_path / "x.pt")


def test_safetensors_weights(tiny, tmp_path):
    pytest.importorskip("safetensors", reason="safetensors not installed")
    path = save_weights(tiny, tiny.config, tmp_path / "tiny.safetensors", dtype=torch.float16)
    model, config = load_weights(path, expected=tiny.config)
    assert config.name == "tiny"
    torch.testing.assert_close(model.encoder.mu.weight, tiny.encoder.mu.weight, atol=1e-3, rtol=1e-3)
    with pytest.raises(ScoreError, match="expected 'tiny-hierdec'"):
        load_weights(path, expected="tiny-hierdec")


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"encoder_sizes": [10**7]}, r"parameters, above the limit"),
        ({"decoder_sizes": [16, -16]}, r"decoder_sizes must hold positive whole numbers"),
        ({"learning_rate": float("nan")}, r"learning_rate must be a finite number"),
        ({"name": "mystery"}, r"unknown config 'mystery'"),
        ({"encoder_sizes": [17]}, r"config 'tiny' with other layer sizes"),
    ],
)
def test_a_hostile_config_is_refused_before_any_tensor_is_allocated(tiny, tmp_path, change, cause):
    import json

    blob = torch.load(save_weights(tiny, tiny.config, tmp_path / "tiny.pt"), weights_only=True)
    blob["config"] = json.dumps({**json.loads(blob["config"]), **change})
    torch.save(blob, tmp_path / "hostile.pt")
    with pytest.raises(ScoreError, match=r"hostile\.pt: .*" + cause):
        load_weights(tmp_path / "hostile.pt")


def test_non_finite_weights_are_refused(tiny, tmp_path):
    blob = torch.load(save_weights(tiny, tiny.config, tmp_path / "tiny.pt"), weights_only=True)
    blob["state_dict"]["decoder.output_projection.bias"][3] = float("nan")
    torch.save(blob, tmp_path / "nan.pt")
    with pytest.raises(ScoreError, match=r"nan\.pt: tensor decoder.output_projection.bias holds NaN"):
        load_weights(tmp_path / "nan.pt")
