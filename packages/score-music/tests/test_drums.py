"""Drums: Magenta's 9-class / 512-event encoding, Groove MIDI windows, the musicvae-drums decoder and commands."""

from __future__ import annotations

import mido
import numpy as np
import pytest
import torch

from score_cli.app import main
from score_core.contracts import LatentTrack, Note, Score
from score_core.errors import ScoreError
from score_core.midi import write_midi
from score_core.testing import check_decoder
from score_music.drums import (
    DRUM_CLASS_PITCHES,
    NUM_DRUM_EVENTS,
    class_of_pitch,
    drum_events_to_notes,
    drum_roll,
    event_classes,
    groove_statistics,
    hits_to_event,
    notes_to_drum_events,
)
from score_music.export import export_weights
from score_music.groove import groove_windows, read_groove_events
from score_music.loading import load_drums_decoder
from score_music.model import MusicVAE, get_config

GM_STANDARD = {pitches[0] for pitches in DRUM_CLASS_PITCHES}


@pytest.fixture(scope="module")
def tiny_drums(tmp_path_factory):
    torch.manual_seed(0)
    model = MusicVAE(get_config("tiny-drums"))
    windows = np.random.default_rng(0).integers(0, NUM_DRUM_EVENTS, size=(64, 32))
    path = tmp_path_factory.mktemp("weights") / "tiny-drums.pt"
    export_weights(model, path, windows, {"note": "untrained, for tests"}, half=True)
    return path


def test_every_subset_of_classes_is_one_event_and_back():
    assert hits_to_event([]) == 0 and hits_to_event([0]) == 1 and hits_to_event([0, 1]) == 3
    for event in range(NUM_DRUM_EVENTS):
        assert hits_to_event(event_classes(event)) == event
    assert event_classes(511) == tuple(range(9))
    for index, pitches in enumerate(DRUM_CLASS_PITCHES):
        assert all(class_of_pitch(p) == index for p in pitches)
    assert class_of_pitch(22) == 2 and class_of_pitch(26) == 3  # Groove's hi-hat edge hits
    assert class_of_pitch(100) is None


def test_drum_roll_is_the_class_bits_and_a_silence_bit():
    roll = drum_roll(np.array([0, 1, 2 | 256]))
    assert roll.shape == (3, 10)
    np.testing.assert_array_equal(roll[0], [0] * 9 + [1])
    np.testing.assert_array_equal(roll[1], [1] + [0] * 9)
    np.testing.assert_array_equal(roll[2], [0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    model = MusicVAE(get_config("tiny-drums"))
    np.testing.assert_array_equal(model.encoder_inputs(torch.tensor([[0, 1, 258]])).numpy()[0], roll)


def test_notes_round_trip_through_events():
    rng = np.random.default_rng(1)
    events = rng.integers(0, NUM_DRUM_EVENTS, 64)
    events[rng.random(64) < 0.4] = 0
    notes = drum_events_to_notes(events, qpm=100, start=1.5)
    assert all(n.is_drum and n.pitch in GM_STANDARD for n in notes)
    assert sum(len(event_classes(int(e))) for e in events) == len(notes)
    np.testing.assert_array_equal(notes_to_drum_events(notes, qpm=100, steps=64, start=1.5), events)
    # Any GM pitch of a class encodes as that class; melodic notes are ignored.
    played = [Note(pitch=35, velocity=80, start=0.0, end=0.1, is_drum=True),
              Note(pitch=44, velocity=80, start=0.0, end=0.1, is_drum=True),
              Note(pitch=57, velocity=80, start=0.5, end=0.6, is_drum=True),
              Note(pitch=60, velocity=80, start=0.5, end=0.6)]
    np.testing.assert_array_equal(notes_to_drum_events(played, qpm=120, steps=5), [1 | 4, 0, 0, 0, 128])


def test_drums_land_on_channel_10_with_gm_drum_pitches(tmp_path):
    events = np.array([1, 0, 4, 0, 2 | 4, 0, 4, 0] * 4 + [128 | 1] + [0] * 31)
    notes = drum_events_to_notes(events, qpm=120)
    path = write_midi(Score(notes=tuple(notes), tempo_bpm=120, duration=8.0), tmp_path / "drums.mid")
    ons = [m for track in mido.MidiFile(str(path)).tracks for m in track if m.type == "note_on" and m.velocity]
    assert len(ons) == len(notes)
    assert {m.channel for m in ons} == {9}
    assert {m.note for m in ons} == {36, 38, 42, 49}


def test_groove_windows_slide_by_a_bar_and_drop_near_empty_ones():
    events = np.zeros(16 * 5, dtype=np.int64)
    events[0:16:2] = 4  # bar 1: eighth-note hi-hats
    events[16 * 3] = 1  # bar 4: one kick
    windows = groove_windows(events)
    assert windows.shape == (1, 32)  # bars 1-2 kept; 2-3 empty, 3-4 and 4-5 hold one hit: dropped
    events[16:32:4] = 2  # bar 2: snares → windows 1-2 and 2-3 differ
    assert len(groove_windows(events)) == 2


def test_groove_statistics_count_hits_on_eighths_and_kick_snare_balance():
    bar = np.zeros(16, dtype=np.int64)
    bar[0], bar[4], bar[8], bar[12], bar[3] = 1, 2, 1, 2, 1  # one off-eighth kick
    stats = groove_statistics(bar[None])
    assert stats["eighth_share"] == pytest.approx(4 / 5)
    assert stats["kick_snare_balance"] == pytest.approx(3 / 5)
    assert stats["hits_per_bar"] == pytest.approx(5)


@pytest.mark.shared_data
def test_a_groove_performance_is_quantised_on_its_beat_grid(groove_root):
    path = groove_root / "drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid"
    events = read_groove_events(path)
    assert len(events) % 16 == 0 and len(events) >= 16 * 8
    stats = groove_statistics(events)
    assert stats["eighth_share"] > 0.6  # a human funk groove mostly plays on the eighths
    assert 0.2 < stats["kick_snare_balance"] < 0.8
    assert len(groove_windows(events)) > 4


def test_drums_decoder_conforms_and_writes_drum_notes(tiny_drums):
    decoder = load_drums_decoder(str(tiny_drums))
    check_decoder(decoder)
    spec = decoder.latent_spec
    values = np.random.default_rng(1).standard_normal((2, spec.size)).astype(np.float32)
    latents = LatentTrack(starts=[0.0, 4.0], ends=[4.0, 8.0], values=values, spec=spec, tempo_bpm=120)
    score = decoder.decode(latents, temperature=1.0, seed=3)
    events = decoder.segment_events(values, temperature=1.0, seed=3)
    assert events.shape == (2, 32) and events.max() < NUM_DRUM_EVENTS
    assert score.notes and all(n.is_drum and n.pitch in GM_STANDARD for n in score.notes)
    assert len(score.notes) == sum(len(event_classes(int(e))) for e in events.ravel())


def test_music_sample_model_drums_writes_channel_10(tiny_drums, tmp_path, capsys):
    out = tmp_path / "drums.mid"
    args = ["music", "sample", "--model", "drums", "-o", str(out), "-n", "2", "--weights", str(tiny_drums)]
    assert main(args) == 0
    ons = [m for track in mido.MidiFile(str(out)).tracks for m in track if m.type == "note_on" and m.velocity]
    assert ons and {m.channel for m in ons} == {9}


def test_drums_model_refuses_melody_weights(tmp_path, capsys):
    melody = tmp_path / "melody.pt"
    export_weights(MusicVAE(get_config("tiny")), melody, np.zeros((4, 32), dtype=np.int64))
    with pytest.raises(ScoreError, match="not a drums model"):
        load_drums_decoder(str(melody))
    assert main(["music", "sample", "--model", "drums", "-o", str(tmp_path / "s.mid"), "--weights",
                 str(melody)]) == 2
    assert "not a drums model" in capsys.readouterr().err
    assert not (tmp_path / "s.mid").exists()


def test_score_run_with_drums_and_with_an_imported_trio(tiny_drums, tmp_path):
    from score_core.media.synthetic import write_test_video
    from score_music.model.weights import build_model, save_weights

    clip = write_test_video(tmp_path / "clip.mp4", duration=8.0, cuts=(4.0,))
    assert main(["run", str(clip), "--vision", "color-stats", "--music", "musicvae-drums", "--music-weights",
                 str(tiny_drums), "--no-audio", "--no-video", "-o", str(tmp_path / "drums")]) == 0
    ons = [m for t in mido.MidiFile(str(tmp_path / "drums" / "clip.mid")).tracks for m in t
           if m.type == "note_on" and m.velocity]
    # The pipeline may add its cut answers (crash, tom fill): still GM drum pitches of Magenta's classes.
    assert ons and {m.channel for m in ons} == {9} and all(class_of_pitch(m.note) is not None for m in ons)
    torch.manual_seed(1)
    trio = build_model(get_config("tiny-trio"))
    save_weights(trio, trio.config, tmp_path / "trio.pt")
    assert main(["run", str(clip), "--vision", "color-stats", "--music", "musicvae-trio", "--music-weights",
                 str(tmp_path / "trio.pt"), "--no-audio", "--no-video", "-o", str(tmp_path / "trio")]) == 0
    ons = [m for t in mido.MidiFile(str(tmp_path / "trio" / "clip.mid")).tracks for m in t
           if m.type == "note_on" and m.velocity]
    assert {m.channel for m in ons if m.channel == 9} == {9} and len({m.channel for m in ons}) >= 2
