"""Audio rendering: a Score to WAV with FluidSynth or a numpy synthesiser, and WAV file I/O."""

from score_core.audio.fluidsynth import find_fluidsynth, find_soundfont
from score_core.audio.render import Renderer, RenderReport, render_parts, render_score, render_stems
from score_core.audio.synth import synthesize
from score_core.audio.wav import read_wav, write_wav

__all__ = [
    "RenderReport",
    "Renderer",
    "find_fluidsynth",
    "find_soundfont",
    "read_wav",
    "render_parts",
    "render_score",
    "render_stems",
    "synthesize",
    "write_wav",
]
