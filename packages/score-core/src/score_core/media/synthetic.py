"""Small, real video and audio files for tests: known cuts, smooth motion, variable frame rate, audio.

Every shot is a solid colour with a shot-specific gradient and a bar that sweeps smoothly across it; the
bar's position is a known function of time, so a test can tell which instant a decoded frame shows
(`render_frame`). Consecutive shots differ strongly in brightness, so each cut is a hard change even in
grayscale. Files are written with PyAV and are fast enough to make in every test (a 10 s 96x64 clip
takes a few tens of milliseconds).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream

from score_core.media._open import literal

#: Time base of synthetic videos: fine enough for irregular (variable-frame-rate) timestamps.
TIME_BASE = Fraction(1, 90_000)
AUDIO_RATE = 44_100
AUDIO_FRAME = 1024

# RGB colours of successive shots, alternating dark and bright so consecutive shots differ in luma by > 100.
_PALETTE = np.array(
    [(230, 220, 60), (20, 30, 140), (80, 220, 220), (140, 20, 20), (200, 240, 180), (60, 10, 90)],
    dtype=np.float32,
)
_MOTION_PERIOD = 4.0  # seconds for the bar to sweep there and back
_COARSE_CLOCK_CODECS = frozenset({"mpeg4", "mpeg2video", "mpeg1video", "mjpeg"})  # time base denominator < 2^16


def frame_times(duration: float, fps: float = 25, variable_frame_rate: bool = False) -> np.ndarray:
    """Presentation times (seconds, multiples of TIME_BASE) of the frames `write_test_video` writes.

    With `variable_frame_rate` the gaps between frames vary irregularly between 0.4 and 1.6 frame
    periods, 1 on average (a fixed seed, so every call gives the same times).
    """
    if duration <= 0 or fps <= 0:
        raise ValueError("duration and fps must be positive")
    ticks_per_frame = float(1 / (fps * TIME_BASE))
    if variable_frame_rate:
        gaps = np.random.default_rng(7).uniform(0.4, 1.6, size=int(duration * fps * 2.5) + 2)
        ticks = np.concatenate([[0.0], np.cumsum(np.round(gaps * ticks_per_frame))])
    else:
        ticks = np.round(np.arange(int(np.ceil(duration * fps)) + 1) * ticks_per_frame)
    ticks = ticks[ticks < duration / TIME_BASE - 0.5]
    return ticks.astype(np.int64) * float(TIME_BASE)


def render_frame(
    time: float, size: tuple[int, int] = (64, 96), cuts: Sequence[float] = (), looks: Sequence[int] = ()
) -> np.ndarray:
    """The RGB frame (height, width, 3) uint8 that the synthetic video shows at `time` seconds; shot i shows
    look ``looks[i]`` (default: look i), so equal looks make a shot that returns."""
    height, width = size
    shot = int(np.searchsorted(np.asarray(sorted(cuts), dtype=np.float64), time, side="right"))
    shot = looks[shot] if shot < len(looks) else shot
    colour = _PALETTE[shot % len(_PALETTE)]
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    angle = shot * 1.3
    gradient = 1.0 + 0.15 * (np.cos(angle) * xs + np.sin(angle) * ys)
    image = colour[None, None, :] * gradient[:, :, None]
    centre = (0.5 + 0.35 * np.sin(2 * np.pi * time / _MOTION_PERIOD)) * width
    bar_half = max(width / 12, 1.0)
    columns = np.arange(width, dtype=np.float32)[None, :] + 0.5
    bar = np.clip(bar_half + 0.5 - np.abs(columns - centre), 0.0, 1.0)  # antialiased edges
    image = image * (1 - 0.45 * bar[:, :, None]) + 0.45 * bar[:, :, None] * (255.0 - colour)
    return np.asarray(np.clip(image, 0, 255), dtype=np.uint8)


def write_test_video(
    path: str | Path,
    *,
    duration: float,
    fps: float = 25,
    size: tuple[int, int] = (64, 96),
    cuts: Sequence[float] = (),
    variable_frame_rate: bool = False,
    audio: bool = False,
    codec: str = "libx264",
    rotation: int = 0,
    looks: Sequence[int] = (),
) -> Path:
    """Write a real video file (MP4 unless the suffix says otherwise) and return its path.

    `size` is (height, width) and must be even for 4:2:0 codecs; `cuts` are the times (seconds) of hard
    shot changes, each the time of the first frame of the new shot (frame times are `frame_times(...)`);
    `audio` adds a stereo 440 Hz AAC sine as long as the video; `rotation` stores a clockwise display
    rotation (0, 90, 180, 270) in the container, the frames themselves are written unrotated; `looks` gives
    each shot's picture (see `render_frame`: (0, 1, 0) makes the third shot the first one again).
    """
    height, width = size
    if height % 2 or width % 2:
        raise ValueError(f"size {size} must be even in both dimensions")
    out = Path(path)
    times = frame_times(duration, fps, variable_frame_rate)
    options = {"movflags": "faststart"} if out.suffix.lower() in {".mp4", ".mov", ".m4v", ""} else {}
    with av.open(literal(out), mode="w", format="mp4" if not out.suffix else None, options=options) as container:
        rate = Fraction(fps).limit_denominator(1001)
        time_base = TIME_BASE
        if codec in _COARSE_CLOCK_CODECS:
            if variable_frame_rate:
                raise ValueError(f"{codec} cannot store variable-frame-rate timestamps; use libx264")
            time_base = 1 / rate
        video = cast(VideoStream, container.add_stream(codec, rate=rate))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if codec == "libx264":
            video.codec_context.options = {"preset": "ultrafast"}
        if rotation:
            video.set_display_rotation(-int(rotation))
        sound = _add_audio_stream(container) if audio else None
        for kind, item in _interleaved(times, duration, sound is not None):
            if kind == "video":
                frame = av.VideoFrame.from_ndarray(render_frame(item, size, cuts, looks), format="rgb24")
                frame.pts, frame.time_base = round(item / time_base), time_base
                container.mux(video.encode(frame))
            else:
                container.mux(sound.encode(_sine_frame(int(item), duration)))  # type: ignore[union-attr]
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return out


def write_empty_video(path: str | Path, size: tuple[int, int] = (64, 96)) -> Path:
    """Write an AVI file that declares an H.264 video stream but holds no frames at all.

    AVI because the MP4 and Matroska muxers drop (or fail to write) a track without samples.
    """
    with av.open(literal(path), mode="w", format="avi") as container:
        video = container.add_stream("libx264", rate=25)
        video.height, video.width = size
        video.pix_fmt = "yuv420p"
        container.start_encoding()
    return Path(path)


def write_audio_only(path: str | Path, duration: float, channels: int = 2) -> Path:
    """Write a 440 Hz sine with no video: PCM if `path` ends in .wav, otherwise AAC (MP4/M4A)."""
    out = Path(path)
    is_wav = out.suffix.lower() == ".wav"
    with av.open(literal(out), mode="w", format=None if out.suffix else "mp4") as container:
        layout = "stereo" if channels == 2 else "mono"
        stream = container.add_stream("pcm_s16le" if is_wav else "aac", rate=AUDIO_RATE, layout=layout)
        for start in range(0, round(duration * AUDIO_RATE), AUDIO_FRAME):
            container.mux(stream.encode(_sine_frame(start, duration, layout)))
        container.mux(stream.encode(None))
    return out


def truncate_file(src: str | Path, dst: str | Path, fraction: float) -> Path:
    """Copy the first `fraction` of the bytes of `src` to `dst`: a file cut short as by a failed download."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must lie in [0, 1]")
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def copy_with_suffix(src: str | Path, dst: str | Path) -> Path:
    """Copy a file under another name (for example a text file renamed to .mp4)."""
    return Path(shutil.copyfile(src, dst))


def _add_audio_stream(container: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    stream = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
    return stream


def _interleaved(times: np.ndarray, duration: float, with_audio: bool) -> Iterator[tuple[str, float]]:
    """Video frame times and audio frame start samples, merged in presentation order."""
    audio_starts = range(0, round(duration * AUDIO_RATE), AUDIO_FRAME) if with_audio else range(0)
    audio_iter = iter(audio_starts)
    next_audio = next(audio_iter, None)
    for time in times:
        while next_audio is not None and next_audio / AUDIO_RATE <= time:
            yield "audio", float(next_audio)
            next_audio = next(audio_iter, None)
        yield "video", float(time)
    while next_audio is not None:
        yield "audio", float(next_audio)
        next_audio = next(audio_iter, None)


def _sine_frame(start: int, duration: float, layout: str = "stereo") -> av.AudioFrame:
    """One frame of a 440 Hz sine starting at sample `start`, cut at `duration`."""
    count = min(AUDIO_FRAME, round(duration * AUDIO_RATE) - start)
    t = (start + np.arange(count)) / AUDIO_RATE
    wave = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    channels = 2 if layout == "stereo" else 1
    frame = av.AudioFrame.from_ndarray(np.tile(wave, (channels, 1)), format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
    return frame
