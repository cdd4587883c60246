"""The musicvae decoder plugin and the `score music` commands, with a small model saved by export_weights."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from score_cli.app import main
from score_core.contracts import LatentTrack, Note, Score
from score_core.midi import read_midi, write_midi
from score_core.testing import check_decoder
from score_music.export import export_weights, latent_usage
from score_music.loading import load_decoder
from score_music.melody import events_to_notes
from score_music.model import MusicVAE, get_config


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    model = MusicVAE(get_config("tiny"))
    windows = np.random.default_rng(0).integers(0, 90, size=(64, 32))
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    export_weights(model, path, windows, {"note": "untrained, for tests"})
    return path


@pytest.fixture
def scale_midi(tmp_path):
    notes = [Note(pitch=60 + p, velocity=90, start=0.25 * i, end=0.25 * i + 0.2) for i, p in
             enumerate([0, 2, 4, 5, 7, 9, 11, 12] * 4)]
    return write_midi(Score(notes=tuple(notes), tempo_bpm=120, duration=8.0), tmp_path / "scale.mid")


def test_card_orders_dimensions_by_use(tiny_weights):
    card = json.loads(tiny_weights.with_suffix(".json").read_text())
    usage = np.array(card["kl_per_dimension"])
    assert sorted(card["dimension_order"]) == list(range(8))
    assert np.all(np.diff(usage[card["dimension_order"]]) <= 1e-5)


def test_latent_usage_is_zero_for_an_encoder_that_ignores_its_input():
    model = MusicVAE(get_config("tiny"))
    with torch.no_grad():
        for parameter in model.encoder.parameters():
            parameter.zero_()
        model.encoder.sigma.bias[:3] = float(np.log(np.e - 1.0))  # softplus(x) = 1: the posterior is the prior
    usage = latent_usage(model, np.random.default_rng(0).integers(0, 90, size=(4, 32)))
    # mu = 0 everywhere; sigma = 1 on the first 3 dimensions (KL 0), softplus(0) = ln 2 on the others
    ln2 = np.log(2.0)
    np.testing.assert_allclose(usage[:3], 0.0, atol=1e-6)
    np.testing.assert_allclose(usage[3:], 0.5 * (ln2**2 - 1.0) - np.log(ln2), rtol=1e-5)


def test_decoder_conforms(tiny_weights):
    check_decoder(load_decoder(str(tiny_weights)))


def test_segments_are_read_as_one_melody_that_ends_with_the_last_segment(tiny_weights):
    decoder = load_decoder(str(tiny_weights))
    spec = decoder.latent_spec
    values = np.random.default_rng(1).standard_normal((3, spec.size)).astype(np.float32)
    latents = LatentTrack(starts=[0.0, 4.0, 8.0], ends=[4.0, 8.0, 12.0], values=values, spec=spec, tempo_bpm=120)
    score = decoder.decode(latents, temperature=1.0, seed=3)
    events = decoder.segment_events(values, temperature=1.0, seed=3)
    assert events.shape == (3, 32)
    expected = events_to_notes(events.reshape(-1).astype(np.int64), qpm=120, end_time=12.0, velocity=90)
    assert [(n.pitch, n.start, n.end) for n in score.notes] == [(n.pitch, n.start, n.end) for n in expected]
    assert max(n.end for n in score.notes) <= 12.0


def test_the_next_segment_starts_from_the_previous_last_event(tiny_weights):
    decoder = load_decoder(str(tiny_weights))
    z = np.random.default_rng(2).standard_normal((2, decoder.latent_spec.size)).astype(np.float32)
    joined = decoder.segment_events(z, temperature=0.0, seed=0)
    carried, _ = decoder.model.decode(torch.from_numpy(z[1:2]), steps=32, temperature=0.0,
                                      first_input=torch.from_numpy(joined[0, -1:]))
    np.testing.assert_array_equal(joined[1], carried[0].numpy())


def test_music_sample_writes_one_midi_with_a_marker_per_sample(tiny_weights, tmp_path, capsys):
    out = tmp_path / "samples.mid"
    assert main(["music", "sample", "-o", str(out), "-n", "3", "--weights", str(tiny_weights), "--seed", "4"]) == 0
    score = read_midi(out)
    assert [m.text for m in score.markers] == ["sample 1", "sample 2", "sample 3"]
    assert score.duration == pytest.approx(12.0, abs=0.01)
    assert main(["music", "sample", "-o", str(out), "--weights", str(tiny_weights)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_music_reconstruct_and_interpolate(tiny_weights, scale_midi, tmp_path, capsys):
    rebuilt = tmp_path / "rebuilt.mid"
    assert main(["music", "reconstruct", str(scale_midi), "-o", str(rebuilt), "--weights", str(tiny_weights)]) == 0
    assert "2 windows" in capsys.readouterr().out
    assert len(read_midi(rebuilt).markers) == 2
    path = tmp_path / "path.mid"
    args = ["music", "interpolate", str(scale_midi), str(rebuilt), "-n", "4", "-o", str(path), "--weights",
            str(tiny_weights)]
    assert main(args) == 0
    assert [m.text for m in read_midi(path).markers] == [f"step {i}/4" for i in range(1, 5)]


def test_music_commands_refuse_bad_input(tiny_weights, tmp_path, capsys):
    assert main(["music", "reconstruct", str(tmp_path / "none.mid"), "-o", str(tmp_path / "o.mid"),
                 "--weights", str(tiny_weights)]) == 2
    assert "no such file" in capsys.readouterr().err
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not weights")
    assert main(["music", "sample", "-o", str(tmp_path / "s.mid"), "--weights", str(bogus)]) == 2
    assert "bogus.pt" in capsys.readouterr().err
    assert not (tmp_path / "s.mid").exists()


def test_score_run_with_user_weights_takes_their_latent_size(tiny_weights, tmp_path):
    from score_core.media.synthetic import write_test_video

    clip = write_test_video(tmp_path / "clip.mp4", duration=8.0, cuts=(4.0,))
    assert main(["run", str(clip), "--vision", "color-stats", "--music", "musicvae", "--music-weights",
                 str(tiny_weights), "--no-audio", "-o", str(tmp_path / "out")]) == 0
    sidecar = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert sidecar["music"]["segments"] == 2
    assert sidecar["provenance"]["decoder"]["config"] == "tiny"


def test_plugin_module_imports_no_torch():
    code = "import sys, score_music.plugin; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_train_and_evaluate_refuse_an_empty_foreign_or_corrupt_cache(tiny_weights, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    np.savez(foreign / "windows-essen.npz", tune_ids=np.array(["a"]), events_2=np.zeros((3, 7), np.float32))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "windows-essen.npz").write_bytes(b"PK\x03\x04 cut short")
    cases = {empty: "holds no window shards", foreign: "not a window shard of `score music build-corpus`: it lacks",
             corrupt: "not a window shard, or damaged", tmp_path / "absent": "no such cache directory"}
    for cache, cause in cases.items():
        for command in (["train", "-o", str(tmp_path / "w.pt"), "--config", "tiny", "--steps", "1",
                         "--checkpoints", str(tmp_path / "ck")],
                        ["evaluate", "--weights", str(tiny_weights)]):
            assert main(["music", *command, "--cache", str(cache)]) == 2
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and cause in lines[0], (command, lines)
    assert not (tmp_path / "w.pt").exists()
