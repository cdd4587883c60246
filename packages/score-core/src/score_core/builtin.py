"""score-core's own plugin: the PCA bridge and the MIDI, WAV, MP4 and JSON writers."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from score_core.hookspecs import hookimpl
from score_core.protocols import RunContext
from score_core.registrations import BridgeRegistration, StageOptions, WriterRegistration


def _pca_bridge(weights: str | None) -> Any:
    from score_core.bridge import PcaBridge

    return PcaBridge.from_file(weights) if weights else PcaBridge()


@hookimpl
def register_bridges(register: Callable[[BridgeRegistration], None]) -> None:
    register(
        BridgeRegistration(
            name="pca",
            aliases=("pca-whitening",),
            description="PCA whitening fitted on this video, or loaded from a corpus fit (--bridge-weights FILE.npz)",
            factory=_pca_bridge,
        )
    )


class MidiWriter:
    def write(self, context: RunContext, path: Path) -> None:
        from score_core.midi import write_midi
        from score_core.timecode import parse_timecode

        timecode = context.parameters.get("start_timecode")
        offset = parse_timecode(timecode, context.video_info.frame_rate).message() if timecode else None
        write_midi(context.score, path, smpte_offset=offset)


class AudioOptions(StageOptions):
    soundfont: str | None = None
    """General MIDI .sf2 soundfont for fluidsynth (``--soundfont``); None: the system's, else a numpy synth."""


class AudioWriter:
    """The mixed WAV. When the stems writer ran first, its mix of the parts is taken as it is, so the stems
    sum to this file and nothing is rendered twice."""

    def __init__(self, soundfont: str | None = None) -> None:
        self.soundfont = Path(soundfont) if soundfont else None

    def write(self, context: RunContext, path: Path) -> dict[str, Any]:
        import os

        from score_core.audio import render_score

        stems = context.written.get("stems")
        if stems is not None and (stems / STEMS_MIX).is_file():
            os.replace(stems / STEMS_MIX, path)
            return dict(context.notes["stems"]["mix"])
        report = render_score(context.score, context.written["midi"], path, soundfont=self.soundfont)
        return _render_notes(report)


def _render_notes(report: Any) -> dict[str, Any]:
    return {
        "renderer": report.renderer,
        "soundfont": report.soundfont,
        "sample_rate": report.sample_rate,
        "duration": report.duration,
        "peak": report.peak,
    }


STEMS_MIX = ".mix.wav"
"""The mix of the stems, left in the stems folder for the audio writer to take."""


class StemsWriter:
    """A folder with one WAV per part (melody.wav, bass.wav, drums.wav, ...) that sum to the mixed WAV.

    It runs before the audio writer and leaves the mix of the parts in the folder (STEMS_MIX) when the run
    writes audio too; the audio writer takes it from there."""

    def __init__(self, soundfont: str | None = None) -> None:
        self.soundfont = Path(soundfont) if soundfont else None

    def write(self, context: RunContext, path: Path) -> dict[str, Any]:
        from score_core.audio import render_stems

        path.unlink(missing_ok=True)
        path.mkdir()
        report, files = render_stems(context.score, path / STEMS_MIX, path, soundfont=self.soundfont)
        if "audio" not in context.targets:
            (path / STEMS_MIX).unlink()
        return {"files": sorted(file.name for file in files.values()), "mix": _render_notes(report)}


class VideoWriter:
    def write(self, context: RunContext, path: Path) -> None:
        from score_core.media import mux_audio

        mux_audio(context.video, context.written["audio"], path)


class SidecarWriter:
    """Everything needed to reproduce the run: parameters, seed, plugins and versions, weight hashes."""

    def write(self, context: RunContext, path: Path) -> None:
        document = {
            "parameters": context.parameters,
            "provenance": context.provenance,
            "video": context.video_info.model_dump(),
            "outputs": {name: target.name for name, target in context.targets.items()},
            "writers": dict(context.notes),
            "music": {
                "notes": len(context.score.notes),
                "duration": context.score.duration,
                "tempo_bpm": context.score.tempo_bpm,
                "segments": int(context.latents.values.shape[0]),
                "frames_encoded": int(context.features.times.shape[0]),
            },
            "python": platform.python_version(),
        }
        if context.evaluation is not None:
            document["evaluation"] = context.evaluation
        path.write_text(strict_json(document) + "\n")


def strict_json(document: Any) -> str:
    """``document`` as standard JSON: NaN and infinities (which JSON lacks) become null, other objects strings."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(json.loads(json.dumps(document, default=str))), indent=2, sort_keys=True,
                      allow_nan=False)


@hookimpl
def register_writers(register: Callable[[WriterRegistration], None]) -> None:
    register(WriterRegistration("midi", "Standard MIDI file: notes, tempo, cut markers", ".mid", MidiWriter))
    register(
        WriterRegistration(
            "audio", "WAV rendered with fluidsynth and a GM soundfont, else a numpy synth", ".wav", AudioWriter,
            requires=("midi",), after=("stems",), options=AudioOptions,
        )
    )
    register(
        WriterRegistration(
            "stems", "One WAV per part of the band, in a folder; they sum to the mixed WAV", ".stems", StemsWriter,
            requires=("midi",), options=AudioOptions, folder=True,
        )
    )
    register(
        WriterRegistration(
            "video", "The source video with the soundtrack muxed in (video copied)", ".mp4", VideoWriter,
            requires=("audio",),
        )
    )
    register(
        WriterRegistration(
            "sidecar", "JSON record of parameters, seed, plugins, versions and weight hashes", ".json",
            SidecarWriter, after=("*",),
        )
    )
