"""`score run --music musicvae-stream` with the shipped weights, through the installed CLI."""

import json

import pytest
from score_e2e import run_score

from score_core.midi import read_midi


@pytest.mark.parametrize("sync", ["cuts", "grid"])
def test_score_run_with_the_shipped_stream_decoder(clip, tmp_path, sync):
    pytest.importorskip("score_music", reason="score-music is not installed (the light tox environment)")
    result = run_score("run", clip, "--vision", "color-stats", "--music", "musicvae-stream", "--sync", sync,
                       "--no-audio", "--no-video", "-o", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "clip.json").read_text())
    assert sidecar["provenance"]["decoder"]["name"] == "musicvae-stream"
    assert sidecar["provenance"]["decoder"]["weights"] == "shipped:musicvae-stream.pt"
    if sync == "grid":
        assert sidecar["music"]["segments"] == 20  # 10 s at 120 bpm: one latent per beat
    notes = read_midi(tmp_path / "clip.mid").notes
    assert notes and max(n.end for n in notes) <= 10.0 + 1e-6
