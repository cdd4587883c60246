"""mux_audio(): the video stream copied untouched, the WAV as AAC cut to the video's length."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from score_core.errors import ScoreError
from score_core.media import mux_audio, probe, synthetic

REAL_VIDEOS = Path(__file__).parents[3].parent / "shared" / "data" / "video"


def needs_real_videos(test: Callable[..., None]) -> Callable[..., None]:
    """The test reads the clips in ../shared/data/video: marked shared_data, skipped when they are absent."""
    skip = pytest.mark.skipif(not REAL_VIDEOS.is_dir(), reason=f"real sample videos not found at {REAL_VIDEOS}")
    return pytest.mark.shared_data(skip(test))


def video_packets(path: Path) -> tuple[str, list[tuple[int | None, int | None, str]]]:
    """Codec and (pts, dts, sha1 of the bytes) of every video packet."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts, hashlib.sha1(bytes(p)).hexdigest()) for p in container.demux(stream) if p.size]
        return stream.codec_context.name, packets


def stream_seconds(stream: av.stream.Stream) -> float:
    assert stream.duration is not None and stream.time_base is not None
    return float(stream.duration * stream.time_base)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mux")
    return {
        "video": synthetic.write_test_video(root / "video.mp4", duration=4.0, cuts=(2.0,), audio=True),
        "long": synthetic.write_audio_only(root / "long.wav", 6.5),
        "short": synthetic.write_audio_only(root / "short.wav", 1.5, channels=1),
        "root": root,
    }


def test_video_is_copied_packet_for_packet_and_audio_cut_to_its_length(media: dict[str, Path]) -> None:
    output = media["root"] / "scored.mp4"
    mux_audio(media["video"], media["long"], output)
    source_codec, source_packets = video_packets(media["video"])
    codec, packets = video_packets(output)
    assert codec == source_codec == "h264"
    assert len(packets) == len(source_packets) == 100
    assert [digest for *_, digest in packets] == [digest for *_, digest in source_packets]
    with av.open(str(output)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1  # source audio dropped
        audio, video = container.streams.audio[0], container.streams.video[0]
        assert audio.codec_context.name == "aac" and audio.channels == 2
        assert stream_seconds(audio) == pytest.approx(stream_seconds(video), abs=0.1)
        decoded = sum(frame.samples for frame in container.decode(audio))
        assert decoded / audio.rate == pytest.approx(4.0, abs=0.1)
    assert probe(output).has_audio


def test_a_shorter_wav_just_ends(media: dict[str, Path]) -> None:
    output = media["root"] / "short.mp4"
    mux_audio(media["video"], media["short"], output)
    with av.open(str(output)) as container:
        audio = container.streams.audio[0]
        assert audio.channels == 1
        assert stream_seconds(audio) == pytest.approx(1.5, abs=0.05)
        assert stream_seconds(container.streams.video[0]) == pytest.approx(4.0)


def test_display_rotation_survives_the_copy(tmp_path: Path, media: dict[str, Path]) -> None:
    video = synthetic.write_test_video(tmp_path / "turned.mp4", duration=1.0, rotation=270)
    mux_audio(video, media["long"], tmp_path / "out.mp4")
    assert probe(tmp_path / "out.mp4").rotation == 270


def test_a_codec_mp4_cannot_hold_is_reencoded_with_h264(tmp_path: Path, media: dict[str, Path]) -> None:
    video = synthetic.write_test_video(tmp_path / "clip.webm", duration=2.0, codec="libvpx")
    output = tmp_path / "out.mp4"
    mux_audio(video, media["long"], output)
    info = probe(output)
    assert info.codec == "h264" and info.frame_count == 50
    assert info.duration == pytest.approx(2.0, abs=0.01)
    with av.open(str(output)) as container:
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(2.0, abs=0.1)


def test_output_is_mp4_whatever_its_name(tmp_path: Path, media: dict[str, Path]) -> None:
    output = tmp_path / "scored.mp4.part"
    mux_audio(media["video"], media["long"], output)
    assert probe(output).has_audio


def test_errors_name_the_file_at_fault(tmp_path: Path, media: dict[str, Path]) -> None:
    text = tmp_path / "fake.wav"
    text.write_text("not audio " * 20)
    cases = [
        (tmp_path / "nope.mp4", media["long"], tmp_path / "o1.mp4", tmp_path / "nope.mp4", "no such file"),
        (media["long"], media["long"], tmp_path / "o2.mp4", media["long"], "has no video stream"),
        (media["video"], tmp_path / "nope.wav", tmp_path / "o3.mp4", tmp_path / "nope.wav", "no such file"),
        (media["video"], text, tmp_path / "o4.mp4", text, "not an audio file"),
        (
            media["video"],
            media["long"],
            tmp_path / "no" / "dir" / "o6.mp4",
            tmp_path / "no" / "dir" / "o6.mp4",
            "cannot be written",
        ),
    ]
    for video, wav, output, subject, cause in cases:
        with pytest.raises(ScoreError) as caught:
            mux_audio(video, wav, output)
        assert caught.value.subject == str(subject) and cause in caught.value.cause
        assert not output.exists()  # nothing half-written is left behind


def test_a_video_file_as_the_soundtrack_uses_its_audio(tmp_path: Path, media: dict[str, Path]) -> None:
    mux_audio(media["video"], media["video"], tmp_path / "self.mp4")
    with av.open(str(tmp_path / "self.mp4")) as container:
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(4.0, abs=0.1)


@needs_real_videos
def test_real_clip_with_surround_sound(tmp_path: Path, media: dict[str, Path]) -> None:
    source = REAL_VIDEOS / "skv_bigbuckbunny.mp4"
    output = tmp_path / "bunny.mp4"
    mux_audio(source, media["long"], output)
    assert video_packets(output) == video_packets(source)
    with av.open(str(output)) as container:
        assert [s.channels for s in container.streams.audio] == [2]  # the 5.1 track is gone
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(5.28, abs=0.1)


def test_a_long_soundtrack_encoded_in_two_halves_plays_as_one(tmp_path: Path) -> None:
    import numpy as np

    from score_core.audio import write_wav
    from score_core.media import mux

    seconds, rate = 24.0, 44100
    assert seconds >= mux.PARALLEL_AUDIO_SECONDS
    time = np.arange(round(seconds * rate)) / rate
    pitch = 220.0 * 2 ** (np.floor(time * 4) % 12 / 12)  # a new note every 1/4 s, through the splice
    tone = 0.4 * np.sin(2 * np.pi * np.cumsum(pitch) / rate) * np.exp(-3 * (time % 0.25))
    wav = write_wav(tmp_path / "music.wav", np.stack([tone, 0.5 * tone], axis=1).astype(np.float32), rate)
    video = synthetic.write_test_video(tmp_path / "video.mp4", duration=seconds, size=(64, 96))
    output = tmp_path / "scored.mp4"
    mux_audio(video, wav, output)
    with av.open(str(output)) as container:
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(container.streams.audio[0])], axis=1)
    assert abs(decoded.shape[1] - time.size) < 2048
    error = np.abs(decoded[0, : time.size] - tone[: decoded.shape[1]])
    splice = mux._splice_sample(time.size, rate)
    if splice is None:
        pytest.skip("one CPU: the soundtrack is encoded in one piece")
    around = error[splice - rate // 10 : splice + rate // 10]
    elsewhere = np.concatenate([error[rate : splice - rate // 10], error[splice + rate // 10 : -rate]])
    assert around.max() <= 1.5 * elsewhere.max() + 1e-3  # no gap or click where the second encoder takes over
    assert np.corrcoef(decoded[0, : time.size], tone[: decoded.shape[1]])[0, 1] > 0.999
