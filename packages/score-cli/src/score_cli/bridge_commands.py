"""``score bridge``: fit a PCA bridge over a folder of videos, so a shot maps to the same latent in any video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from score_core.errors import ScoreError

app = typer.Typer(help="Fit and inspect feature-to-latent bridges.", no_args_is_help=True)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


@app.command()
def fit(
    folder: Annotated[Path, typer.Argument(help="Folder of videos to fit on (searched recursively).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the fitted bridge (.npz).")],
    vision: Annotated[str, typer.Option(help="Vision encoder whose features are fitted.")],
    music: Annotated[str, typer.Option(help="Music decoder whose latent space is the target.")],
    bridge: Annotated[str, typer.Option(help="Bridge to fit (see `score plugins`).")] = "pca",
    vision_weights: Annotated[str | None, typer.Option(help="Local weights file for the encoder.")] = None,
    layer: Annotated[
        str | None, typer.Option(help="Fit on features of this earlier encoder layer (as `score run --layer`).")
    ] = None,
    fps: Annotated[float | None, typer.Option(min=0.01, help="Frames sampled per second.")] = None,
    theme_book: Annotated[
        Path | None, typer.Option(help="Also group the videos' shots into themes and save them here, for `score run "
                                  "--theme-book` (a subject gets the same theme in every video scored with both).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Fit a bridge (PCA whitening by default) on every video in FOLDER and save it for `score run
    --bridge-weights`."""
    from score_core.corpus import fit_corpus_bridge
    from score_core.registry import default_registry

    if not folder.is_dir():
        raise ScoreError(str(folder), "not a directory")
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise ScoreError(str(folder), f"holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    if output.is_dir():
        raise ScoreError(str(output), "is a directory; give the bridge a file name, such as bridge.npz")
    for target in (output, theme_book):
        if target is not None and target.is_dir():
            raise ScoreError(str(target), "is a directory; give it a file name, such as bridge.npz")
        if target is not None and target.exists() and not overwrite:
            raise ScoreError(str(target), "already exists; pass --overwrite to replace it")
    if theme_book is not None and theme_book.resolve() == output.resolve():
        raise ScoreError(str(theme_book), "is the bridge's own file; give the theme book another name")
    summary = fit_corpus_bridge(default_registry(), videos, output, vision=vision, music=music,
                                vision_weights=vision_weights, fps=fps, layer=layer, bridge=bridge,
                                theme_book=theme_book)
    typer.echo(f"{output}: fitted on {summary.frames} frames of {summary.videos} videos")
    if theme_book is not None:
        typer.echo(f"{theme_book}: {summary.themes} themes")
