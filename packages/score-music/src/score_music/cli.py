"""`score music …`: sample, interpolate, reconstruct, build the corpus cache, train, import Magenta weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from score_core.errors import ScoreError

app = typer.Typer(help="MusicVAE: sample, interpolate, reconstruct, train, import Magenta checkpoints.",
                  no_args_is_help=True)

WeightsOption = Annotated[str | None, typer.Option("--weights", help="Weights file (default: the shipped model).")]
OverwriteOption = Annotated[bool, typer.Option(help="Replace an existing output file.")]


def _decoder(weights: str | None, model: str = "melody") -> Any:
    from score_music.loading import load_decoder, load_drums_decoder

    if model == "drums":
        return load_drums_decoder(weights)
    if model != "melody":
        raise ScoreError("--model", f"{model!r} is not melody or drums")
    return load_decoder(weights)


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise ScoreError(str(path), "already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise ScoreError(str(path), "its directory does not exist")


def _write_events(events: np.ndarray, path: Path, tempo: float, labels: list[str], drums: bool = False) -> int:
    """Write rows of events (one per 2-bar segment) as one MIDI file, a marker per row; returns the note count.
    With ``drums`` the events are drum events, written as GM drum notes on channel 10."""
    from score_core.contracts import Marker, Score
    from score_core.files import atomic_write_bytes
    from score_core.midi import score_to_midi_bytes
    from score_music.drums import drum_events_to_notes
    from score_music.melody import STEPS_PER_QUARTER, events_to_notes

    step = 60.0 / tempo / STEPS_PER_QUARTER
    duration = events.size * step
    flat = events.reshape(-1).astype(np.int64)
    notes = (drum_events_to_notes(flat, qpm=tempo, end_time=duration) if drums
             else events_to_notes(flat, qpm=tempo, end_time=duration))
    markers = tuple(Marker(time=i * events.shape[1] * step, text=label) for i, label in enumerate(labels))
    score = Score(notes=tuple(notes), tempo_bpm=tempo, markers=markers, duration=duration)
    atomic_write_bytes(path, score_to_midi_bytes(score))
    return len(notes)


def _first_window(path: Path, steps: int) -> np.ndarray:
    melody = _melody(path)
    if melody.size < steps or not np.any(melody[:steps] >= 2):
        raise ScoreError(str(path), f"has no melody in its first {steps // 16} bars (programs 0-31)")
    return melody[:steps]


def _windows(cache_dir: Path, split: str) -> np.ndarray:
    """The cache's windows of ``split`` as int64; a cache without any is a one-line refusal."""
    from score_music.corpus import load_windows

    windows = load_windows(cache_dir, split).astype(np.int64)  # type: ignore[arg-type]
    if not len(windows):
        raise ScoreError(str(cache_dir), f"holds no {split} windows; build the corpus with `score music build-corpus`")
    return windows


def _melody(path: Path) -> np.ndarray:
    from score_music.extract import midi_melody

    if not path.is_file():
        raise ScoreError(str(path), "no such file")
    return midi_melody(path)


@app.command()
def sample(
    output: Annotated[Path, typer.Option("--output", "-o", help="MIDI file to write.")],
    count: Annotated[int, typer.Option("-n", min=1, max=256, help="Segments to sample from the prior.")] = 4,
    temperature: Annotated[float, typer.Option(min=0.0)] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    tempo: Annotated[float, typer.Option(min=20, max=400)] = 120.0,
    weights: WeightsOption = None,
    model: Annotated[str, typer.Option("--model", help="melody or drums (GM drums on channel 10).")] = "melody",
    overwrite: OverwriteOption = False,
) -> None:
    """Sample COUNT melodies (or drum grooves) from the prior, one after another in one MIDI file."""
    import torch

    _refuse_existing(output, overwrite)
    decoder = _decoder(weights, model)
    z = torch.randn(count, decoder.latent_spec.size, generator=torch.Generator().manual_seed(seed)).numpy()
    events = decoder.segment_events(z, temperature=temperature, seed=seed)
    notes = _write_events(events, output, tempo, [f"sample {i + 1}" for i in range(count)], drums=model == "drums")
    typer.echo(f"{output}: {count} samples, {notes} notes")


@app.command()
def interpolate(
    first: Annotated[Path, typer.Argument(help="MIDI file whose first 2 bars start the interpolation.")],
    second: Annotated[Path, typer.Argument(help="MIDI file whose first 2 bars end it.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MIDI file to write.")],
    count: Annotated[int, typer.Option("-n", min=2, max=64, help="Steps, both ends included.")] = 5,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    seed: Annotated[int, typer.Option()] = 0,
    tempo: Annotated[float, typer.Option(min=20, max=400)] = 120.0,
    weights: WeightsOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Encode two melodies and decode COUNT points on the great circle between their latents (slerp)."""
    import torch

    from score_music.model.vae import slerp

    _refuse_existing(output, overwrite)
    decoder = _decoder(weights)
    steps = decoder.latent_spec.bars_per_segment * 16
    windows = np.stack([_first_window(first, steps), _first_window(second, steps)]).astype(np.int64)
    mu, shifts = decoder.encode_windows(windows)
    path = slerp(torch.from_numpy(mu[0]), torch.from_numpy(mu[1]), count).numpy()
    events = decoder.segment_events(path, temperature=temperature, seed=seed)
    if decoder.key_normalised:  # back in the first melody's key
        from score_music.keynorm import transpose_windows

        events = transpose_windows(events, np.full(len(events), -shifts[0]))
    notes = _write_events(events, output, tempo, [f"step {i + 1}/{count}" for i in range(count)])
    typer.echo(f"{output}: {count} steps from {first.name} to {second.name}, {notes} notes")


@app.command()
def reconstruct(
    source: Annotated[Path, typer.Argument(help="MIDI file whose melody is encoded and decoded.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MIDI file to write.")],
    tempo: Annotated[float, typer.Option(min=20, max=400)] = 120.0,
    weights: WeightsOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Encode each 2-bar window of a melody to its posterior mean and decode it greedily; print the accuracy."""

    _refuse_existing(output, overwrite)
    decoder = _decoder(weights)
    steps = decoder.latent_spec.bars_per_segment * 16
    melody = _melody(source)
    if melody.size < steps:
        raise ScoreError(str(source), f"melody is shorter than {steps // 16} bars")
    windows = melody[: melody.size // steps * steps].reshape(-1, steps).astype(np.int64)
    events = decoder.reconstruct(windows)
    accuracy = float((events == windows).mean())
    notes = _write_events(events, output, tempo, [f"bars {2 * i + 1}-{2 * i + 2}" for i in range(len(windows))])
    typer.echo(f"{output}: {len(windows)} windows, {notes} notes, step accuracy {accuracy:.3f}")


@app.command("build-corpus")
def build_corpus(
    cache: Annotated[Path | None, typer.Option(help="Cache directory (default ~/.cache/score/musicvae-windows).")]
    = None,
    collections: Annotated[str | None, typer.Option(help="Comma-separated collections (default: all).")] = None,
    pop909: Annotated[Path | None, typer.Option(
        help="POP909 folder (default: $SCORE_POP909 or the shared data folder).")] = None,
    duple_only: Annotated[bool, typer.Option(
        "--duple-only/--all-metres", help="Keep only tunes in 2/4, 4/4, 2/2, 4/2 (default: every metre).")] = False,
) -> None:
    """Extract 2-bar training windows from the music21 corpus and POP909 once and cache them (minutes)."""
    from score_music.corpus import COLLECTIONS, build_cache

    names = [c.strip() for c in collections.split(",")] if collections else list(COLLECTIONS)

    def report(collection: str, done: int, total: int) -> None:
        if done == total or done % 200 == 0:
            print(f"{collection}: {done}/{total} files", file=sys.stderr)

    if pop909 is not None and not pop909.is_dir():
        raise ScoreError(str(pop909), "no such POP909 folder")
    summary = build_cache(names, cache, progress=report, duple_only=duple_only, pop909_root=pop909)
    typer.echo(str(summary))


@app.command("build-groove")
def build_groove(
    cache: Annotated[Path | None, typer.Option(help="Cache directory (default ~/.cache/score/groove-windows).")]
    = None,
    data: Annotated[Path | None, typer.Option(help="Groove MIDI Dataset folder (holding info.csv).")] = None,
) -> None:
    """Extract 2-bar drum windows from the Groove MIDI Dataset (its official split) and cache them."""
    from score_music.groove import build_groove_cache

    typer.echo(str(build_groove_cache(data, cache)))


@app.command("build-groove-library")
def build_groove_library(
    output: Annotated[Path, typer.Option("--output", "-o", help="Library file to write (NAME.grooves.npz beside "
                                                                "the drums weights is where the band looks).")],
    cache: Annotated[Path | None, typer.Option(help="Groove window cache (`score music build-groove`).")] = None,
    weights: Annotated[Path | None, typer.Option(help="Drums weights (default: the shipped drums model).")] = None,
    windows: Annotated[int, typer.Option(min=2, help="Training windows to keep, drawn at random.")] = 4096,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: OverwriteOption = False,
) -> None:
    """Posterior means of Groove MIDI training windows under the drums model: the grooves the band plays."""
    from score_music.groove import load_groove_split
    from score_music.groove_library import posterior_means, save_library
    from score_music.loading import load_drums_decoder

    _refuse_existing(output, overwrite)
    decoder = load_drums_decoder(str(weights) if weights else None)
    train_windows = load_groove_split(cache, "train")
    chosen = np.sort(np.random.default_rng(seed).choice(len(train_windows), min(windows, len(train_windows)),
                                                        replace=False))
    means = posterior_means(decoder.model, train_windows[chosen])
    save_library(output, means, {"windows": len(chosen), "seed": seed, "split": "train",
                                 "weights_sha256": decoder.provenance()["weights_sha256"]})
    typer.echo(f"{output}: {len(chosen)} grooves of {len(train_windows)} training windows")


@app.command()
def train(
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file to write when training ends.")],
    config: Annotated[str | None, typer.Option(
        help="Model configuration (default: cat-mel_2bar_small; drums: cat-drums_2bar_lite).")] = None,
    model: Annotated[str, typer.Option(
        "--model", help="melody (music21 corpus windows) or drums (Groove MIDI windows).")] = "melody",
    cache: Annotated[Path | None, typer.Option(
        help="Window cache from `score music build-corpus` (drums: `score music build-groove`).")] = None,
    checkpoints: Annotated[Path, typer.Option(help="Checkpoint directory (resume reads it).")] = Path(
        "musicvae-checkpoints"),
    steps: Annotated[int, typer.Option(min=1)] = 20000,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Default: the config's.")] = None,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 500,
    validate_every: Annotated[int, typer.Option(min=1)] = 500,
    scheduled_sampling: Annotated[str, typer.Option(help="exact, parallel or off.")] = "exact",
    seed: Annotated[int, typer.Option()] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in --checkpoints.")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="Torch threads (default: torch's choice).")] = None,
    init_weights: Annotated[Path | None, typer.Option(
        help="Start from these weights of the same config (e.g. the shipped model) instead of fresh ones.")] = None,
    start_step: Annotated[int | None, typer.Option(
        min=0, help="Step the schedules go on from with --init-weights (default: the steps on its card).")] = None,
    key_normalise: Annotated[bool, typer.Option(
        "--key-normalise/--all-keys", help="Melody: move each window to C major / A minor by its own key, "
                                           "augment by a few semitones (default), or keep keys, augment ±5.")] = True,
    overwrite: OverwriteOption = False,
) -> None:
    """Train a MusicVAE on the cached corpus windows, with checkpoints; write the weights and their card."""
    from score_music.corpus import augment_batch, default_cache_dir
    from score_music.export import export_weights
    from score_music.train import TrainSettings
    from score_music.train import train as run_training

    _refuse_existing(output, overwrite)
    if scheduled_sampling not in ("exact", "parallel", "off"):
        raise ScoreError("--scheduled-sampling", f"{scheduled_sampling!r} is not exact, parallel or off")
    augment: Any = augment_batch
    if model == "drums":
        from score_music.groove import load_groove_split

        config = config or "cat-drums_2bar_lite"
        augment = None  # drums have no key to transpose
        train_windows = load_groove_split(cache, "train")
        valid_windows = load_groove_split(cache, "valid")
    elif model == "melody":
        config = config or "cat-mel_2bar_small"
        cache_dir = cache or default_cache_dir()
        train_windows = _windows(cache_dir, "train")
        valid_windows = _windows(cache_dir, "valid")
        if key_normalise:
            from score_music.keynorm import augment_near_key, normalise_windows

            train_windows, valid_windows = normalise_windows(train_windows)[0], normalise_windows(valid_windows)[0]
            augment = augment_near_key
    else:
        raise ScoreError("--model", f"{model!r} is not melody or drums")
    key_normalised = model == "melody" and key_normalise
    if init_weights is not None and not init_weights.is_file():
        raise ScoreError(str(init_weights), "no such weights file")
    if init_weights is not None and start_step is None:
        from score_music.loading import card_path

        card = card_path(init_weights)
        start_step = int(json.loads(card.read_text()).get("steps", 0)) if card.is_file() else 0
    checkpoints.mkdir(parents=True, exist_ok=True)
    settings = TrainSettings(
        config=config, steps=steps, batch_size=batch_size, seed=seed, checkpoint_dir=checkpoints,
        checkpoint_every=checkpoint_every, validate_every=validate_every,
        scheduled_sampling=scheduled_sampling,  # type: ignore[arg-type]
        resume=resume, num_threads=threads, init_weights=init_weights, start_step=start_step or 0,
        key_normalised=key_normalised,
    )
    with _progress(steps) as report:
        result = run_training(settings, train_windows, valid_windows, progress=report, augment=augment)
    last = result.validations[-1] if result.validations else None
    facts: dict[str, Any] = {"steps": result.steps, "seed": seed, "training_windows": len(train_windows),
                             "key_normalised": key_normalised}
    if last is not None:
        facts["validation"] = {"loss": last.loss, "kl": last.kl, "accuracy": last.accuracy,
                               "sampled_accuracy": last.sampled_accuracy}
    export_weights(result.model, output, valid_windows[:4096], facts)
    typer.echo(f"{output}: {result.steps} steps in {result.wall_s:.0f} s" + (
        f", validation accuracy {last.accuracy:.3f}" if last else ""))


@app.command("export-checkpoint")
def export_checkpoint(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint.pt written by `score music train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file to write (.pt), with its card.")],
    model: Annotated[str, typer.Option("--model", help="melody or drums: whose validation windows order the "
                                                       "latent dimensions.")] = "melody",
    cache: Annotated[Path | None, typer.Option(help="Window cache of that model's data.")] = None,
    half: Annotated[bool, typer.Option("--fp16", help="Store the weights as float16.")] = False,
    overwrite: OverwriteOption = False,
) -> None:
    """Write the weights of a training checkpoint (e.g. while training still runs) as a loadable weights file."""
    from score_music.export import export_weights
    from score_music.model import MusicVAE, MusicVAEConfig
    from score_music.train import load_checkpoint

    _refuse_existing(output, overwrite)
    blob = load_checkpoint(checkpoint)
    net = MusicVAE(MusicVAEConfig.from_dict(blob["config"]))
    net.load_state_dict(blob["model"])
    if model == "drums":
        from score_music.groove import load_groove_split

        valid = load_groove_split(cache, "valid")
    else:
        from score_music.corpus import default_cache_dir, load_windows

        valid = load_windows(cache or default_cache_dir(), "valid").astype(np.int64)
    facts = {"steps": int(blob["step"]), "seed": blob["settings"].get("seed"),
             "key_normalised": bool(blob["settings"].get("key_normalised", False))}
    if facts["key_normalised"]:
        from score_music.keynorm import normalise_windows

        valid = normalise_windows(valid)[0]
    export_weights(net, output, valid[:4096], facts, half=half)
    typer.echo(f"{output}: {blob['config_name']} at step {blob['step']}" + (" (float16)" if half else ""))


@app.command()
def evaluate(
    weights: WeightsOption = None,
    cache: Annotated[Path | None, typer.Option(help="Window cache from `score music build-corpus`.")] = None,
    split: Annotated[str, typer.Option(help="train, valid or test.")] = "test",
    model: Annotated[str, typer.Option("--model", help="melody or drums (Groove MIDI windows).")] = "melody",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Held-out metrics of a model on cached windows: loss, KL, teacher-forced and free-running accuracy."""
    import dataclasses

    from score_music.corpus import default_cache_dir
    from score_music.train import evaluate as evaluate_model

    if split not in ("train", "valid", "test"):
        raise ScoreError("--split", f"{split!r} is not train, valid or test")
    decoder = _decoder(weights, model)
    if model == "drums":
        from score_music.groove import load_groove_split

        windows = load_groove_split(cache, split)
    else:
        windows = _windows(cache or default_cache_dir(), split)
        if decoder.key_normalised:
            from score_music.keynorm import normalise_windows

            windows = normalise_windows(windows)[0]
    figures = {"split": split, "windows": len(windows),
               **dataclasses.asdict(evaluate_model(decoder.model, windows))}
    figures.pop("step")
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        typer.echo("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))


@app.command("import-magenta")
def import_magenta_command(
    checkpoint: Annotated[Path, typer.Argument(help="TF checkpoint prefix, or magenta.js weights_manifest.json.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file to write (.pt).")],
    config: Annotated[str, typer.Option(help="Magenta configuration of the checkpoint.")] = "cat-mel_2bar_big",
    overwrite: OverwriteOption = False,
) -> None:
    """Convert a Magenta MusicVAE checkpoint into a weights file `score run --music-weights` reads."""
    from score_music.magenta import import_magenta
    from score_music.model.weights import save_weights

    _refuse_existing(output, overwrite)
    model = import_magenta(checkpoint, config)
    save_weights(model, model.config, output)
    typer.echo(f"{output}: {config} imported from {checkpoint}")


class _progress:
    """A rich progress bar on stderr fed by the trainer's progress callback."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self._bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                             TimeRemainingColumn(), console=console)
        self._task = self._bar.add_task("train", total=total, info="")
        self._console = console

    def __enter__(self) -> Any:
        self._bar.__enter__()

        def report(progress: Any) -> None:
            info = f"loss {progress.loss:.3f} kl {progress.kl:.1f} acc {progress.accuracy:.3f}"
            self._bar.update(self._task, completed=progress.step, info=info)
            if progress.validation is not None:
                v = progress.validation
                self._console.print(f"step {v.step}: valid loss {v.loss:.3f} kl {v.kl:.2f} acc {v.accuracy:.3f} "
                                    f"sampled acc {v.sampled_accuracy:.3f}")

        return report

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)  # type: ignore[arg-type]


from score_music.stream import cli as _stream_cli  # noqa: E402, F401  (registers the stream commands on `app`)
