"""``score evaluate VIDEO MIDI``: how well a soundtrack answers the picture, and how musical it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from score_core.errors import ScoreError


def evaluate(
    video: Annotated[Path, typer.Argument(help="The video the music was written for.")],
    midi: Annotated[Path, typer.Argument(help="The MIDI file to evaluate.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON on stdout.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write a timeline PNG: thumbnails, visual change, cuts, tempo, piano roll.")
    ] = None,
    music: Annotated[
        str | None, typer.Option(help="Also measure this decoder's own prior samples, for comparison.")
    ] = None,
    music_weights: Annotated[str | None, typer.Option(help="Local weights file for --music.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the prior samples.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --plot file.")] = False,
) -> None:
    """Evaluate MIDI as the soundtrack of VIDEO: hits at cuts, response z-score, lag, musicality."""
    from score_core.analysis import evaluate_files
    from score_core.midi import read_midi

    if plot is not None and plot.exists() and not overwrite:
        raise ScoreError(str(plot), "already exists; pass --overwrite to replace it")
    read_midi(midi)  # a bad MIDI file fails before the video is decoded
    if plot is not None:
        from score_core.analysis.timeline import require_pyplot

        require_pyplot()  # a missing matplotlib fails before the video is decoded
    evaluation = evaluate_files(video, midi)
    figures: dict[str, Any] = {"video": str(video), "midi": str(midi), **evaluation.figures}
    if music is not None:
        figures["prior"] = _prior_figures(music, music_weights, evaluation.tempo.changes[0][1], seed)
    if plot is not None:
        from score_core.analysis.timeline import write_timeline

        write_timeline(evaluation, plot, title=f"{video.name} · {midi.name}")
        figures["plot"] = str(plot)
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        _print_summary(figures)


def _prior_figures(music: str, weights: str | None, tempo_bpm: float, seed: int) -> dict[str, Any]:
    from score_core.analysis.prior import PRIOR_SEGMENTS, prior_musicality
    from score_core.registry import default_registry

    decoder = default_registry().decoders.get(music).factory(weights)
    figures = prior_musicality(decoder, tempo_bpm=tempo_bpm, seed=seed).as_dict()
    return {"decoder": music, "segments": PRIOR_SEGMENTS, "musicality": _rounded(figures)}


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_summary(figures: dict[str, Any]) -> None:
    """A short human summary; --json has everything."""
    onset = figures["onset_hits"]
    lines = [
        f"cuts {figures['cuts']}, notes {figures['notes']}, {figures['duration']:.2f} s",
        f"onset hits ±0.07 s  P {_fmt(onset['0.07s']['precision'])}  R {_fmt(onset['0.07s']['recall'])}  "
        f"F1 {_fmt(onset['0.07s']['f1'])}  (shifted cuts {_fmt(onset['0.07s']['shifted_f1'])}, "
        f"z {_fmt(onset['0.07s']['z'])})",
        f"onset hits ±0.5 s   F1 {_fmt(onset['0.5s']['f1'])}  (shifted {_fmt(onset['0.5s']['shifted_f1'])}, "
        f"z {_fmt(onset['0.5s']['z'])})",
    ]
    if figures.get("phrase_hits"):
        phrase = figures["phrase_hits"]["0.07s"]
        lines.append(f"phrase starts ±0.07 s F1 {_fmt(phrase['f1'])}  (z {_fmt(phrase['z'])})")
    response, lag = figures["cut_response"], figures["lag"]
    lines += [
        f"cut response z {_fmt(response['z'])}  (change at cuts {_fmt(response['value'])}, "
        f"shifted {_fmt(response['shifted_mean'])})",
        f"lag: response {_fmt(lag['response_median'])} s, cross-correlation {_fmt(lag['xcorr'])} s",
        f"motion vs note density: rho {_fmt(figures['motion_density']['rho'])}, best lag "
        f"{_fmt(figures['motion_density']['best_lag'])} s",
        f"pitch change: at cuts {_fmt(figures['pitch_change']['at_cuts'])}, within shots "
        f"{_fmt(figures['pitch_change']['within_shots'])} semitones",
    ]
    prior = (figures.get("prior") or {}).get("musicality", {})
    lines.append("musicality" + (f"  (prior samples of {figures['prior']['decoder']})" if prior else ""))
    for name, value in figures["musicality"].items():
        lines.append(f"  {name:<20} {_fmt(value):>10}" + (f"  {_fmt(prior.get(name)):>10}" if prior else ""))
    if figures.get("plot"):
        lines.append(f"timeline: {figures['plot']}")
    typer.echo("\n".join(lines))
