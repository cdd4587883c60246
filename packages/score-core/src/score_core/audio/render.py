"""Render a Score to MIDI and WAV, with FluidSynth when it is installed and the numpy synthesiser otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from score_core.audio import fluidsynth
from score_core.audio.synth import synthesize
from score_core.audio.wav import fit_length, normalise_peak, peak, to_stereo, write_wav
from score_core.contracts import Score
from score_core.errors import ScoreError
from score_core.midi import write_midi

__all__ = ["RenderReport", "Renderer", "render_score"]

Renderer = Literal["auto", "fluidsynth", "synth"]


@dataclass(frozen=True)
class RenderReport:
    """What render_score did: which renderer and SoundFont, and the WAV's rate, length and peak."""

    renderer: str
    """"fluidsynth" or "numpy-synth"."""
    soundfont: str | None
    """SoundFont used by FluidSynth; None for the numpy synthesiser."""
    sample_rate: int
    duration: float
    """Length of the written WAV in seconds (the score's duration, to the nearest frame)."""
    peak: float
    """Largest absolute sample of the written WAV, 0..1."""


def _fluidsynth_timeout(duration: float) -> float:
    return 60.0 + 2.0 * duration


def render_score(
    score: Score,
    midi_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str],
    *,
    sample_rate: int = 44100,
    soundfont: str | os.PathLike[str] | None = None,
    renderer: Renderer = "auto",
) -> RenderReport:
    """Render the Score as 16-bit stereo WAV at wav_path, exactly score.duration long.

    midi_path holds the Score as MIDI (fluidsynth plays it); it is written first when no file is there yet.

    renderer "auto" uses FluidSynth when the program and a SoundFont are found (see `find_soundfont`), else the
    numpy synthesiser; "fluidsynth" fails with a ScoreError saying what to install when either is missing;
    "synth" always uses the numpy synthesiser. Audio that clips or is very quiet is scaled to -1 dBFS.
    """
    if renderer not in ("auto", "fluidsynth", "synth"):
        raise ValueError(f"unknown renderer {renderer!r}; choose auto, fluidsynth or synth")
    if not 8000 <= sample_rate <= 192000:
        raise ScoreError(str(wav_path), f"sample rate {sample_rate} Hz is outside 8000..192000")
    midi_file = Path(midi_path)
    if not midi_file.exists():
        write_midi(score, midi_file)
    frames = round(score.duration * sample_rate)

    binary = font = None
    if renderer != "synth":
        binary = fluidsynth.find_fluidsynth()
        font = fluidsynth.find_soundfont(soundfont)
        if renderer == "fluidsynth" and binary is None:
            raise ScoreError("fluidsynth", f"program not found on PATH; {fluidsynth.INSTALL_HINT}")
        if renderer == "fluidsynth" and font is None:
            raise ScoreError("fluidsynth", f"no General MIDI SoundFont found; {fluidsynth.SOUNDFONT_HINT}")

    if binary is not None and font is not None:
        samples = fluidsynth.render_midi(
            midi_file, font, sample_rate, binary=binary, timeout=_fluidsynth_timeout(score.duration)
        )
        used, font_name = "fluidsynth", str(font)
    else:
        samples, used, font_name = synthesize(score, sample_rate), "numpy-synth", None

    audio = normalise_peak(fit_length(to_stereo(samples), frames))
    write_wav(wav_path, audio, sample_rate)
    level = round(min(peak(audio), 1.0) * 32767) / 32767  # as written in 16 bits
    return RenderReport(
        renderer=used, soundfont=font_name, sample_rate=sample_rate, duration=frames / sample_rate, peak=level
    )
