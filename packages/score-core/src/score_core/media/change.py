"""The visual change signal (how much each decoded frame differs from the one before) and cut detection."""

from __future__ import annotations

from collections import deque

import numpy as np
from av.video.frame import VideoFrame

from score_core.contracts import SignalTrack

#: Size (height, width) of the grayscale thumbnail compared between consecutive frames.
THUMBNAIL_SIZE = (18, 32)
_SAMPLES_PER_CELL = 4  # luma samples per thumbnail cell along each axis
_EIGHT_BIT_Y_FORMATS = frozenset(
    {
        "yuv420p",
        "yuvj420p",
        "yuv422p",
        "yuvj422p",
        "yuv444p",
        "yuvj444p",
        "yuv411p",
        "yuv440p",
        "nv12",
        "nv21",
        "gray",
        "yuva420p",
    }
)
#: Cut detection: a cut stands out by this many robust standard deviations above the typical change ...
MAD_FACTOR = 8.0
#: ... and changes at least this much (mean absolute luma difference, 0..1), so a static video has no cuts ...
ABSOLUTE_FLOOR = 0.08
#: ... and is this many times larger than the typical change around it (fast motion is not a cut).
LOCAL_RATIO = 3.0
#: Bins of the per-frame grey-level histogram (of the thumbnail) that says whether a cut changes the look.
HISTOGRAM_BINS = 16
#: The slow change compares each frame with the one about this many seconds earlier (fades, dissolves).
SLOW_LAG = 0.5


class ThumbnailDiffer:
    """Feeds on decoded frames and returns each one's mean absolute luma difference from the previous one.

    For 8-bit YUV frames the luma plane is read in place (a sparse grid of samples averaged into an 18x32
    thumbnail), which costs about 0.15 ms per 720p frame, about a fifth of a swscale reformat to gray.
    """

    def __init__(self, size: tuple[int, int] = THUMBNAIL_SIZE) -> None:
        self._size = size
        self._grid: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._previous: np.ndarray | None = None
        self._history: deque[tuple[float, np.ndarray]] = deque()
        self.last_luma = 0.0
        """Mean luma (0..1) of the last frame fed in."""
        self.last_slow_change = 0.0
        """Change (0..1) of the last frame fed to `measure` from the frame about SLOW_LAG seconds before it."""
        self.last_histogram = np.zeros(HISTOGRAM_BINS)
        """Grey-level histogram (HISTOGRAM_BINS bins, sums to 1) of the last frame fed to `measure`."""
        self.last_mix_residual = 1.0
        """How far the frame half a lag back is from the average of the two ends, relative to their change:
        near 0 inside a dissolve (a linear mix), large for motion."""

    def __call__(self, frame: VideoFrame) -> float:
        """Change of `frame` from the previous frame fed in, in [0, 1]; 0.0 for the first frame."""
        thumb = self.thumbnail(frame)
        self.last_luma = float(thumb.mean()) / 255.0
        previous, self._previous = self._previous, thumb
        if previous is None or previous.shape != thumb.shape:
            return 0.0
        return float(np.mean(np.abs(thumb - previous))) / 255.0

    def measure(self, frame: VideoFrame, time: float) -> float:
        """Like calling the differ, and also sets `last_luma` and `last_slow_change` for the frame at `time`."""
        change = self(frame)
        thumb = self._previous
        assert thumb is not None
        bins = np.minimum(thumb * (HISTOGRAM_BINS / 256.0), HISTOGRAM_BINS - 1).astype(np.intp)
        self.last_histogram = np.bincount(bins.ravel(), minlength=HISTOGRAM_BINS) / bins.size
        history = self._history
        history.append((time, thumb))
        while len(history) > 2 and history[1][0] <= time - SLOW_LAG:
            history.popleft()
        then, old = history[0]
        slow = then <= time - SLOW_LAG / 2 and old.shape == thumb.shape
        self.last_slow_change = float(np.mean(np.abs(thumb - old))) / 255.0 if slow else 0.0
        self.last_mix_residual = 1.0
        if slow and self.last_slow_change > 0:
            middle = min(history, key=lambda item: abs(item[0] - (time + then) / 2))[1]
            residual = float(np.mean(np.abs(middle - (thumb + old) / 2))) / 255.0
            self.last_mix_residual = residual / self.last_slow_change
        return change

    def thumbnail(self, frame: VideoFrame) -> np.ndarray:
        """An 18x32 float32 grayscale thumbnail of `frame` (values 0..255)."""
        height, width = self._size
        if frame.format.name not in _EIGHT_BIT_Y_FORMATS:
            gray = frame.reformat(width=width, height=height, format="gray").to_ndarray()
            return gray.astype(np.float32)
        plane = frame.planes[0]
        luma = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
        rows, cols = self._sample_grid(frame.height, frame.width)
        n = _SAMPLES_PER_CELL
        samples = luma[rows[:, None], cols[None, :]].reshape(height, n, width, n)
        return np.asarray(samples.mean(axis=(1, 3), dtype=np.float32))

    def _sample_grid(self, frame_height: int, frame_width: int) -> tuple[np.ndarray, np.ndarray]:
        key = (frame_height, frame_width)
        if key not in self._grid:
            n = _SAMPLES_PER_CELL
            rows = ((np.arange(self._size[0] * n) + 0.5) * frame_height / (self._size[0] * n)).astype(np.intp)
            cols = ((np.arange(self._size[1] * n) + 0.5) * frame_width / (self._size[1] * n)).astype(np.intp)
            self._grid[key] = (rows, cols)
        return self._grid[key]


def detect_cuts(signal: SignalTrack, threshold: float | None = None, min_gap: float = 0.5) -> list[float]:
    """Times (seconds) of hard cuts: the first frame of each new shot.

    A frame is a cut when its change exceeds `threshold` (by default the larger of median + 8·MAD·1.4826 of
    the whole signal and an absolute floor of 0.08), is at least 3 times the median change within
    `min_gap` around it, and is the largest change within `min_gap` of any other accepted cut.
    """
    times = np.asarray(signal.times, dtype=np.float64)
    values = np.asarray(signal.values, dtype=np.float64)
    if values.size < 2:
        return []
    if threshold is None:
        body = values[1:]  # the first frame's 0.0 is not a measurement
        median = float(np.median(body))
        mad = float(np.median(np.abs(body - median))) * 1.4826
        threshold = max(median + MAD_FACTOR * mad, ABSOLUTE_FLOOR)
    above = [int(i) for i in np.flatnonzero(values > threshold) if i > 0]
    candidates = [i for i in above if _stands_out(times, values, i, min_gap)]
    accepted: list[int] = []
    for i in sorted(candidates, key=lambda j: -values[j]):
        if all(abs(times[i] - times[j]) >= min_gap for j in accepted):
            accepted.append(i)
    return sorted(float(times[i]) for i in accepted)


def _stands_out(times: np.ndarray, values: np.ndarray, index: int, window: float) -> bool:
    """Whether values[index] is LOCAL_RATIO times the median of its neighbours within `window` seconds."""
    near = (np.abs(times - times[index]) <= max(window, 1e-9)) & (np.arange(values.size) != index)
    near[0] = False
    if not near.any():
        return True
    return bool(values[index] >= LOCAL_RATIO * float(np.median(values[near])))
