"""WAV files with the standard library, and the level/length fixes every rendered track gets."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError

__all__ = ["TARGET_PEAK", "fit_length", "normalise_peak", "peak", "read_wav", "to_stereo", "write_wav"]

TARGET_PEAK = 10 ** (-1 / 20)
"""Peak level that loud or quiet audio is scaled to: -1 dBFS."""

QUIET_PEAK = 10 ** (-12 / 20)
"""Audio whose peak is below this (-12 dBFS) is scaled up to TARGET_PEAK."""

_WRITE_FRAMES = 1 << 18


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as float32 samples in [-1, 1), shape (frames, channels), and its sample rate."""
    try:
        with wave.open(os.fspath(path), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            data = reader.readframes(reader.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        raise ScoreError(str(path), f"cannot read WAV file ({error})") from error
    if width == 1:
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        samples = (np.where(value >= 1 << 23, value - (1 << 24), value)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(data, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:  # pragma: no cover - wave rejects other widths itself
        raise ScoreError(str(path), f"unsupported WAV sample width {width} bytes")
    return samples.reshape(-1, channels), rate


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int, gain: float = 1.0) -> Path:
    """Write float samples (frames,) or (frames, channels), times ``gain``, as 16-bit PCM; values beyond ±1 are
    clipped. Written in pieces, so a memory-mapped track is never read whole."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"samples must have shape (frames,) or (frames, channels), got {array.shape}")
    target = Path(path)
    try:
        with wave.open(os.fspath(target), "wb") as writer:
            writer.setnchannels(array.shape[1])
            writer.setsampwidth(2)
            writer.setframerate(int(sample_rate))
            for start in range(0, array.shape[0], _WRITE_FRAMES):  # in pieces: memory stays flat in length
                chunk = array[start : start + _WRITE_FRAMES] * np.float32(gain)
                chunk = np.clip(chunk, -1.0, 1.0) * np.float32(32767.0)
                writer.writeframesraw(np.round(chunk).astype("<i2").data)
            writer.writeframes(b"")
    except OSError as error:
        raise ScoreError(str(target), f"cannot write WAV file ({error.strerror or error})") from error
    return target


def to_stereo(samples: np.ndarray) -> np.ndarray:
    """Samples as (frames, 2): mono is duplicated, extra channels are dropped."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.shape[1] == 1:
        return np.repeat(array, 2, axis=1)
    return array[:, :2]


def fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    """Cut samples (frames, channels) to exactly frames rows, padding with silence; a short fade ends a cut."""
    have = samples.shape[0]
    if have >= frames:
        out = np.array(samples[:frames], dtype=np.float32)
        fade = min(frames, 256)
        if have > frames and fade:  # avoid a click where sound is cut off
            out[frames - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        return out
    pad = np.zeros((frames - have, samples.shape[1]), dtype=np.float32)
    return np.concatenate([samples.astype(np.float32, copy=False), pad])


def peak(samples: np.ndarray) -> float:
    """Largest absolute sample value (0.0 for empty input)."""
    return float(max(np.max(samples), -np.min(samples))) if samples.size else 0.0  # no copy of the samples


def normalise_peak(samples: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Scale to TARGET_PEAK when the peak is above it (near clipping) or below QUIET_PEAK; silence stays silent.
    ``in_place`` scales a float32 ``samples`` itself (no second copy of a long track)."""
    level = peak(samples)
    if level == 0.0 or QUIET_PEAK <= level <= TARGET_PEAK:
        return samples
    scaled = samples if in_place and samples.dtype == np.float32 else np.array(samples, dtype=np.float32)
    scaled *= np.float32(TARGET_PEAK / level)
    return scaled
