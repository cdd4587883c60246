"""`score vision …` and `score run --vision pixelvae` through the real installed `score` command."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from score_core.media.synthetic import write_test_video
from score_core.testing import SCORE, run_score

TINY_PIXELCNN = ("--channels", "8", "--layers", "2", "--kernel", "3", "--batch-size", "16")
TINY_VAE = ("--latent", "6", "--width", "8", "--pixel-layers", "1", "--pixel-channels", "6", "--batch-size", "8")


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("score: error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for index in range(3):
        write_test_video(folder / f"clip{index}.mp4", duration=4.0, size=(48, 64), cuts=(1.5 + index * 0.5,))
    return folder


@pytest.fixture(scope="module")
def pixelvae_file(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("models") / "pixelvae.pt"
    result = run_score("vision", "train-pixelvae", videos, "-o", model, "--size", "16", "--fps", "4",
                       "--steps", "12", "--eval-every", "6", *TINY_VAE,
                       env={"SCORE_CACHE": str(model.parent / "cache")})
    assert result.returncode == 0, result.stderr
    assert "validation" in result.stdout and "kl_bits" in result.stdout
    return model


def test_train_pixelcnn_on_digits_then_sample_and_complete(tmp_path: Path) -> None:
    model = tmp_path / "gated.pt"
    result = run_score("vision", "train-pixelcnn", "mnist", "-o", model, "--steps", "10", "--eval-every", "5",
                       *TINY_PIXELCNN)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{model}: 10 steps, validation ")
    assert "step 5: validation" in result.stderr  # the progress goes to stderr
    again = run_score("vision", "train-pixelcnn", "mnist", "-o", model, "--steps", "10", *TINY_PIXELCNN)
    assert again.returncode == 2 and "already exists" in one_error_line(again.stderr)

    grid = tmp_path / "grid.png"
    result = run_score("vision", "sample", model, "-n", "4", "-o", grid, "--scale", "1")
    assert result.returncode == 0, result.stderr
    assert Image.open(grid).size == (2 * 28 + 1, 2 * 28 + 1)
    reference = tmp_path / "reference.png"
    result = run_score("vision", "sample", model, "-n", "4", "-o", reference, "--scale", "1", "--sampler", "reference")
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.array(Image.open(reference)), np.array(Image.open(grid)))
    completed = tmp_path / "completed.png"
    result = run_score("vision", "sample", model, "-n", "3", "--complete", "mnist", "-o", completed, "--scale", "1")
    assert result.returncode == 0, result.stderr
    picture = Image.open(completed)
    assert picture.size == (3 * 28 + 2, 2 * 28 + 1)  # originals above, completions below
    pixels = torch.from_numpy(np.array(picture))
    assert torch.equal(pixels[:14], pixels[29:43])  # the top halves are kept


def test_training_resumes_after_being_killed(tmp_path: Path) -> None:
    model = tmp_path / "killed.pt"
    process = subprocess.Popen(
        [SCORE, "vision", "train-pixelcnn", "mnist", "-o", str(model), "--steps", "100000", "--eval-every", "3",
         *TINY_PIXELCNN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not model.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = torch.load(model, weights_only=True)["step"]
    assert stopped_at >= 3 and stopped_at % 3 == 0
    result = run_score("vision", "train-pixelcnn", "mnist", "-o", model, "--resume", "--steps",
                       str(stopped_at + 3), "--eval-every", "3", *TINY_PIXELCNN)
    assert result.returncode == 0, result.stderr
    blob = torch.load(model, weights_only=True)
    assert blob["step"] == stopped_at + 3
    assert [entry["step"] for entry in blob["history"]][-2:] == [stopped_at, stopped_at + 3]


def test_score_run_with_the_pixelvae_encoder(pixelvae_file: Path, videos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run_score("run", videos / "clip0.mp4", "--vision", "pixelvae", "--vision-weights", pixelvae_file,
                       "--music", "arpeggio", "-o", out, "--no-audio")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((out / "clip0.json").read_text())
    encoder = sidecar["provenance"]["encoder"]
    assert encoder["name"] == "pixelvae" and encoder["model"] == "PixelVAE" and encoder["config"]["latent"] == 6
    assert (out / "clip0.mid").stat().st_size > 0


def test_the_pixelvae_encoder_needs_a_model_file_of_its_kind(tmp_path: Path, videos: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run_score("run", videos / "clip0.mp4", "--vision", "pixelvae", "--music", "arpeggio", "-o", out)
    assert result.returncode == 2 and "needs --vision-weights" in one_error_line(result.stderr)
    gated = tmp_path / "gated.pt"
    assert run_score("vision", "train-pixelcnn", "mnist", "-o", gated, "--steps", "1", "--eval-every", "1",
                     *TINY_PIXELCNN).returncode == 0
    result = run_score("run", videos / "clip0.mp4", "--vision", "pixelvae", "--vision-weights", gated,
                       "--music", "arpeggio", "-o", out)
    line = one_error_line(result.stderr)
    assert result.returncode == 2 and "is a gated PixelCNN model, not a PixelVAE" in line
    result = run_score("vision", "train-pixelvae", "mnist", "-o", gated, "--resume", *TINY_VAE)
    assert result.returncode == 2 and "is a gated PixelCNN model, not a PixelVAE" in one_error_line(result.stderr)
    assert list(out.iterdir()) == []


def test_bad_training_inputs_fail_in_one_line(tmp_path: Path, videos: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here")
    model = tmp_path / "m.pt"
    result = run_score("vision", "train-pixelcnn", empty, "-o", model, *TINY_PIXELCNN)
    assert result.returncode == 2 and "has no images" in one_error_line(result.stderr)
    result = run_score("vision", "train-pixelvae", videos, "-o", model, "--size", "30", *TINY_VAE)
    assert result.returncode == 2 and "multiples of 4" in one_error_line(result.stderr)
    result = run_score("vision", "train-pixelcnn", "mnist", "-o", model, "--size", "32", *TINY_PIXELCNN)
    assert result.returncode == 2 and "28x28" in one_error_line(result.stderr)
    not_a_model = tmp_path / "grid.pt"
    not_a_model.write_bytes(b"\x89PNG not a model")
    result = run_score("vision", "sample", not_a_model, "-o", tmp_path / "g.png")
    assert result.returncode == 2 and "not a score pixel-model file" in one_error_line(result.stderr)
    result = run_score("vision", "sample", not_a_model, "-o", tmp_path / "g.png", "--sampler", "quick")
    assert result.returncode == 2 and "--sampler quick: must be one of fast, reference" in one_error_line(result.stderr)
    assert not model.exists() and not (tmp_path / "g.png").exists()


def test_validation_videos_names_the_held_out_clips(tmp_path: Path, videos: Path) -> None:
    model = tmp_path / "vae.pt"
    env = {"SCORE_CACHE": str(tmp_path / "cache")}
    result = run_score("vision", "train-vae", videos, "-o", model, "--size", "16", "--fps", "4", "--steps", "2",
                       "--eval-every", "2", "--validation-videos", "clip2.mp4, clip0.mp4", *TINY_VAE, env=env)
    assert result.returncode == 0, result.stderr
    assert torch.load(model, weights_only=True)["data"]["validation_videos"] == ["clip0.mp4", "clip2.mp4"]
    result = run_score("vision", "train-vae", videos, "-o", tmp_path / "other.pt", "--size", "16",
                       "--validation-videos", "clip9.mp4", *TINY_VAE, env=env)
    assert result.returncode == 2 and "clip9.mp4: no such video" in one_error_line(result.stderr)
    result = run_score("vision", "train-pixelcnn", "mnist", "-o", tmp_path / "digits.pt",
                       "--validation-videos", "clip0.mp4", *TINY_PIXELCNN)
    assert result.returncode == 2 and "is not a folder of videos" in one_error_line(result.stderr)
