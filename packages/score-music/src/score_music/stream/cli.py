"""`score music train-stream` and `score music evaluate-stream`: the per-beat stream model's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from score_core.errors import ScoreError
from score_music.cli import OverwriteOption, _refuse_existing, _write_events, app

CacheOption = Annotated[Path | None, typer.Option(help="Window cache from `score music build-corpus`.")]


@app.command("train-stream")
def train_stream_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file (float16) to write when training ends.")],
    config: Annotated[str, typer.Option(help="Stream model configuration.")] = "stream-mel_beat",
    cache: CacheOption = None,
    checkpoints: Annotated[Path, typer.Option(help="Checkpoint directory (resume reads it).")] = Path(
        "stream-checkpoints"),
    steps: Annotated[int, typer.Option(min=1)] = 9000,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Default: the config's.")] = None,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 250,
    validate_every: Annotated[int, typer.Option(min=1)] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in --checkpoints.")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="Torch threads (default: torch's choice).")] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Train the per-beat stream VAE on the cached 2-bar windows, with checkpoints; write fp16 weights."""
    from score_music.corpus import augment_batch, default_cache_dir, load_windows
    from score_music.stream.train import StreamTrainSettings, train_stream
    from score_music.stream.weights import export_stream

    _refuse_existing(output, overwrite)
    cache_dir = cache or default_cache_dir()
    train_windows = load_windows(cache_dir, "train").astype(np.int64)
    valid_windows = load_windows(cache_dir, "valid").astype(np.int64)
    checkpoints.mkdir(parents=True, exist_ok=True)
    settings = StreamTrainSettings(
        config=config, steps=steps, batch_size=batch_size, seed=seed, checkpoint_dir=checkpoints,
        checkpoint_every=checkpoint_every, validate_every=validate_every, resume=resume, num_threads=threads,
    )

    def report(step: int, terms: dict[str, float], validation: object) -> None:
        if step % 100 == 0:
            print(f"step {step}: loss {terms['loss']:.2f} r {terms['r_loss']:.2f} kl {terms['kl']:.1f} "
                  f"acc {terms['accuracy']:.3f}", file=sys.stderr, flush=True)
        if validation is not None:
            print(f"valid {json.dumps(vars(validation))}", file=sys.stderr, flush=True)

    result = train_stream(settings, train_windows, valid_windows, progress=report, augment=augment_batch)
    last = result.validations[-1] if result.validations else None
    facts: dict[str, object] = {"steps": result.steps, "seed": seed, "training_windows": len(train_windows)}
    if last is not None:
        facts["validation"] = vars(last)
    export_stream(result.model, output, valid_windows[:4096], facts)
    typer.echo(f"{output}: {result.steps} steps in {result.wall_s:.0f} s" + (
        f", validation accuracy {last.accuracy:.3f} (free-running {last.sampled_accuracy:.3f})" if last else ""))


@app.command("sample-stream")
def sample_stream_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="MIDI file to write.")],
    count: Annotated[int, typer.Option("-n", min=1, max=256, help="Melodies to sample, one after another.")] = 1,
    bars: Annotated[int, typer.Option(min=1, max=64, help="Bars per melody (one latent per beat).")] = 8,
    temperature: Annotated[float, typer.Option(min=0.0)] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    tempo: Annotated[float, typer.Option(min=20, max=400)] = 120.0,
    weights: Annotated[Path | None, typer.Option(help="Stream weights (default: the shipped ones).")] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Sample melodies from the stream model: latent paths from the AR(1) prior, one latent per beat."""
    import torch

    from score_music.stream.shipped import stream_weights_path
    from score_music.stream.weights import load_stream_weights

    _refuse_existing(output, overwrite)
    model = load_stream_weights(weights or stream_weights_path())
    beats = bars * 16 // model.config.steps_per_latent
    events = model.sample(count, beats, torch.Generator().manual_seed(seed), temperature=temperature).numpy()
    notes = _write_events(events, output, tempo, [f"sample {i + 1}" for i in range(count)])
    typer.echo(f"{output}: {count} samples of {bars} bars, {notes} notes")


@app.command("evaluate-stream")
def evaluate_stream_command(
    weights: Annotated[Path | None, typer.Option(help="Stream weights (default: the shipped ones).")] = None,
    cache: CacheOption = None,
    split: Annotated[str, typer.Option(help="train, valid or test.")] = "test",
) -> None:
    """Held-out figures of a stream model: loss, KL, teacher-forced and free-running accuracy (JSON)."""
    import dataclasses

    from score_music.corpus import default_cache_dir, load_windows
    from score_music.stream.train import evaluate_stream
    from score_music.stream.weights import load_stream_weights

    if split not in ("train", "valid", "test"):
        raise ScoreError("--split", f"{split!r} is not train, valid or test")
    from score_music.stream.shipped import stream_weights_path

    model = load_stream_weights(weights or stream_weights_path())
    windows = load_windows(cache or default_cache_dir(), split).astype(np.int64)  # type: ignore[arg-type]
    figures = {"split": split, "windows": len(windows), **dataclasses.asdict(evaluate_stream(model, windows))}
    figures.pop("step")
    typer.echo(json.dumps(figures, indent=2))
