"""The musicvae-stream decoder through score's contracts and the real `score run`, with a tiny model."""

import json

import numpy as np
import pytest
import torch

from score_cli.app import main
from score_core.contracts import LatentTrack
from score_core.midi import read_midi
from score_core.testing import check_decoder
from score_music.stream.decoder import load_stream_decoder
from score_music.stream.model import STREAM_CONFIGS, StreamVAE
from score_music.stream.weights import save_stream_weights


@pytest.fixture(scope="module")
def tiny_stream(tmp_path_factory):
    torch.manual_seed(0)
    model = StreamVAE(STREAM_CONFIGS["stream-tiny"])
    with torch.no_grad():
        model.output_projection.bias[2:] += 2.0  # an untrained model should still play notes, not only rests
    return save_stream_weights(model.eval(), tmp_path_factory.mktemp("stream") / "tiny-stream.pt")


def test_stream_decoder_passes_the_decoder_conformance_checks(tiny_stream):
    decoder = load_stream_decoder(str(tiny_stream))
    assert decoder.latent_spec.steps_per_latent == 4
    check_decoder(decoder)


def test_each_latent_is_read_for_the_steps_of_its_own_beat(tiny_stream):
    decoder = load_stream_decoder(str(tiny_stream))
    spec = decoder.latent_spec
    starts = np.arange(8) * 0.5  # beats at 120 bpm
    values = np.random.default_rng(0).standard_normal((8, spec.size)).astype(np.float32)
    track = LatentTrack(starts=starts, ends=starts + 0.5, values=values, spec=spec, tempo_bpm=120.0)
    changed = values.copy()
    changed[5:] = np.random.default_rng(1).standard_normal((3, spec.size))
    first = decoder.events(values, np.full(8, 4), temperature=0.0, seed=0)
    second = decoder.events(changed, np.full(8, 4), temperature=0.0, seed=0)
    assert first.shape == (32,)
    assert np.array_equal(first[:20], second[:20])  # beats 0-4 cannot hear beat 5's latent
    score = decoder.decode(track, temperature=0.0, seed=0)
    assert score.duration == pytest.approx(4.0)
    assert all(n.end <= 4.0 + 1e-9 for n in score.notes)


def test_score_run_on_the_grid_reads_one_latent_per_beat(tiny_stream, tmp_path):
    from score_core.media.synthetic import write_test_video

    clip = write_test_video(tmp_path / "clip.mp4", duration=6.0, cuts=(3.0,))
    assert main(["run", str(clip), "--vision", "color-stats", "--music", "musicvae-stream", "--music-weights",
                 str(tiny_stream), "--sync", "grid", "--no-audio", "--no-video", "-o", str(tmp_path / "out")]) == 0
    sidecar = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert sidecar["music"]["segments"] == 12  # 6 s at 120 bpm = 12 beats, one latent each
    assert sidecar["provenance"]["decoder"]["name"] == "musicvae-stream"
    assert sidecar["provenance"]["decoder"]["config"] == "stream-tiny"
    assert read_midi(tmp_path / "out" / "clip.mid").notes


def test_sample_stream_writes_one_melody_per_sample_and_refuses_to_overwrite(tiny_stream, tmp_path, capsys):
    target = tmp_path / "s.mid"
    args = ["music", "sample-stream", "-o", str(target), "-n", "2", "--bars", "2", "--weights", str(tiny_stream)]
    assert main(args) == 0
    score = read_midi(target)
    assert [m.text for m in score.markers] == ["sample 1", "sample 2"]
    assert score.notes and max(n.end for n in score.notes) <= 8.0 + 1e-6  # 2 × 2 bars at 120 bpm
    assert main(args) != 0
    assert "already exists" in capsys.readouterr().err


def test_beat_path_starts_a_new_beat_at_each_segment_so_a_cut_is_a_latent_jump(tiny_stream):
    decoder = load_stream_decoder(str(tiny_stream))
    spec = decoder.latent_spec
    steps = np.arange(11, dtype=np.float32)[:, None].repeat(spec.size, axis=1)  # latent = step index
    track = LatentTrack(
        starts=np.array([0.0, 0.75]), ends=np.array([0.75, 1.375]), values=np.zeros((2, spec.size), np.float32),
        spec=spec, tempo_bpm=120.0, step_times=np.arange(12) * 0.125, step_values=steps, segment_steps=(6, 5),
        segment_resets=(False, True),
    )
    path = decoder.beat_path(track)[:, 0]
    assert path.tolist() == [1.5] * 4 + [4.5] * 2 + [7.5] * 4 + [10.0]
    score = decoder.decode(track, temperature=1.0, seed=0)
    assert score.duration == pytest.approx(1.375)


def test_a_returning_theme_brings_back_its_notes_from_its_own_random_stream(tiny_stream):
    decoder = load_stream_decoder(str(tiny_stream))
    spec = decoder.latent_spec
    rng = np.random.default_rng(0)
    theme, other = rng.standard_normal((2, 16, spec.size)).astype(np.float32)
    path = np.concatenate([theme, other, theme])  # shots of 16 steps: theme A, theme B, theme A again

    def notes(themes):
        track = LatentTrack(
            starts=np.array([0.0, 2.0, 4.0]), ends=np.array([2.0, 4.0, 6.0]),
            values=np.zeros((3, spec.size), np.float32), spec=spec, tempo_bpm=120.0,
            step_times=np.arange(49) * 0.125, step_values=path, segment_steps=(16, 16, 16),
            segment_resets=(False, True, True), segment_themes=themes,
        )
        score = decoder.decode(track, temperature=1.0, seed=3)
        return [[(round(n.start - start, 6), n.pitch) for n in score.notes if start <= n.start < start + 2.0]
                for start in (0.0, 2.0, 4.0)]

    themed = notes((0, 1, 0))
    assert themed[0] and themed[2] == themed[0]
    assert notes(None)[2] != notes(None)[0]  # without themes the sampled notes differ (one random stream)
