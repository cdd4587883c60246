"""A small additive synthesiser in numpy: renders a Score without any external program or SoundFont.

Melodic notes are wavetable oscillators (a few harmonics whose mix depends on the General MIDI family of the
program) shaped by an attack/decay/sustain/release envelope; drums are one-shot samples (pitched thumps and
filtered noise, chosen by General MIDI drum pitch) made once per render from seeded noise. Each instrument is
mixed to its own bus and panned, so the output is deterministic stereo float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from score_core.contracts import Note, Score

__all__ = ["synthesize"]

_TABLE_SIZE = 4096  # power of two: phase wraps with a bit mask
_NOTE_GAIN = 0.2
_NYQUIST_MARGIN = 0.45  # keep every partial below 0.45 × sample rate


@dataclass(frozen=True)
class _Voice:
    """Timbre of a General MIDI family: partial amplitudes and envelope (seconds, sustain level 0..1)."""

    partials: tuple[float, ...]
    attack: float
    decay: float
    sustain: float
    release: float


# One voice per GM family (program // 8): piano, chromatic percussion, organ, guitar, bass, strings, ensemble,
# brass, reed, pipe, synth lead, synth pad, synth effects, ethnic, percussive, sound effects.
_VOICES: tuple[_Voice, ...] = (
    _Voice((1.0, 0.45, 0.25, 0.12, 0.06), 0.004, 0.50, 0.12, 0.12),
    _Voice((1.0, 0.0, 0.30, 0.0, 0.10), 0.002, 0.35, 0.0, 0.15),
    _Voice((1.0, 0.70, 0.50, 0.30, 0.20, 0.10), 0.010, 0.10, 0.90, 0.05),
    _Voice((1.0, 0.60, 0.35, 0.20, 0.10), 0.003, 0.40, 0.10, 0.10),
    _Voice((1.0, 0.50, 0.20, 0.05), 0.005, 0.30, 0.50, 0.06),
    _Voice((1.0, 0.50, 0.33, 0.25, 0.20, 0.16), 0.080, 0.30, 0.85, 0.25),
    _Voice((1.0, 0.45, 0.30, 0.20, 0.15, 0.10), 0.100, 0.40, 0.90, 0.30),
    _Voice((1.0, 0.80, 0.60, 0.40, 0.30, 0.20), 0.040, 0.20, 0.80, 0.10),
    _Voice((1.0, 0.10, 0.50, 0.10, 0.30, 0.10), 0.030, 0.20, 0.85, 0.08),
    _Voice((1.0, 0.20, 0.05), 0.050, 0.20, 0.90, 0.10),
    _Voice((1.0, 0.0, 0.33, 0.0, 0.20, 0.0, 0.14), 0.010, 0.20, 0.80, 0.08),
    _Voice((1.0, 0.40, 0.20, 0.10), 0.300, 0.50, 0.85, 0.40),
    _Voice((1.0, 0.30, 0.30, 0.20), 0.100, 0.40, 0.70, 0.30),
    _Voice((1.0, 0.70, 0.50, 0.40, 0.20), 0.003, 0.30, 0.15, 0.10),
    _Voice((1.0, 0.20, 0.40), 0.002, 0.20, 0.0, 0.08),
    _Voice((1.0, 0.50, 0.50, 0.50), 0.050, 0.30, 0.60, 0.20),
)
_MAX_RELEASE = max(voice.release for voice in _VOICES)


@lru_cache(maxsize=256)
def _wavetable(family: int, partials: int) -> np.ndarray:
    """One cycle of the family's waveform using its first `partials` partials, peak 1."""
    phase = np.arange(_TABLE_SIZE) * (2 * math.pi / _TABLE_SIZE)
    amplitudes = _VOICES[family].partials[:partials]
    table = np.zeros(_TABLE_SIZE)
    for k, amplitude in enumerate(amplitudes):
        table += amplitude * np.sin((k + 1) * phase)
    out: np.ndarray = (table / float(np.max(np.abs(table)))).astype(np.float32)
    out.flags.writeable = False
    return out


def _frequency(pitch: int) -> float:
    return float(440.0 * 2.0 ** ((pitch - 69) / 12.0))


def _velocity_gain(velocity: int) -> float:
    return float(_NOTE_GAIN * (velocity / 127.0) ** 1.5)


class _Clock:
    """Shared sample-index ramps, so each note slices instead of allocating its own."""

    def __init__(self, frames: int, sample_rate: int) -> None:
        self.rate = sample_rate
        self.index = np.arange(frames, dtype=np.float64)
        self.seconds = (self.index / sample_rate).astype(np.float32)


def _envelope(voice: _Voice, held: int, length: int, clock: _Clock) -> np.ndarray:
    """Envelope of a note held for `held` frames, rendered for `length` frames (release included)."""
    rate = clock.rate
    attack = max(1, int(voice.attack * rate))
    env = np.empty(length, dtype=np.float32)
    head = min(attack, length)
    env[:head] = clock.seconds[1 : head + 1] * np.float32(rate / attack)
    if length > head:
        tail = clock.seconds[: length - head]
        env[head:] = voice.sustain + (1.0 - voice.sustain) * np.exp(tail * np.float32(-1.0 / voice.decay))
    if length > held:
        release = max(1, int(voice.release * rate))
        fade = np.float32(1.0) - clock.seconds[1 : length - held + 1] * np.float32(rate / release)
        env[held:] *= np.maximum(fade, np.float32(0.0))
    return env


def _add_melodic(bus: np.ndarray, notes: list[Note], clock: _Clock) -> None:
    rate, frames = clock.rate, bus.size
    for note in notes:
        family = note.program // 8
        voice = _VOICES[family]
        start = round(note.start * rate)
        held = max(1, round(note.end * rate) - start)
        length = min(held + int(voice.release * rate) + 1, frames - start)
        if length <= 0:
            continue
        frequency = _frequency(note.pitch)
        partials = max(1, min(len(voice.partials), int(_NYQUIST_MARGIN * rate / frequency)))
        table = _wavetable(family, partials)
        step = frequency * _TABLE_SIZE / rate
        index = (clock.index[:length] * step).astype(np.int64) & (_TABLE_SIZE - 1)
        tone = table[index]
        tone *= _envelope(voice, held, length, clock)
        bus[start : start + length] += np.float32(_velocity_gain(note.velocity)) * tone


# ---------------------------------------------------------------------------------------------------- drums


def _decay(seconds: float, time_constant: float, rate: int) -> np.ndarray:
    return np.exp(-np.arange(int(seconds * rate)) / (time_constant * rate))


def _noise(pitch: int, frames: int) -> np.ndarray:
    return np.random.default_rng(10_000 + pitch).standard_normal(frames)


def _highpass(signal: np.ndarray) -> np.ndarray:
    return np.diff(signal, prepend=0.0)


def _lowpass(signal: np.ndarray, width: int) -> np.ndarray:
    return np.convolve(signal, np.full(width, 1.0 / width), mode="same")


def _thump(pitch: int, rate: int, base: float, sweep: float, seconds: float, tau: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    frequency = base * (1.0 + sweep * np.exp(-t / 0.035))
    tone = np.sin(2 * math.pi * np.cumsum(frequency) / rate) * np.exp(-t / tau)
    click = _lowpass(_noise(pitch, t.size), 4) * np.exp(-t / 0.004) * 0.3
    return tone + click


def _kick(pitch: int, rate: int) -> np.ndarray:
    return _thump(pitch, rate, 50.0, 2.0, 0.5, 0.22)


def _tom(pitch: int, rate: int) -> np.ndarray:
    return _thump(pitch, rate, _frequency(pitch), 0.6, 0.5, 0.18)


def _snare(pitch: int, rate: int) -> np.ndarray:
    envelope = _decay(0.35, 0.09, rate)
    t = np.arange(envelope.size) / rate
    body = np.sin(2 * math.pi * 185.0 * t) * np.exp(-t / 0.05)
    return np.asarray(0.5 * body + 0.8 * _highpass(_noise(pitch, envelope.size)) * envelope)


def _clap(pitch: int, rate: int) -> np.ndarray:
    frames = int(0.3 * rate)
    t = np.arange(frames) / rate
    envelope = np.exp(-t / 0.08) * 0.4
    for delay in (0.0, 0.011, 0.022):
        envelope += np.where(t >= delay, np.exp(-(t - delay) / 0.008), 0.0)
    return _lowpass(_highpass(_noise(pitch, frames)), 3) * envelope


def _cymbal(tau: float, seconds: float) -> Callable[[int, int], np.ndarray]:
    def make(pitch: int, rate: int) -> np.ndarray:
        envelope = _decay(seconds, tau, rate)
        return np.asarray(0.5 * _highpass(_highpass(_noise(pitch, envelope.size))) * envelope)

    return make


def _metal(pitch: int, rate: int) -> np.ndarray:
    envelope = _decay(0.8, 0.25, rate)
    t = np.arange(envelope.size) / rate
    ring = np.sin(2 * math.pi * 540.0 * t) + np.sin(2 * math.pi * 800.0 * t) + np.sin(2 * math.pi * 1235.0 * t)
    return np.asarray((0.1 * ring + 0.2 * _highpass(_noise(pitch, envelope.size))) * envelope)


def _generic(pitch: int, rate: int) -> np.ndarray:
    envelope = _decay(0.3, 0.07, rate)
    width = max(1, int(12 - (pitch - 27) / 6))  # higher drum pitch → brighter noise
    return np.asarray(_lowpass(_highpass(_noise(pitch, envelope.size)), width) * envelope * 1.5)


_DRUMS: dict[int, Callable[[int, int], np.ndarray]] = {
    35: _kick, 36: _kick, 37: _generic, 38: _snare, 39: _clap, 40: _snare,
    41: _tom, 43: _tom, 45: _tom, 47: _tom, 48: _tom, 50: _tom,
    42: _cymbal(0.03, 0.15), 44: _cymbal(0.02, 0.12), 46: _cymbal(0.25, 0.7),
    49: _cymbal(0.7, 2.0), 52: _cymbal(0.6, 1.8), 55: _cymbal(0.4, 1.2), 57: _cymbal(0.7, 2.0),
    51: _metal, 53: _metal, 56: _metal, 59: _metal,
}  # fmt: skip


@lru_cache(maxsize=128)
def _drum_sample(pitch: int, rate: int) -> np.ndarray:
    sample = _DRUMS.get(pitch, _generic)(pitch, rate)
    sample = sample / max(float(np.max(np.abs(sample))), 1e-9)
    out = sample.astype(np.float32)
    out.flags.writeable = False
    return out


def _add_drums(bus: np.ndarray, notes: list[Note], rate: int) -> None:
    frames = bus.size
    for note in notes:
        start = round(note.start * rate)
        if start >= frames:
            continue
        sample = _drum_sample(note.pitch, rate)
        length = min(sample.size, frames - start)
        bus[start : start + length] += np.float32(_velocity_gain(note.velocity)) * sample[:length]


# ---------------------------------------------------------------------------------------------------- mixing


def _pan(program: int, is_drum: bool) -> tuple[float, float]:
    """Constant-power gains (left, right); instruments spread by program, drums centred."""
    position = 0.0 if is_drum else ((program * 5) % 9 - 4) / 8.0  # -0.5 .. 0.5
    angle = (position + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


def synthesize(score: Score, sample_rate: int = 44100) -> np.ndarray:
    """Render the Score's notes as float32 stereo (frames, 2), exactly round(duration × sample_rate) frames.

    Not normalised: callers scale the level. Notes past the end are cut; the result is deterministic.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    frames = round(score.duration * sample_rate)
    groups: dict[tuple[bool, int], list[Note]] = {}
    for note in score.notes:
        groups.setdefault((note.is_drum, 0 if note.is_drum else note.program), []).append(note)
    longest = max((math.ceil((n.end - n.start + _MAX_RELEASE) * sample_rate) + 2 for n in score.notes), default=0)
    clock = _Clock(min(frames, longest) + 2, sample_rate)
    out = np.zeros((frames, 2), dtype=np.float32)
    for (is_drum, program), notes in sorted(groups.items()):
        notes.sort(key=lambda n: (n.start, n.pitch, n.end, n.velocity))
        bus = np.zeros(frames, dtype=np.float32)
        if is_drum:
            _add_drums(bus, notes, sample_rate)
        else:
            _add_melodic(bus, notes, clock)
        left, right = _pan(program, is_drum)
        out[:, 0] += np.float32(left) * bus
        out[:, 1] += np.float32(right) * bus
    return out
