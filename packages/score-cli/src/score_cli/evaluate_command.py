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
    cuts: Annotated[
        Path | None,
        typer.Option(help="Hand-labelled cuts: one time per line (12.5, 1:02.5, HH:MM:SS:FF) or a CMX 3600 EDL."),
    ] = None,
    grid_baseline: Annotated[
        bool,
        typer.Option("--grid-baseline", help="Also render the run (its sidecar MIDI.json) with --sync grid and "
                     "grade it against the same cuts."),
    ] = False,
) -> None:
    """Evaluate MIDI as the soundtrack of VIDEO: hits at cuts, response z-score, lag, musicality, form.

    The cuts are found by a detector of their own (grey histograms), not by `score run`'s, or read from --cuts;
    the run's own cuts (the MIDI's "cut" markers) are graded in a separate, labelled row."""
    from score_core.analysis import evaluate_files
    from score_core.midi import read_midi

    if plot is not None and plot.exists() and not overwrite:
        raise ScoreError(str(plot), "already exists; pass --overwrite to replace it")
    read_midi(midi)  # a bad MIDI file fails before the video is decoded
    if plot is not None:
        from score_core.analysis.timeline import require_pyplot

        require_pyplot()  # a missing matplotlib fails before the video is decoded
    labelled, source = _hand_cuts(cuts, video)
    sidecar = midi.with_suffix(".json")
    if grid_baseline and not sidecar.is_file():
        raise ScoreError(str(sidecar), "no score run sidecar beside the MIDI; --grid-baseline re-renders that run")
    evaluation = evaluate_files(video, midi, cuts=labelled, cuts_source=source)
    figures: dict[str, Any] = {"video": str(video), "midi": str(midi), **evaluation.figures}
    if grid_baseline:
        figures["comparison"]["grid_render"] = _grid_row(video, sidecar, evaluation.cuts,
                                                         evaluation.figures["cuts_source"])
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


def _hand_cuts(path: Path | None, video: Path) -> tuple[list[float] | None, str | None]:
    if path is None:
        return None, None
    from score_core.analysis.cuts import read_cut_file
    from score_core.media import probe

    return read_cut_file(path, probe(video).frame_rate), f"hand labels ({path.name})"


def _grid_row(video: Path, sidecar: Path, cuts: list[float], source: str) -> dict[str, Any]:
    """The response figures of the run re-rendered on a fixed grid, graded against the same cuts."""
    import tempfile

    from score_core.analysis import evaluate_files
    from score_core.analysis.report import response_row
    from score_core.pipeline import Pipeline, run
    from score_core.registry import default_registry
    from score_core.rerun import grid_variant, run_settings_from_sidecar

    choice, options = run_settings_from_sidecar(sidecar)
    with tempfile.TemporaryDirectory(prefix="score-grid-") as folder:
        try:
            result = run(Pipeline(default_registry(), choice), video, Path(folder), grid_variant(options))
        except ScoreError as error:
            return {"cuts_source": source, "error": str(error)}
        return response_row(evaluate_files(video, result.outputs["midi"], cuts=cuts, cuts_source=source).figures)


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
        f"cuts {figures['cuts']} ({figures['cuts_source']}), notes {figures['notes']}, {figures['duration']:.2f} s",
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
        f"cut response z {_fmt(response['effect_z'])} against every other 1/8 s (shifted cut sets give "
        f"{_fmt(response['null_effect_z_mean'])} ± {_fmt(response['null_effect_z_std'])}); "
        f"z of the mean against shifted sets {_fmt(response['z'])}",
        f"lag: response {_fmt(lag['response_median'])} s, cross-correlation {_fmt(lag['xcorr'])} s",
        f"motion vs note density: rho {_fmt(figures['motion_density']['rho'])}, best lag "
        f"{_fmt(figures['motion_density']['best_lag'])} s",
        f"pitch change: at cuts {_fmt(figures['pitch_change']['at_cuts'])}, within shots "
        f"{_fmt(figures['pitch_change']['within_shots'])} semitones",
    ]
    labels = {"run_own_cuts": "run's own cuts", "grid_render": "--sync grid"}
    rows = {"these cuts": _row(figures), **{labels.get(k, k): v for k, v in (figures.get("comparison") or {}).items()}}
    lines.append(f"  {'':<15}{'cuts':>5}{'z':>8}{'null z':>14}{'lag s':>8}{'onset F1':>10}{'phrase F1':>10}")
    for label, row in rows.items():
        if row is None:
            continue
        if "error" in row:
            lines.append(f"  {label:<15}{row['error']}")
            continue
        null = f"{_fmt(row['null_effect_z_mean'])}±{_fmt(row['null_effect_z_std'])}"
        lines.append(f"  {label:<15}{row['cuts']:>5}{_fmt(row['effect_z']):>8}{null:>14}{_fmt(row['lag']):>8}"
                     f"{_fmt(row['onset_f1']):>10}{_fmt(row['phrase_f1']):>10}")
    form = figures.get("form") or {}
    lines.append(f"form: recurrence {_fmt(form.get('recurrence_share'))}, repeated notes "
                 f"{_fmt(form.get('repeated_note_share'))}" + _leitmotif(form.get("leitmotif")) + _drums(form))
    prior = (figures.get("prior") or {}).get("musicality", {})
    lines.append("musicality" + (f"  (prior samples of {figures['prior']['decoder']})" if prior else ""))
    for name, value in figures["musicality"].items():
        lines.append(f"  {name:<20} {_fmt(value):>10}" + (f"  {_fmt(prior.get(name)):>10}" if prior else ""))
    if figures.get("plot"):
        lines.append(f"timeline: {figures['plot']}")
    typer.echo("\n".join(lines))


def _row(figures: dict[str, Any]) -> dict[str, Any]:
    from score_core.analysis.report import response_row

    return response_row(figures)


def _leitmotif(leitmotif: dict[str, Any] | None) -> str:
    if not leitmotif:
        return ""
    return (f", same-subject shots {_fmt(leitmotif['same_subject'])} vs others {_fmt(leitmotif['other'])} "
            f"({leitmotif['same_pairs']} / {leitmotif['other_pairs']} pairs)")


def _drums(form: dict[str, Any]) -> str:
    drums = form.get("drums") or {}
    if not drums.get("hits"):
        return ""
    return f", snare on 2/4 {_fmt(drums['snare_on_2_or_4'])}, kick on 1/3 {_fmt(drums['kick_on_1_or_3'])}"
