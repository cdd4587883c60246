"""probe(): facts about real (synthetic and shipped) videos, and a one-line ScoreError for every bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from score_core.errors import ScoreError
from score_core.media import probe, synthetic

REAL_VIDEOS = Path(__file__).parents[3].parent / "shared" / "data" / "video"


def needs_real_videos(test: Callable[..., None]) -> Callable[..., None]:
    """The test reads the clips in ../shared/data/video: marked shared_data, skipped when they are absent."""
    skip = pytest.mark.skipif(not REAL_VIDEOS.is_dir(), reason=f"real sample videos not found at {REAL_VIDEOS}")
    return pytest.mark.shared_data(skip(test))


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("probe")
    return {
        "cfr": synthetic.write_test_video(root / "cfr.mp4", duration=4.0, fps=25, size=(64, 96)),
        "audio": synthetic.write_test_video(root / "audio.mp4", duration=3.0, fps=30, audio=True),
        "vfr": synthetic.write_test_video(root / "vfr.mp4", duration=5.0, fps=20, variable_frame_rate=True),
        "rotated": synthetic.write_test_video(root / "rotated.mp4", duration=1.0, rotation=90),
        "webm": synthetic.write_test_video(root / "clip.webm", duration=2.0, codec="libvpx"),
    }


def test_probe_reads_the_facts_of_a_constant_rate_video(videos: dict[str, Path]) -> None:
    info = probe(videos["cfr"])
    assert info.path == str(videos["cfr"])
    assert info.duration == pytest.approx(4.0, abs=1e-6)
    assert info.frame_rate == pytest.approx(25.0)
    assert info.frame_count == 100
    assert (info.width, info.height) == (96, 64)
    assert info.rotation == 0
    assert info.codec == "h264"
    assert info.has_audio is False


def test_probe_sees_the_audio_stream(videos: dict[str, Path]) -> None:
    info = probe(videos["audio"])
    assert info.has_audio is True
    assert info.frame_rate == pytest.approx(30.0)
    assert info.duration == pytest.approx(3.0, abs=0.04)


def test_probe_measures_the_average_rate_of_a_variable_rate_video(videos: dict[str, Path]) -> None:
    times = synthetic.frame_times(5.0, fps=20, variable_frame_rate=True)
    info = probe(videos["vfr"])
    assert info.frame_count == len(times)
    assert info.duration == pytest.approx(5.0, abs=0.1)
    assert info.frame_rate == pytest.approx(len(times) / info.duration, rel=0.02)


def test_probe_reports_display_rotation_clockwise(videos: dict[str, Path]) -> None:
    info = probe(videos["rotated"])
    assert info.rotation == 90
    assert (info.width, info.height) == (96, 64)
    assert info.display_size == (64, 96)


def test_probe_reads_a_webm_without_a_declared_frame_count(videos: dict[str, Path]) -> None:
    info = probe(videos["webm"])
    assert info.codec == "vp8"
    assert info.frame_count is None
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.frame_rate == pytest.approx(25.0)


def _bad_inputs(root: Path) -> dict[str, tuple[Path, str]]:
    good = synthetic.write_test_video(root / "good.mp4", duration=4.0)
    text = root / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    no_moov = root / "no_moov.mp4"
    no_moov.write_bytes(good.read_bytes()[:32])  # the ftyp box only
    return {
        "missing": (root / "missing.mp4", "no such file"),
        "directory": (root, "is a directory"),
        "text": (synthetic.copy_with_suffix(text, root / "text.mp4"), "not a video file"),
        "empty file": (synthetic.truncate_file(good, root / "empty.mp4", 0.0), "is an empty file"),
        "no moov": (no_moov, "not a video file"),
        "audio only": (synthetic.write_audio_only(root / "sound.m4a", 1.0), "has no video stream"),
        "wav": (synthetic.write_audio_only(root / "sound.wav", 1.0), "has no video stream"),
        "zero frames": (synthetic.write_empty_video(root / "empty.avi"), "holds no video frames"),
        "truncated": (synthetic.truncate_file(good, root / "half.mp4", 0.5), "corrupt or truncated at"),
        "truncated header": (synthetic.truncate_file(good, root / "head.mp4", 0.03), "corrupt or truncated"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "directory",
        "text",
        "empty file",
        "no moov",
        "audio only",
        "wav",
        "zero frames",
        "truncated",
        "truncated header",
    ],
)
def test_probe_turns_each_bad_input_into_a_one_line_score_error(tmp_path: Path, case: str) -> None:
    path, cause = _bad_inputs(tmp_path)[case]
    with pytest.raises(ScoreError) as caught:
        probe(path)
    error = caught.value
    assert error.subject == str(path)
    assert cause in error.cause
    assert "\n" not in str(error)
    assert str(tmp_path) not in error.cause  # the path is named once, as the subject
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None  # no PyAV exception chained


def test_probe_names_where_a_truncated_file_stops(tmp_path: Path) -> None:
    good = synthetic.write_test_video(tmp_path / "good.mp4", duration=10.0)
    with pytest.raises(ScoreError, match=r"corrupt or truncated at [3-6]\.\d s"):
        probe(synthetic.truncate_file(good, tmp_path / "half.mp4", 0.5))


@needs_real_videos
def test_probe_real_bigbuckbunny() -> None:
    info = probe(REAL_VIDEOS / "skv_bigbuckbunny.mp4")
    assert (info.width, info.height, info.frame_rate) == (1280, 720, 25.0)
    assert info.duration == pytest.approx(5.28, abs=0.01)
    assert info.frame_count == 132
    assert info.has_audio is True


@needs_real_videos
def test_probe_real_webm_and_odd_rates() -> None:
    webm = probe(REAL_VIDEOS / "mdn_flower.webm")
    assert webm.codec == "vp8" and webm.frame_rate == pytest.approx(29.97, abs=0.01)
    short = probe(REAL_VIDEOS / "imageio_realshort.mp4")
    assert short.frame_rate == pytest.approx(45000 / 1499) and short.frame_count == 36
    bikes = probe(REAL_VIDEOS / "skv_bikes.mp4")
    assert (bikes.width, bikes.height, bikes.has_audio, bikes.duration) == (640, 272, False, 10.0)
