"""sample_frames / FrameReader: real timestamps, resizing, batches, errors, early stop, flat memory."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import tracemalloc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from score_core.errors import ScoreError
from score_core.media import FrameBatch, FrameReader, sample_frames, synthetic

REAL_VIDEOS = Path(__file__).parents[3].parent / "shared" / "data" / "video"


def needs_real_videos(test: Callable[..., None]) -> Callable[..., None]:
    """The test reads the clips in ../shared/data/video: marked shared_data, skipped when they are absent."""
    skip = pytest.mark.skipif(not REAL_VIDEOS.is_dir(), reason=f"real sample videos not found at {REAL_VIDEOS}")
    return pytest.mark.shared_data(skip(test))


RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def write_band_video(path: Path, *, rotation: int = 0, frames: int = 10) -> Path:
    """A static 96x64 video: left quarter red, middle half green, right quarter blue."""
    image = np.zeros((64, 96, 3), np.uint8)
    image[:, :24], image[:, 24:72], image[:, 72:] = RED, GREEN, BLUE
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 64, 96, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "qp": "0"}
        if rotation:
            stream.set_display_rotation(-rotation)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def all_batches(path: Path, **kwargs: object) -> list[FrameBatch]:
    return list(sample_frames(path, **kwargs))  # type: ignore[arg-type]


def decoded_times(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.array([frame.time for frame in container.decode(video=0)])


def expected_samples(times: np.ndarray, fps: float) -> np.ndarray:
    """For every grid point k/fps, the first frame at or after it; each frame once."""
    grid = np.arange(0, times[-1] + 1e-9, 1 / fps)
    firsts = np.searchsorted(times, grid - 1e-9, side="left")
    return times[np.unique(firsts[firsts < len(times)])]


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "score-decode" and t.is_alive()]


def open_fds_to(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc to list open files")
    count = 0
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd) == str(path.resolve())
    return count


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_test_video(tmp_path_factory.mktemp("frames") / "clip.mp4", duration=4.0, fps=25)


def test_batches_have_the_promised_shapes_and_types(clip: Path) -> None:
    batches = all_batches(clip, fps=5, size=(40, 30), batch_size=7)
    assert [len(b) for b in batches] == [7, 7, 6]
    for batch in batches:
        assert batch.times.dtype == np.float64 and batch.times.shape == (len(batch),)
        assert batch.frames.dtype == np.uint8 and batch.frames.shape == (len(batch), 40, 30, 3)
        assert batch.frames.flags.c_contiguous
    times = np.concatenate([b.times for b in batches])
    np.testing.assert_allclose(times, np.arange(20) * 0.2, atol=1e-9)


def test_sampled_frames_show_their_timestamp(clip: Path) -> None:
    for batch in sample_frames(clip, fps=3, size=(64, 96), resize="stretch"):
        for time, frame in zip(batch.times, batch.frames, strict=True):
            error = np.abs(frame.astype(int) - synthetic.render_frame(time)).mean()
            later = np.abs(frame.astype(int) - synthetic.render_frame(time + 0.3)).mean()
            assert error < 6 and error < later / 2


def test_variable_frame_rate_sampling_follows_real_timestamps(tmp_path: Path) -> None:
    path = synthetic.write_test_video(tmp_path / "vfr.mp4", duration=6.0, fps=25, variable_frame_rate=True)
    times = decoded_times(path)
    np.testing.assert_allclose(times, synthetic.frame_times(6.0, 25, variable_frame_rate=True), atol=1e-9)
    assert np.ptp(np.diff(times)) > 0.03  # really irregular
    for fps in (4.0, 10.0, 25.0, 60.0):
        batches = all_batches(path, fps=fps, size=(64, 96), resize="stretch")
        sampled = np.concatenate([b.times for b in batches])
        np.testing.assert_allclose(sampled, expected_samples(times, fps), atol=1e-9)
        assert np.all(np.diff(sampled) > 0)
    # the pixels belong to the timestamps too
    last = batches[-1]
    for time, frame in zip(last.times, last.frames, strict=True):
        assert np.abs(frame.astype(int) - synthetic.render_frame(time)).mean() < 6


def test_sampling_skips_ahead_over_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "gap.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 64, 96, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 100)
        for pts in [*range(0, 100, 4), *range(300, 400, 4)]:  # 1 s of frames, 2 s of nothing, 1 s of frames
            frame = av.VideoFrame.from_ndarray(synthetic.render_frame(pts / 100), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 100)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    sampled = np.concatenate([b.times for b in sample_frames(path, fps=2, size=(8, 8))])
    np.testing.assert_allclose(sampled, [0.0, 0.52, 3.0, 3.52], atol=1e-9)


def test_crop_keeps_the_aspect_ratio_and_stretch_does_not(tmp_path: Path) -> None:
    path = write_band_video(tmp_path / "bands.mp4")
    cropped = all_batches(path, fps=25, size=(32, 32), resize="crop")[0].frames[0].astype(int)
    stretched = all_batches(path, fps=25, size=(32, 32), resize="stretch")[0].frames[0].astype(int)
    # 96x64 scaled to 48x32 covers 32x32; cropping 8 columns each side leaves 4 red, 24 green, 4 blue
    assert _band_widths(cropped[16]) == (4, 24, 4)
    assert _band_widths(stretched[16]) == (8, 16, 8)
    assert np.all(cropped[:, 16, 1] > 200)  # full height kept


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    path = write_band_video(tmp_path / "rotated.mp4", rotation=90)
    frame = all_batches(path, fps=25, size=(48, 32), resize="stretch")[0].frames[0].astype(int)
    # turned clockwise for display: the left (red) band is now at the top, blue at the bottom
    assert frame.shape == (48, 32, 3)
    assert _band_widths(frame[:, 16]) == (12, 24, 12)
    assert frame[2, 16, 0] > 200 and frame[-3, 16, 2] > 200


def _band_widths(line: np.ndarray) -> tuple[int, int, int]:
    """Pixels along `line` that are mostly red, green and blue."""
    dominant = line.argmax(axis=1)
    strong = line.max(axis=1) > 150
    return tuple(int(np.sum(strong & (dominant == c))) for c in range(3))  # type: ignore[return-value]


def test_max_duration_and_progress(clip: Path) -> None:
    seen: list[float] = []
    batches = all_batches(clip, fps=10, size=(16, 16), max_duration=1.5, on_progress=seen.append)
    times = np.concatenate([b.times for b in batches])
    assert times[-1] < 1.5 and len(times) == 15
    assert seen and seen == sorted(seen)
    assert seen[-1] == pytest.approx(1.48, abs=0.05)


def test_stopping_early_stops_the_thread_and_closes_the_file(tmp_path: Path) -> None:
    path = synthetic.write_test_video(tmp_path / "long.mp4", duration=20.0)
    reader = FrameReader(path, fps=25, size=(16, 16), batch_size=2)
    iterator = iter(reader)
    next(iterator)
    assert reader.is_decoding and open_fds_to(path) == 1
    iterator.close()  # what a `break` out of a for loop does
    assert not reader.is_decoding and not decode_threads()
    assert open_fds_to(path) == 0
    assert reader.frames_decoded < 500  # it did not decode the whole video


def test_an_exception_in_the_consumer_stops_the_decoder(clip: Path) -> None:
    def consume() -> None:
        for _ in sample_frames(clip, fps=25, size=(16, 16), batch_size=1):
            raise KeyError("encoder failed")

    with pytest.raises(KeyError):
        consume()
    gc.collect()
    assert not decode_threads()
    assert open_fds_to(clip) == 0


def test_a_reader_as_context_manager_closes(clip: Path) -> None:
    with FrameReader(clip, fps=25, size=(16, 16), batch_size=1) as reader:
        iterator = iter(reader)
        next(iterator)
    assert not reader.is_decoding
    iterator.close()


def test_truncated_video_raises_and_names_where(tmp_path: Path) -> None:
    good = synthetic.write_test_video(tmp_path / "good.mp4", duration=10.0)
    bad = synthetic.truncate_file(good, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(ScoreError, match=r"cut\.mp4: corrupt or truncated at [4-7]\.\d s"):
        all_batches(bad, fps=5, size=(16, 16))
    assert not decode_threads()


def test_truncated_matroska_without_an_index_still_raises(tmp_path: Path) -> None:
    good = synthetic.write_test_video(tmp_path / "good.mkv", duration=10.0)
    assert len(all_batches(good, fps=5, size=(8, 8), batch_size=100)[0]) == 50
    bad = synthetic.truncate_file(good, tmp_path / "cut.mkv", 0.5)
    with pytest.raises(ScoreError, match=r"corrupt or truncated at [3-6]\.\d s"):
        all_batches(bad, fps=5, size=(8, 8))


@pytest.mark.parametrize("name", ["missing.mp4", "text.mp4", "empty.avi", "sound.wav"])
def test_bad_inputs_raise_score_errors_from_the_iterator(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "text.mp4":
        path.write_text("hello " * 100)
    elif name == "empty.avi":
        synthetic.write_empty_video(path)
    elif name == "sound.wav":
        synthetic.write_audio_only(path, 0.5)
    with pytest.raises(ScoreError) as caught:
        all_batches(path, fps=5, size=(8, 8))
    assert caught.value.subject == str(path)
    assert not decode_threads()


def test_arguments_are_checked_before_decoding(clip: Path) -> None:
    for kwargs in ({"fps": 0}, {"size": (0, 5)}, {"resize": "fit"}, {"batch_size": 0}):
        args = {"fps": 5.0, "size": (8, 8), "resize": "crop", "batch_size": 4} | kwargs
        with pytest.raises(ValueError):
            FrameReader(clip, **args)  # type: ignore[arg-type]


def _peak_bytes_while_reading(path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        for batch in sample_frames(path, fps=25, size=(64, 96), batch_size=8):
            count += len(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 0
    return peak


def test_memory_stays_flat_in_video_length(tmp_path: Path) -> None:
    short = synthetic.write_test_video(tmp_path / "short.mp4", duration=10.0)
    long = synthetic.write_test_video(tmp_path / "long.mp4", duration=60.0)
    peak_short = _peak_bytes_while_reading(short)
    peak_long = _peak_bytes_while_reading(long)
    # keeping every frame would cost 1500 * 18 KB = 27 MB for the long clip
    assert peak_long < 1.3 * peak_short + 300_000, (peak_short, peak_long)
    assert peak_long < 3_000_000


@needs_real_videos
def test_real_clip_at_two_frames_per_second() -> None:
    reader = FrameReader(REAL_VIDEOS / "skv_bigbuckbunny.mp4", fps=2, size=(224, 224), batch_size=4)
    batches = list(reader)
    times = np.concatenate([b.times for b in batches])
    np.testing.assert_allclose(times, [0, 0.52, 1, 1.52, 2, 2.52, 3, 3.52, 4, 4.52, 5], atol=1e-9)
    assert batches[0].frames.shape == (4, 224, 224, 3)
    assert reader.frames_decoded == 132
    assert batches[0].frames.std() > 10  # a real picture, not a blank


@needs_real_videos
def test_real_webm_and_non_square_pixels() -> None:
    webm = np.concatenate([b.times for b in sample_frames(REAL_VIDEOS / "mdn_flower.webm", 1, (32, 32))])
    np.testing.assert_allclose(webm, [0, 1.001, 2.002, 3.003, 4.004], atol=0.01)
    frames = all_batches(REAL_VIDEOS / "skv_carphone_distorted.mp4", fps=1, size=(72, 88), resize="crop")
    assert frames[0].frames.shape == (4, 72, 88, 3)
