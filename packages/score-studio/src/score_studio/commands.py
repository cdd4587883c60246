"""The `score studio` and `score live` commands (typer); the heavy imports happen when they run."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from score_core.errors import ScoreError


def studio(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; the default keeps the studio on this machine.")] = (
        "127.0.0.1"),
    work: Annotated[Path, typer.Option(help="The studio's folder: uploads, takes and their state.")] = Path(
        "score-studio"),
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload accepted, in MB.")] = 200.0,
    max_queued: Annotated[int, typer.Option(min=1, help="Takes allowed to wait at once.")] = 8,
    allow_local_weights: Annotated[
        bool, typer.Option(help="Let the page name weights files on this machine for the encoder and decoder.")
    ] = False,
) -> None:
    """Open the studio: a local web page to score videos, watch takes side by side and download their parts."""
    import uvicorn

    from score_core.registry import default_registry
    from score_studio.jobs import StudioSettings
    from score_studio.server import create_app

    settings = StudioSettings(
        work=work, max_upload_bytes=int(max_upload_mb * 1024 * 1024), allow_local_weights=allow_local_weights,
        max_queued=max_queued,
    )
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScoreError(str(work), f"cannot create the studio's folder ({error.strerror})") from None
    app = create_app(settings, default_registry())
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets)
        for bound in server.servers:
            for bound_socket in bound.sockets:
                address = bound_socket.getsockname()
                typer.echo(f"score studio on http://{address[0]}:{address[1]}/ (work folder {work})", err=True)

    server.startup = startup  # type: ignore[method-assign]
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        raise ScoreError(f"--port {port}", f"cannot listen on {host} ({error.strerror or error})") from None
    server.run(sockets=[listening])


def live(
    source: Annotated[str, typer.Argument(help="Camera index (0 = /dev/video0), a stream URL, or a video file.")],
    midi_port: Annotated[str, typer.Option(help="MIDI output port to play into (a name or part of one).")],
    virtual_port: Annotated[bool, typer.Option(help="Create the port under that name for a DAW to listen to.")] = (
        False),
    midi_api: Annotated[str | None, typer.Option(help="alsa or jack (default: alsa when /dev/snd/seq exists).")] = (
        None),
    realtime: Annotated[
        bool, typer.Option(help="Pace any source to its frames' timestamps (files are paced anyway).")
    ] = False,
    as_fast_as_possible: Annotated[
        bool, typer.Option(help="Read a file as fast as the encoder allows instead of at its own speed.")
    ] = False,
    vision: Annotated[str | None, typer.Option(help="Vision encoder (see `score encoders`).")] = None,
    music: Annotated[str | None, typer.Option(help="Music decoder (see `score decoders`).")] = None,
    bridge_weights: Annotated[
        str | None, typer.Option(help="A bridge fitted on a corpus (`score bridge fit`); default: online whitening.")
    ] = None,
    fps: Annotated[float | None, typer.Option(min=0.1, help="Frames encoded per second at most.")] = None,
    tempo: Annotated[float, typer.Option(min=20, max=400, help="Tempo in quarter notes per minute.")] = 120.0,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    seconds: Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds of source.")] = None,
    record: Annotated[Path | None, typer.Option(help="Also write what was played to this MIDI file.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --record file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's report as JSON.")] = False,
) -> None:
    """Play music from a live picture into a MIDI port: frames are encoded as they arrive, cuts answered at once."""
    from score_cli.app import default_stage
    from score_core.files import atomic_write_bytes
    from score_core.midi import score_to_midi_bytes
    from score_core.pipeline import Pipeline, StageChoice
    from score_core.registry import default_registry
    from score_studio.live import LiveEngine, LiveOptions, close_port, open_port, open_source

    if record is not None and record.exists() and not overwrite:
        raise ScoreError(str(record), "already exists; pass --overwrite to replace it")
    registry = default_registry()
    choice = StageChoice(
        vision=vision or default_stage(registry, "vision"),
        music=music or default_stage(registry, "music"),
        bridge_weights=bridge_weights,
    )
    pipeline = Pipeline(registry, choice)
    container = open_source(source)
    options = LiveOptions(tempo_bpm=tempo, temperature=temperature, seed=seed, fps=fps, realtime=realtime,
                          as_fast_as_possible=as_fast_as_possible, max_seconds=seconds)
    port = open_port(midi_port, virtual_port, midi_api)
    try:
        engine = LiveEngine(pipeline, options, port.send)
        typer.echo(f"score live: {choice.vision} → {choice.music} into '{midi_port}' at {tempo:g} bpm", err=True)
        try:
            report = engine.run(container)
        except KeyboardInterrupt:
            engine.stop.set()
            report = engine.report
    finally:
        close_port(port)
        container.close()
    if record is not None:
        atomic_write_bytes(record, score_to_midi_bytes(engine.recording()))
    summary = report.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(
        f"{summary['notes_sent']} notes; frames {summary['frames_encoded']} encoded, {summary['frames_dropped']} "
        f"dropped; {len(summary['cuts'])} cuts; latency frame→note median {_seconds(summary['latency_median'])}, "
        f"max {_seconds(summary['latency_max'])} (one beat = {summary['beat_seconds']:.3f} s)"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"
