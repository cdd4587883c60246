"""`score run --music band` end to end: parts in one key, named tracks and programs, stems that sum to the mix."""

import json

import mido
import numpy as np
import pytest
from score_e2e import run_score

from score_core.audio import read_wav
from score_core.keys import estimate_key, parse_key
from score_core.midi import DRUM_CHANNEL, read_midi_notes
from score_core.registry import load_registry

pytest.importorskip("torch")

ENCODER = ("--vision", "color-stats")
# --sync grid: the default (cuts) moves each shot on purpose to a chromatic mediant; these tests check one key.


def _track_notes(path, name):
    """Notes of one named track, read back through a file holding the conductor track and that track."""
    import io

    midi = mido.MidiFile(path)
    track = next(t for t in midi.tracks if t.name == name)
    alone = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    alone.tracks.extend([midi.tracks[0], track])
    buffer = io.BytesIO()
    alone.save(file=buffer)
    return read_midi_notes(buffer.getvalue())


def test_band_parts_share_the_asked_key_with_named_tracks_programs_and_stems(clip, tmp_path):
    out = tmp_path / "out"
    result = run_score("run", clip, *ENCODER, "--sync", "grid", "--music", "band", "--key", "D minor",
                       "--programs", "melody=73,bass=34", "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["key"] == "D minor"
    drums_installed = "musicvae-drums" in {r.name for r in load_registry().decoders.all()}
    if not drums_installed:
        assert "no drums, the 'musicvae-drums' decoder is not installed" in result.stderr
        assert len([line for line in result.stderr.splitlines() if "drums" in line]) == 1

    midi = mido.MidiFile(out / "clip.mid")
    assert midi.type == 1
    names = [t.name for t in midi.tracks[1:]]
    assert {"melody", "bass"} <= set(names)
    programs = {t.name: [m.program for m in t if m.type == "program_change"] for t in midi.tracks[1:]}
    assert programs["melody"] == [73] and programs["bass"] == [34]

    piece = parse_key("D minor")
    melody, bass = _track_notes(out / "clip.mid", "melody"), _track_notes(out / "clip.mid", "bass")
    assert estimate_key(melody).scale() == piece.scale()  # D minor or its relative, F major: one diatonic set
    assert all(n.pitch % 12 in piece.scale() for n in bass)  # roots and fifths of the melody's chords, in key
    assert max(n.pitch for n in bass) < np.median([n.pitch for n in melody])  # the bass sits under the melody
    if drums_installed:
        drums = _track_notes(out / "clip.mid", "drums")
        assert drums and all(n.is_drum for n in drums)
        assert {m.channel for t in midi.tracks if t.name == "drums" for m in t if m.type == "note_on"} == {DRUM_CHANNEL}

    stems = sorted(p.name for p in (out / "clip.stems").iterdir())
    assert stems == sorted(["melody.wav", "bass.wav", *(["drums.wav"] if drums_installed else [])])
    mix, _ = read_wav(out / "clip.wav")
    total = sum(read_wav(out / "clip.stems" / name)[0] for name in stems)
    assert total.shape == mix.shape and mix.std() > 0.01
    assert np.abs(total - mix).max() <= len(stems) / 32767 + 1e-6


def test_a_band_run_again_with_overwrite_replaces_its_stems_folder(clip, tmp_path):
    out = tmp_path / "out"
    args = ("run", clip, *ENCODER, "--music", "band", "--no-video", "-o", out)
    assert run_score(*args).returncode == 0
    again = run_score(*args)
    assert again.returncode != 0 and "already exists; pass --overwrite" in again.stderr
    replaced = run_score(*args, "--seed", "1", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    stems = sorted((out / "clip.stems").iterdir())
    assert stems and all(not p.name.startswith(".") for p in stems)
    mix, _ = read_wav(out / "clip.wav")
    assert np.abs(sum(read_wav(p)[0] for p in stems) - mix).max() <= len(stems) / 32767 + 1e-6
    (out / "clip.wav").unlink()
    (out / "clip.wav").mkdir()  # a folder where a file output goes is not ours to replace
    refused = run_score(*args, "--overwrite")
    assert refused.returncode != 0 and "is a directory" in refused.stderr


def test_key_is_honoured_for_the_melody_model_and_a_bad_key_is_refused(clip, tmp_path):
    out = tmp_path / "keyed"
    result = run_score("run", clip, *ENCODER, "--sync", "grid", "--music", "musicvae", "--key", "Eb major",
                       "--scale-fit", "--no-video", "-o", out)
    assert result.returncode == 0, result.stderr
    notes = read_midi_notes(out / "clip.mid")
    assert notes and all(n.pitch % 12 in parse_key("Eb major").scale() for n in notes)
    assert json.loads((out / "clip.json").read_text())["provenance"]["key"] == "Eb major"

    bad = tmp_path / "bad"
    result = run_score("run", clip, *ENCODER, "--music", "band", "--key", "H minor", "-o", bad)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "score: error: --key 'H minor': expected a tonic and a mode, such as \"D minor\" or \"Eb major\""
    ]
    assert not bad.exists() or not any(bad.iterdir())
