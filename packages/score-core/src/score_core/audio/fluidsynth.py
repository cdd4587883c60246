"""Render MIDI with the FluidSynth command-line program and a General MIDI SoundFont."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError

__all__ = [
    "INSTALL_HINT",
    "SOUNDFONT_ENV",
    "SOUNDFONT_HINT",
    "SOUNDFONT_PATHS",
    "check_soundfont",
    "find_fluidsynth",
    "find_soundfont",
    "render_midi",
]

SOUNDFONT_ENV = "SCORE_SOUNDFONT"
"""Environment variable naming the SoundFont to use when none is passed explicitly."""

SOUNDFONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)
"""Where Debian and other distributions put General MIDI SoundFonts, searched in this order."""

INSTALL_HINT = "install it with 'apt-get install fluidsynth timgm6mb-soundfont'"
SOUNDFONT_HINT = f"install one with 'apt-get install timgm6mb-soundfont', set ${SOUNDFONT_ENV} or pass --soundfont PATH"

GAIN = 0.5
"""FluidSynth master gain; output is float, so loud passages cannot clip before normalisation."""


def find_fluidsynth() -> str | None:
    """Path of the fluidsynth program on PATH, or None."""
    return shutil.which("fluidsynth")


def check_soundfont(path: Path) -> Path:
    """Return path if it is a readable SoundFont 2 file (RIFF/sfbk header), else raise ScoreError."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
    except OSError as error:
        raise ScoreError(str(path), f"cannot read SoundFont ({error.strerror or error})") from error
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ScoreError(str(path), "not a SoundFont 2 file (no RIFF 'sfbk' header)")
    return path


def find_soundfont(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The SoundFont to use: explicit, else $SCORE_SOUNDFONT, else the first of SOUNDFONT_PATHS that exists.

    An explicit path or environment variable that names a missing file is an error, not a reason to fall back.
    """
    if explicit is not None:
        chosen, origin = Path(explicit), "the soundfont argument"
    elif os.environ.get(SOUNDFONT_ENV):
        chosen, origin = Path(os.environ[SOUNDFONT_ENV]), f"${SOUNDFONT_ENV}"
    else:
        return next((path for path in SOUNDFONT_PATHS if path.is_file()), None)
    if not chosen.is_file():
        raise ScoreError(str(chosen), f"SoundFont named by {origin} does not exist")
    return chosen


def _first_error(output: str) -> str | None:
    for line in output.splitlines():
        text = line.strip()
        lower = text.lower()
        if "error" in lower or "not a soundfont or midi file" in lower:
            return text
    return None


def render_midi(
    midi_path: Path,
    soundfont: Path,
    sample_rate: int,
    *,
    binary: str,
    timeout: float,
) -> np.ndarray:
    """Render a MIDI file to float32 stereo samples (frames, 2) with the fluidsynth program.

    Raises ScoreError naming the MIDI file and FluidSynth's first error line when the program fails, reports an
    error, times out or writes no audio.
    """
    check_soundfont(soundfont)
    with tempfile.TemporaryDirectory(prefix="score-fluidsynth-") as folder:
        raw = Path(folder) / "render.f32"
        command = [
            binary, "-n", "-i", "-q",
            "-F", str(raw), "-T", "raw", "-O", "float", "-E", "little",
            "-r", str(int(sample_rate)), "-g", str(GAIN),
            str(soundfont), str(midi_path),
        ]  # fmt: skip
        try:
            result = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout
            )
        except subprocess.TimeoutExpired as error:
            raise ScoreError(str(midi_path), f"fluidsynth did not finish within {timeout:.0f} s") from error
        except OSError as error:
            raise ScoreError(str(midi_path), f"cannot run fluidsynth ({error.strerror or error})") from error
        problem = _first_error(result.stderr) or _first_error(result.stdout)
        if result.returncode != 0:
            reason = problem or next(iter(result.stderr.strip().splitlines()), "no message")
            raise ScoreError(str(midi_path), f"fluidsynth failed with exit code {result.returncode}: {reason}")
        if problem:
            raise ScoreError(str(midi_path), f"fluidsynth reported: {problem}")
        if not raw.is_file() or raw.stat().st_size < 8:
            raise ScoreError(str(midi_path), "fluidsynth wrote no audio")
        data = np.fromfile(raw, dtype="<f4")
    frames = data.size // 2
    return np.ascontiguousarray(data[: frames * 2].reshape(frames, 2), dtype=np.float32)
