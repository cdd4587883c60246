"""MIDI with a tempo map, markers and cue points: format 1, everything in the first track, read back by mido."""

import mido
import pytest

from score_core.contracts import Marker, Note, Score, TempoChange
from score_core.midi import TICKS_PER_BEAT, read_midi, score_to_midi_bytes


def _score():
    changes = (TempoChange(time=0.0, bpm=100.0), TempoChange(time=1.2, bpm=97.5), TempoChange(time=3.04, bpm=104.0))
    notes = (
        Note(pitch=60, velocity=90, start=0.0, end=0.6),
        Note(pitch=67, velocity=110, start=1.2, end=1.8),
        Note(pitch=72, velocity=100, start=3.04, end=3.5),
    )
    return Score(
        notes=notes, tempo_bpm=100.0, duration=4.0, tempo_map=changes,
        markers=(Marker(time=1.2, text="cut"), Marker(time=1.2, text="segment 2")),
        cues=(Marker(time=1.2, text="cut 1.200s"), Marker(time=3.04, text="cut 3.040s")),
    )


def test_tempo_map_markers_and_cue_points_live_in_the_first_track():
    midi = mido.MidiFile(file=__import__("io").BytesIO(score_to_midi_bytes(_score())))
    assert midi.type == 1
    first = midi.tracks[0]
    now, found = 0, {}
    for message in first:
        now += message.time
        found.setdefault(message.type, []).append((now, getattr(message, "tempo", getattr(message, "text", None))))
    assert [tempo for _, tempo in found["set_tempo"]] == [mido.bpm2tempo(b) for b in (100.0, 97.5, 104.0)]
    assert [text for _, text in found["cue_marker"]] == ["cut 1.200s", "cut 3.040s"]
    assert {text for _, text in found["marker"]} == {"cut", "segment 2"}
    # 1.2 s at 100 bpm is exactly 2 beats: the first change and the first cue sit on tick 2 * 480
    assert found["set_tempo"][1][0] == found["cue_marker"][0][0] == 2 * TICKS_PER_BEAT
    for track in midi.tracks[1:]:
        assert not any(m.type in ("set_tempo", "marker", "cue_marker") for m in track)


def test_read_midi_gives_the_map_cues_and_note_times_back():
    score = read_midi(score_to_midi_bytes(_score()))
    assert [round(c.bpm, 3) for c in score.tempo_map] == [100.0, 97.5, 104.0]
    assert [c.time for c in score.tempo_map] == pytest.approx([0.0, 1.2, 3.04], abs=2e-3)
    assert [c.time for c in score.cues] == pytest.approx([1.2, 3.04], abs=2e-3)
    assert [n.start for n in score.notes] == pytest.approx([0.0, 1.2, 3.04], abs=2e-3)


def test_a_constant_tempo_score_reads_back_without_a_map():
    score = Score(notes=(Note(pitch=60, velocity=90, start=0.0, end=1.0),), tempo_bpm=120, duration=2.0)
    back = read_midi(score_to_midi_bytes(score))
    assert back.tempo_map == () and back.tempo_bpm == pytest.approx(120.0)
