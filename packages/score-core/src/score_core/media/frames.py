"""Stream RGB frames out of a video at a chosen rate, from real timestamps, in batches.

Decoding runs in a background thread feeding a small bounded queue, so it overlaps with whatever the
consumer does with each batch (running an encoder) while memory stays flat in the video's length. The
same decode pass measures the visual change between consecutive decoded frames (`FrameReader.visual_change`).
"""

from __future__ import annotations

import math
import queue
import threading
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.container
import numpy as np
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from score_core.contracts import SignalTrack
from score_core.errors import ScoreError
from score_core.media._open import (
    AV_ERRORS,
    normalise_rotation,
    open_video,
    seconds,
    short_reason,
    truncation_time,
)
from score_core.media.change import HISTOGRAM_BINS, ThumbnailDiffer

Resize = Literal["crop", "stretch"]
ProgressCallback = Callable[[float], None]

_TIME_TOLERANCE = 1e-6  # seconds: float rounding of pts * time_base must not skip a sample
_POLL_SECONDS = 0.25  # how often a waiting consumer reports progress and checks the decoder is alive
_JOIN_SECONDS = 10.0


@dataclass(frozen=True)
class FrameBatch:
    """B sampled frames: their presentation times (float64 seconds) and RGB pixels (uint8, B×H×W×3)."""

    times: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return int(self.times.shape[0])


class FrameReader:
    """Iterate to get FrameBatches of frames sampled at `fps`; afterwards `visual_change()` gives the signal.

    Frames are kept from their real presentation times (variable frame rate works): a frame is kept when its
    time reaches the next sample time, which then advances by 1/fps, skipping ahead over gaps, so at most one
    frame per 1/fps and never a duplicated frame. Times count from the video stream's start. Each kept frame
    is rotated for display and resized once to `size` = (height, width): "crop" scales it to cover the size
    and cuts the centre (aspect kept), "stretch" scales it to the size exactly. `max_duration` stops after
    that many seconds. `on_progress(seconds_decoded)` is called now and then from the iterating thread.

    Each iteration decodes the file again. Leaving the loop early (break, exception) stops the decoding
    thread and closes the file; so does `close()` or using the reader as a context manager.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int],
        resize: Resize = "crop",
        batch_size: int = 16,
        max_duration: float | None = None,
        on_progress: ProgressCallback | None = None,
        queue_size: int = 2,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"size must be (height, width) with positive sides, got {size}")
        if resize not in ("crop", "stretch"):
            raise ValueError(f"resize must be 'crop' or 'stretch', got {resize!r}")
        if batch_size <= 0 or queue_size <= 0:
            raise ValueError("batch_size and queue_size must be positive")
        self.path = path
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.resize: Resize = resize
        self.batch_size = int(batch_size)
        self.max_duration = max_duration
        self.on_progress = on_progress
        self.queue_size = int(queue_size)
        self._lock = threading.Lock()
        self._change_times = array("d")
        self._change_values = array("d")
        self._luma_values = array("d")
        self._slow_values = array("d")
        self._mix_values = array("d")
        self._histograms = array("d")
        self._seconds_decoded = 0.0
        self._frames_decoded = 0
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def seconds_decoded(self) -> float:
        """Presentation time of the last decoded frame, seconds from the stream's start."""
        return self._seconds_decoded

    @property
    def frames_decoded(self) -> int:
        """Number of frames decoded so far (kept or not) in the current or last pass."""
        return self._frames_decoded

    def __iter__(self) -> Generator[FrameBatch, None, None]:
        return self._batches()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop a running decoding thread (if any) and wait until it has closed the file."""
        thread, stop = self._thread, self._stop
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_SECONDS)

    @property
    def is_decoding(self) -> bool:
        """Whether a decoding thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def visual_change(self) -> SignalTrack:
        """Change between consecutive decoded frames ("visual-change"): one value per frame decoded so far.

        The value at a frame's time is the mean absolute difference (0..1) of its grayscale thumbnail from
        the previous frame's; the first frame's value is 0. Complete once the iteration has finished.
        """
        with self._lock:
            times = np.array(self._change_times, dtype=np.float64)
            values = np.array(self._change_values, dtype=np.float64)
        return SignalTrack(times=times, values=values, name="visual-change")

    def frame_signals(self) -> dict[str, SignalTrack]:
        """Per decoded frame: "visual-change", "luma" (mean, 0..1), "slow-change" (from ~0.5 s
        before) and "mix-residual" (near 0 where the frames of the last ~0.5 s are a linear mix: a dissolve)."""
        with self._lock:
            times = np.array(self._change_times, dtype=np.float64)
            signals = {
                "visual-change": np.array(self._change_values, dtype=np.float64),
                "luma": np.array(self._luma_values, dtype=np.float64),
                "slow-change": np.array(self._slow_values, dtype=np.float64),
                "mix-residual": np.array(self._mix_values, dtype=np.float64),
            }
        return {name: SignalTrack(times=times, values=values, name=name) for name, values in signals.items()}

    def grey_histograms(self) -> tuple[np.ndarray, np.ndarray]:
        """Per decoded frame: its time and its thumbnail's grey-level histogram (rows of HISTOGRAM_BINS
        shares summing to 1)."""
        with self._lock:
            times = np.array(self._change_times, dtype=np.float64)
            rows = np.array(self._histograms, dtype=np.float64).reshape(-1, HISTOGRAM_BINS)
        return times, rows

    def _batches(self) -> Generator[FrameBatch, None, None]:
        if self.is_decoding:
            raise RuntimeError("this FrameReader is already being iterated")
        with self._lock:
            self._change_times = array("d")
            self._change_values = array("d")
            self._luma_values = array("d")
            self._slow_values = array("d")
            self._mix_values = array("d")
            self._histograms = array("d")
        self._seconds_decoded, self._frames_decoded = 0.0, 0
        items: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=self.queue_size)
        stop = threading.Event()
        thread = threading.Thread(target=self._produce, args=(items, stop), name="score-decode", daemon=True)
        self._stop, self._thread = stop, thread
        thread.start()
        reported = -1.0
        try:
            while True:
                try:
                    kind, payload = items.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if not thread.is_alive() and items.empty():
                        raise ScoreError(str(self.path), "the decoding thread stopped unexpectedly") from None
                    reported = self._report(reported)
                    continue
                if kind == "batch":
                    reported = self._report(reported)
                    yield payload  # type: ignore[misc]
                elif kind == "error":
                    raise payload  # type: ignore[misc]
                else:
                    break
            self._report(reported)
        finally:
            stop.set()
            while True:  # unblock a producer waiting on a full queue
                try:
                    items.get_nowait()
                except queue.Empty:
                    break
            thread.join(_JOIN_SECONDS)

    def _report(self, reported: float) -> float:
        if self.on_progress is not None and self._seconds_decoded != reported:
            self.on_progress(self._seconds_decoded)
        return self._seconds_decoded

    def _produce(self, items: queue.Queue[tuple[str, object]], stop: threading.Event) -> None:
        """Decoding thread: put ("batch", FrameBatch)..., then ("done", None) or ("error", ScoreError)."""
        try:
            self._decode(items, stop)
            _put(items, ("done", None), stop)
        except ScoreError as exc:
            _put(items, ("error", exc), stop)
        except BaseException as exc:
            error = ScoreError(str(self.path), f"decoding failed ({type(exc).__name__}: {short_reason(exc)})")
            _put(items, ("error", error), stop)

    def _decode(self, items: queue.Queue[tuple[str, object]], stop: threading.Event) -> None:
        path = str(self.path)
        with open_video(self.path) as (container, stream):
            stream.thread_type = "AUTO"
            cut = truncation_time(self.path, stream)
            if cut is not None:
                raise ScoreError(path, f"corrupt or truncated at {cut:.1f} s (the file ends before its last frames)")
            frames = container.decode(stream)
            origin = seconds(stream.start_time, stream.time_base)
            period = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / 25.0
            sampler = _Sampler(self.fps)
            resizer = _Resizer(self.size, self.resize, stream.sample_aspect_ratio)
            differ = ThumbnailDiffer()
            batch = _BatchBuilder(self.batch_size, self.size)
            last_time: float | None = None
            while not stop.is_set():
                try:
                    frame = next(frames, None)
                except AV_ERRORS as exc:
                    if last_time is None:
                        raise ScoreError(
                            path, f"corrupt or truncated: its first video frame cannot be decoded ({short_reason(exc)})"
                        ) from None
                    raise ScoreError(path, f"corrupt or truncated at {last_time:.1f} s ({short_reason(exc)})") from None
                if frame is None:
                    break
                raw = frame.time
                if origin is None:
                    origin = raw if raw is not None else 0.0
                time = raw - origin if raw is not None else (last_time + period if last_time is not None else 0.0)
                if self.max_duration is not None and time >= self.max_duration:
                    break
                change = differ.measure(frame, time)
                with self._lock:
                    self._change_times.append(time)
                    self._change_values.append(change)
                    self._luma_values.append(differ.last_luma)
                    self._slow_values.append(differ.last_slow_change)
                    self._mix_values.append(differ.last_mix_residual)
                    self._histograms.extend(differ.last_histogram)
                last_time = time
                self._seconds_decoded, self._frames_decoded = time, self._frames_decoded + 1
                if sampler.keep(time):
                    batch.add(time, resizer(frame))
                    if batch.full and not _put(items, ("batch", batch.take()), stop):
                        return
            if stop.is_set():
                return
            if last_time is None:
                raise ScoreError(path, "holds no video frames")
            if self.max_duration is None:
                _check_complete(path, container, stream, self._frames_decoded, last_time + period)
            if len(batch):
                _put(items, ("batch", batch.take()), stop)


def sample_frames(
    path: str | Path,
    fps: float,
    size: tuple[int, int],
    resize: Resize = "crop",
    batch_size: int = 16,
    max_duration: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> Iterator[FrameBatch]:
    """Yield FrameBatches of RGB frames of `path` sampled at `fps` from real timestamps (see FrameReader).

    Arguments are checked at once (ValueError); file errors arrive as ScoreError from the first batch on.
    """
    return iter(FrameReader(path, fps, size, resize, batch_size, max_duration, on_progress))


def _check_complete(
    path: str, container: av.container.InputContainer, stream: VideoStream, frames: int, end: float
) -> None:
    """Raise if decoding ended well before what the container declares (FFmpeg ends truncated files quietly)."""
    declared_frames = stream.frames or 0
    declared_end = seconds(stream.duration, stream.time_base)
    if declared_end is None and len(container.streams) == 1 and container.duration:
        declared_end = container.duration / av.time_base
    if frames < 0.9 * declared_frames - 1 or (declared_end and end < 0.9 * declared_end - 0.5):
        raise ScoreError(path, f"corrupt or truncated at {end:.1f} s (decoding stopped before the declared end)")


def _put(items: queue.Queue[tuple[str, object]], item: tuple[str, object], stop: threading.Event) -> bool:
    """Put `item`, waiting while the queue is full; False if the consumer stopped meanwhile."""
    while not stop.is_set():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


class _Sampler:
    """Keeps a frame when its time reaches the next sample time k/fps; k then moves past the frame's time."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.index = 0

    def keep(self, time: float) -> bool:
        if time < self.index / self.fps - _TIME_TOLERANCE:
            return False
        self.index = max(self.index + 1, math.floor((time + _TIME_TOLERANCE) * self.fps) + 1)
        return True


class _Resizer:
    """Turns a decoded frame into a display-rotated RGB array of the target size with one swscale call."""

    def __init__(self, size: tuple[int, int], mode: Resize, sample_aspect: Fraction | None) -> None:
        self.size = size
        self.mode = mode
        self.sample_aspect = float(sample_aspect) if sample_aspect else 1.0
        self._plans: dict[tuple[int, int, int], tuple[int, int, int]] = {}

    def __call__(self, frame: VideoFrame) -> np.ndarray:
        rotation = normalise_rotation(frame.rotation)
        scaled_width, scaled_height, quarter_turns = self._plan(frame.width, frame.height, rotation)
        rgb = frame.reformat(width=scaled_width, height=scaled_height, format="rgb24").to_ndarray()
        if quarter_turns:
            rgb = np.rot90(rgb, k=quarter_turns)
        height, width = self.size
        top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
        return rgb[top : top + height, left : left + width]

    def _plan(self, coded_width: int, coded_height: int, rotation: int) -> tuple[int, int, int]:
        """(width, height) to scale the coded frame to, and counter-clockwise quarter turns after that."""
        key = (coded_width, coded_height, rotation)
        if key not in self._plans:
            height, width = self.size
            shown_width, shown_height = coded_width * self.sample_aspect, float(coded_height)
            if rotation % 180:
                shown_width, shown_height = shown_height, shown_width
            if self.mode == "crop":
                scale = max(width / shown_width, height / shown_height)
                out_width = max(width, round(shown_width * scale))
                out_height = max(height, round(shown_height * scale))
            else:
                out_width, out_height = width, height
            if rotation % 180:
                out_width, out_height = out_height, out_width
            self._plans[key] = (out_width, out_height, (-rotation // 90) % 4)
        return self._plans[key]


class _BatchBuilder:
    """Collects kept frames into a preallocated (B, H, W, 3) array."""

    def __init__(self, batch_size: int, size: tuple[int, int]) -> None:
        self.batch_size = batch_size
        self.size = size
        self._times: list[float] = []
        self._frames = self._new()

    def _new(self) -> np.ndarray:
        return np.empty((self.batch_size, *self.size, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._times)

    @property
    def full(self) -> bool:
        return len(self._times) == self.batch_size

    def add(self, time: float, rgb: np.ndarray) -> None:
        self._frames[len(self._times)] = rgb
        self._times.append(time)

    def take(self) -> FrameBatch:
        count = len(self._times)
        frames = self._frames if count == self.batch_size else self._frames[:count].copy()
        batch = FrameBatch(times=np.array(self._times, dtype=np.float64), frames=frames)
        self._times, self._frames = [], self._new()
        return batch
