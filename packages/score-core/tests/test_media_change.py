"""The visual change signal from the decode pass, and cut detection on it."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from score_core.contracts import SignalTrack
from score_core.media import FrameReader, detect_cuts, synthetic

REAL_VIDEOS = Path(__file__).parents[3].parent / "shared" / "data" / "video"


def needs_real_videos(test: Callable[..., None]) -> Callable[..., None]:
    """The test reads the clips in ../shared/data/video: marked shared_data, skipped when they are absent."""
    skip = pytest.mark.skipif(not REAL_VIDEOS.is_dir(), reason=f"real sample videos not found at {REAL_VIDEOS}")
    return pytest.mark.shared_data(skip(test))


def change_signal(path: Path, fps: float = 2.0) -> SignalTrack:
    reader = FrameReader(path, fps=fps, size=(16, 16))
    for _ in reader:
        pass
    return reader.visual_change()


def test_the_signal_has_one_value_per_decoded_frame(tmp_path: Path) -> None:
    path = synthetic.write_test_video(tmp_path / "clip.mp4", duration=3.0, cuts=(1.0,))
    reader = FrameReader(path, fps=1, size=(8, 8))
    kept = sum(len(batch) for batch in reader)
    signal = reader.visual_change()
    assert kept == 3
    assert signal.name == "visual-change"
    assert reader.frames_decoded == signal.values.size == 75
    np.testing.assert_allclose(signal.times, synthetic.frame_times(3.0), atol=1e-9)
    assert signal.values[0] == 0.0
    assert np.all((signal.values >= 0) & (signal.values <= 1))
    assert signal.times[np.argmax(signal.values)] == pytest.approx(1.0)


@pytest.mark.parametrize("variable_frame_rate", [False, True])
def test_hard_cuts_are_found_within_one_frame(tmp_path: Path, variable_frame_rate: bool) -> None:
    cuts = (1.0, 2.6, 4.2, 7.0)
    path = synthetic.write_test_video(
        tmp_path / "cuts.mp4", duration=9.0, fps=25, cuts=cuts, variable_frame_rate=variable_frame_rate
    )
    frame_times = synthetic.frame_times(9.0, 25, variable_frame_rate)
    found = detect_cuts(change_signal(path))
    assert len(found) == len(cuts), found
    for cut, time in zip(cuts, found, strict=True):
        first_of_shot = frame_times[np.searchsorted(frame_times, cut - 1e-9)]
        assert time == pytest.approx(first_of_shot, abs=1e-6)
        assert abs(time - cut) <= 1.8 / 25


def test_smooth_motion_has_no_cuts(tmp_path: Path) -> None:
    path = synthetic.write_test_video(tmp_path / "smooth.mp4", duration=8.0, fps=25)
    signal = change_signal(path)
    assert signal.values.max() > 0.003  # it does move
    assert detect_cuts(signal) == []


def test_a_static_video_has_no_cuts(tmp_path: Path) -> None:
    path = tmp_path / "static.mp4"
    image = synthetic.render_frame(0.0)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 64, 96, "yuv420p"
        for index in range(50):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    signal = change_signal(path)
    assert signal.values.max() < 0.01
    assert detect_cuts(signal) == []


def _signal(values: list[float], fps: float = 25.0) -> SignalTrack:
    return SignalTrack(times=np.arange(len(values)) / fps, values=np.array(values), name="visual-change")


def test_detect_cuts_on_hand_made_signals() -> None:
    base = [0.0] + [0.01, 0.012, 0.008] * 30
    spiky = list(base)
    spiky[20], spiky[21], spiky[60] = 0.5, 0.3, 0.4  # a cut over two frames counts once
    assert detect_cuts(_signal(spiky)) == [pytest.approx(20 / 25), pytest.approx(60 / 25)]
    assert detect_cuts(_signal(spiky), min_gap=2.0) == [pytest.approx(20 / 25)]
    assert detect_cuts(_signal(spiky), threshold=0.45) == [pytest.approx(20 / 25)]
    assert detect_cuts(_signal(base)) == []
    below_floor = list(base)
    below_floor[40] = 0.06  # far above the typical change, but still a small change
    assert detect_cuts(_signal(below_floor)) == []
    assert detect_cuts(_signal([0.0])) == [] and detect_cuts(_signal([])) == []


def test_fast_motion_is_not_a_cut() -> None:
    calm = [0.0] + [0.01] * 40
    busy = [0.2, 0.25, 0.22, 0.3, 0.21, 0.26] * 5  # a whip pan: large but sustained change
    assert detect_cuts(_signal(calm + busy + calm)) == []


@needs_real_videos
def test_real_bikes_cuts() -> None:
    # skv_bikes.mp4 holds five hard cuts (checked by eye on the frames either side)
    found = detect_cuts(change_signal(REAL_VIDEOS / "skv_bikes.mp4"))
    np.testing.assert_allclose(found, [1.2, 3.04, 5.48, 7.48, 9.68], atol=0.041)


@needs_real_videos
@pytest.mark.parametrize("name", ["skv_bigbuckbunny.mp4", "mdn_flower.mp4", "mdn_friday.mp4"])
def test_real_single_shot_clips_have_no_cuts(name: str) -> None:
    assert detect_cuts(change_signal(REAL_VIDEOS / name)) == []
