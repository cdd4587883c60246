"""`score run` end to end through the installed CLI and plugins: outputs, lengths, reproducibility."""

import json

import av
import pytest
from score_e2e import run_score, shared_video

from score_core.audio import read_wav
from score_core.media import probe
from score_core.media.synthetic import write_test_video
from score_core.midi import midi_duration, read_midi

EXAMPLE = ("--vision", "color-stats", "--music", "arpeggio")


def _stream_durations(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        return (
            float(video.duration * video.time_base),
            float(audio.duration * audio.time_base),
            video.codec_context.name,
        )


def test_run_writes_midi_wav_mp4_and_sidecar(clip, tmp_path):
    out = tmp_path / "out"
    result = run_score("run", clip, *EXAMPLE, "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.mid", "clip.mp4", "clip.wav"]
    assert set(summary["outputs"]) == {"midi", "audio", "video", "sidecar"}

    score = read_midi(out / "clip.mid")
    assert midi_duration(out / "clip.mid") == pytest.approx(10.0, abs=0.01)  # trimmed to the video
    assert 80.0 <= score.tempo_bpm <= 140.5  # --sync cuts (the default) fits the tempo to the cuts
    assert any(m.text == "cut" and abs(m.time - 3.0) < 0.1 for m in score.markers)
    assert any(m.text == "cut" and abs(m.time - 7.0) < 0.1 for m in score.markers)

    samples, rate = read_wav(out / "clip.wav")
    assert abs(len(samples) / rate - 10.0) < 0.05
    assert samples.std() > 0.01

    video_seconds, audio_seconds, codec = _stream_durations(out / "clip.mp4")
    assert codec == "h264"
    assert abs(audio_seconds - video_seconds) < 0.1

    sidecar = json.loads((out / "clip.json").read_text())
    assert sidecar["parameters"]["seed"] == 0
    assert sidecar["provenance"]["encoder"]["distribution"] == "score-plugin-example"
    assert sidecar["provenance"]["encoder"]["version"] == "0.1.0"
    assert sidecar["provenance"]["bridge"]["sha256"]
    assert sidecar["writers"]["audio"]["renderer"] in {"fluidsynth", "numpy-synth"}


def test_same_seed_gives_byte_identical_midi(clip, tmp_path):
    outputs = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = run_score("run", clip, *EXAMPLE, "--seed", seed, "--no-audio", "-o", tmp_path / name)
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / name / "clip.mid").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_variable_frame_rate_video_is_sampled_from_real_timestamps(tmp_path):
    video = write_test_video(tmp_path / "vfr.mp4", duration=9.0, variable_frame_rate=True, cuts=(4.5,))
    result = run_score("run", video, *EXAMPLE, "--no-audio", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "out" / "vfr.json").read_text())
    assert sidecar["music"]["frames_encoded"] == pytest.approx(9.0 * 4, abs=2)
    assert any(abs(t - 4.5) < 0.1 for t in sidecar["provenance"]["cuts"])


def test_no_video_writes_midi_wav_and_sidecar_only(clip, tmp_path):
    result = run_score("run", clip, *EXAMPLE, "--no-video", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mid", "clip.wav"]


@pytest.mark.shared_data
def test_real_clip_with_hard_cuts(tmp_path):
    video = shared_video("skv_bikes.mp4")
    result = run_score("run", video, *EXAMPLE, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    info = probe(video)
    assert midi_duration(tmp_path / "skv_bikes.mid") == pytest.approx(info.duration, abs=0.01)
    video_seconds, audio_seconds, _ = _stream_durations(tmp_path / "skv_bikes.mp4")
    assert abs(audio_seconds - video_seconds) < 0.1
    cuts = json.loads((tmp_path / "skv_bikes.json").read_text())["provenance"]["cuts"]
    assert any(abs(t - 1.2) < 0.3 for t in cuts)
