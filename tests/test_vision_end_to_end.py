"""`score run` with the real ImageNet encoders of score-vision (full install only)."""

import json

import mido
import pytest
from score_e2e import run_score, shared_video

pytest.importorskip("score_vision", reason="score-vision is not installed (the light tox environment)")


def test_default_encoder_is_efficientnet_lite0_and_works_offline(clip, tmp_path):
    result = run_score("run", clip, "--music", "arpeggio", "--no-video", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    encoder = json.loads((tmp_path / "clip.json").read_text())["provenance"]["encoder"]
    assert encoder["name"] == "efficientnet-lite0"
    assert encoder["distribution"] == "score-vision"
    assert encoder["weights_sha256"].startswith("57934424")


def test_mobilenet_without_cached_weights_stops_before_decoding(clip, tmp_path):
    out = tmp_path / "out"
    result = run_score("run", clip, "--vision", "mobilenet", "--music", "arpeggio", "-o", out,
                       env={"TORCH_HOME": str(tmp_path / "empty-cache")})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "mobilenet_v2-7ebf99e0.pth" in lines[0]
    assert str(tmp_path / "empty-cache") in lines[0]
    assert "--vision-weights" in lines[0]
    assert not out.exists() or not list(out.iterdir())


def test_an_earlier_layer_is_used_and_recorded(clip, tmp_path):
    result = run_score("run", clip, "--vision", "efficientnet-lite0", "--layer", "_blocks.3", "--music", "arpeggio",
                       "--no-audio", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "clip.json").read_text())
    assert sidecar["parameters"]["vision_layer"] == "_blocks.3"
    assert sidecar["provenance"]["encoder"]["layer"] == "_blocks.3"


@pytest.mark.shared_data
def test_real_clip_with_the_default_encoder(tmp_path):
    video = shared_video("skv_bikes.mp4")
    result = run_score("run", video, "--music", "arpeggio", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".mid", ".mp4", ".wav"]


def test_defaults_are_efficientnet_lite0_and_the_band_on_the_shipped_musicvae(clip, tmp_path):
    pytest.importorskip("score_music", reason="score-music is not installed (the light tox environment)")
    result = run_score("run", clip, "-o", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "clip.json").read_text())
    assert sidecar["provenance"]["encoder"]["name"] == "efficientnet-lite0"
    assert sidecar["provenance"]["decoder"]["name"] == "band"
    parts = sidecar["provenance"]["decoder"]["parts"]
    assert parts["melody"]["weights"].startswith("shipped:") and parts["drums"]["weights"].startswith("shipped:")
    assert sidecar["music"]["notes"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mid", "clip.mp4", "clip.stems", "clip.wav"]
    assert {track.name for track in mido.MidiFile(tmp_path / "clip.mid").tracks} >= {"melody", "bass", "drums"}
