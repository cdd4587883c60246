"""Melody extraction for training: MIDI files and music21 scores to bar-aligned windows."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from score_core.contracts import Note, Score
from score_core.midi import write_midi
from score_music.extract import MAX_SILENCE, midi_melody, midi_windows, music21_melody, transpose, windows
from score_music.melody import MIN_PITCH, NOTE_OFF, STEPS_PER_BAR, is_valid_events


def on(pitch: int) -> int:
    return 2 + pitch - MIN_PITCH


def scale_events(bars: int) -> np.ndarray:
    """One quarter note per beat climbing and falling, different in every bar (no two windows alike)."""
    events = np.zeros(bars * STEPS_PER_BAR, dtype=np.int64)
    for beat in range(bars * 4):
        events[beat * 4] = on(48 + beat % 23)
    return events


# ---------------------------------------------------------------------------------------------------- windows


def test_windows_slide_by_one_bar() -> None:
    events = scale_events(6)
    cut = windows(events, bars=2)
    assert cut.dtype == np.uint8 and cut.shape == (5, 32)
    for k in range(len(cut)):
        np.testing.assert_array_equal(cut[k], events[16 * k : 16 * k + 32])
    np.testing.assert_array_equal(cut[1][:16], cut[0][16:])  # window k+1 starts 16 steps after window k


def test_sixteen_bar_windows() -> None:
    events = scale_events(18)
    cut = windows(events, bars=16)
    assert cut.shape == (3, 256)
    np.testing.assert_array_equal(cut[2], events[32:288])


def test_windows_need_two_distinct_pitches() -> None:
    events = np.zeros(64, dtype=np.int64)
    events[::4] = on(60)  # the same pitch repeated: dropped
    assert windows(events).shape == (0, 32)
    events[20] = on(62)
    assert len(windows(events)) == 2  # the windows holding step 20 (bars 0-1 and 1-2)


def test_mostly_silent_windows_are_dropped() -> None:
    assert MAX_SILENCE == 0.5
    events = np.zeros(32, dtype=np.int64)
    events[[0, 2]] = [on(60), on(62)]
    events[4] = NOTE_OFF  # sounding 4 of 32 steps
    assert len(windows(events)) == 0
    events[4] = 0
    events[16] = NOTE_OFF  # sounding exactly half the steps: kept
    assert len(windows(events)) == 1


def test_a_held_note_from_before_the_window_counts_as_sounding() -> None:
    events = np.zeros(48, dtype=np.int64)
    events[[0, 12, 40, 44]] = [on(60), on(64), on(65), on(67)]  # 64 is held from bar 0 to step 40
    cut = windows(events)
    assert len(cut) == 2  # window 1 starts inside a note: 24 steps of it are that note, not silence
    assert cut[1][:24].tolist() == [0] * 24


def test_identical_windows_are_kept_once() -> None:
    bar = scale_events(2)
    events = np.concatenate([bar, bar, bar])
    assert len(windows(events)) == 2  # AB AB AB gives AB and BA


def test_transpose_keeps_range() -> None:
    events = np.array([0, on(60), 0, NOTE_OFF, on(108)], dtype=np.uint8)
    assert transpose(events, 1) is None
    down = transpose(events, -5)
    assert down is not None and down.dtype == np.uint8
    assert down.tolist() == [0, on(55), 0, NOTE_OFF, on(103)]
    low = np.array([on(21), on(25)], dtype=np.int64)
    assert transpose(low, -1) is None
    assert transpose(low, 0).tolist() == low.tolist()  # type: ignore[union-attr]
    silent = np.array([0, NOTE_OFF, 0])
    assert transpose(silent, 5).tolist() == silent.tolist()  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------- MIDI


def test_midi_file_round_trip(tmp_path: Path) -> None:
    qpm = 90.0
    beat = 60.0 / qpm
    melody = [(60, 0, 1), (62, 1, 1.5), (64, 1.5, 2), (65, 3, 4), (67, 4, 6), (72, 6, 7.75)]
    notes = [Note(pitch=p, velocity=80, start=a * beat, end=b * beat) for p, a, b in melody]
    accompaniment = [Note(pitch=48, velocity=60, start=0, end=8 * beat, program=33)]  # a bass: not a melody
    drums = [Note(pitch=36, velocity=100, start=0, end=0.1, is_drum=True)]
    score = Score(notes=tuple(notes + accompaniment + drums), tempo_bpm=qpm, duration=8 * beat)
    path = write_midi(score, tmp_path / "tune.mid")

    events = midi_melody(path)
    assert events.shape == (32,) and is_valid_events(events)
    expected = np.zeros(32, dtype=np.int64)
    expected[[0, 4, 6, 8, 12, 16, 24, 31]] = [on(60), on(62), on(64), NOTE_OFF, on(65), on(67), on(72), NOTE_OFF]
    np.testing.assert_array_equal(events, expected)
    np.testing.assert_array_equal(midi_melody(path.read_bytes()), expected)
    assert midi_windows(path).shape == (1, 32)


def test_midi_tempo_changes_are_honoured(tmp_path: Path) -> None:
    """Two quarter notes, the second after a change from 120 to 60 qpm: still one beat apart on the grid."""
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    track.append(mido.Message("note_on", note=60, velocity=80, time=0))
    track.append(mido.Message("note_off", note=60, time=480))
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    track.append(mido.Message("note_on", note=64, velocity=80, time=0))
    track.append(mido.Message("note_off", note=64, time=480))
    midi.tracks.append(track)
    path = tmp_path / "tempo.mid"
    midi.save(path)
    events = midi_melody(path)
    assert events[:9].tolist() == [on(60), 0, 0, 0, on(64), 0, 0, 0, NOTE_OFF]


# ---------------------------------------------------------------------------------------------------- music21


def test_music21_chords_and_parts_highest_note_wins() -> None:
    from music21 import chord, meter, note, stream

    top, low = stream.Part(), stream.Part()
    top.append(meter.TimeSignature("4/4"))
    low.append(meter.TimeSignature("4/4"))
    top.append(chord.Chord(["C4", "E4", "G4"], quarterLength=2))
    top.append(note.Note("F4", quarterLength=2))
    low.append(note.Note("C5", quarterLength=1))  # above the chord for one beat
    low.append(note.Note("C3", quarterLength=3))
    score = stream.Score([top, low])
    events = music21_melody(score)
    assert events is not None and events.shape == (16,)
    # C5 ends on beat 2 while the chord's G4 still sounds: C3 below it is ignored and the line rests.
    assert events[[0, 4, 8]].tolist() == [on(72), NOTE_OFF, on(65)]
    assert events[12] == 0  # F4 is held to the end of the bar


def test_music21_pickup_bar_aligns_the_grid() -> None:
    from music21 import converter

    tune = "X:1\nT:pickup\nM:4/4\nL:1/4\nK:C\nG | c d e f | g4 |]\n"
    events = music21_melody(converter.parse(tune, format="abc"))
    assert events is not None
    assert events[12] == on(67)  # the pickup is the last beat of an incomplete first bar
    assert events[16] == on(72)  # the first full bar starts on a bar line
    assert events[32] == on(79)


def test_music21_ties_are_merged_and_triple_metre_is_skipped() -> None:
    from music21 import converter

    tied = converter.parse("X:1\nT:t\nM:2/4\nL:1/8\nK:C\nc2 d2- | d2 e2 |]\n", format="abc")
    events = music21_melody(tied)
    assert events is not None
    assert events[:16].tolist() == [on(72), 0, 0, 0, on(74)] + [0] * 7 + [on(76), 0, 0, 0]
    waltz = converter.parse("X:1\nT:w\nM:3/4\nL:1/4\nK:C\nc d e | f3 |]\n", format="abc")
    assert music21_melody(waltz) is None
    assert music21_melody(waltz, duple_only=False) is not None


@pytest.fixture(scope="module")
def chorale_events() -> np.ndarray:
    from music21 import corpus

    events = music21_melody(corpus.parse("bach/bwv66.6"))
    assert events is not None
    return events


def test_a_bach_chorale_gives_plausible_windows(chorale_events: np.ndarray) -> None:
    assert chorale_events.size % STEPS_PER_BAR == 0 and is_valid_events(chorale_events)
    cut = windows(chorale_events)
    assert 5 <= len(cut) <= chorale_events.size // STEPS_PER_BAR
    pitches = chorale_events[chorale_events >= 2] + MIN_PITCH - 2
    assert pitches.min() >= 60 and pitches.max() <= 81  # a soprano line in C#5-ish range, not the bass
    assert chorale_events[:16].tolist()[12] == on(73)  # pickup C#5 on beat 4, as the score has it
    onsets = np.flatnonzero(chorale_events >= 2)
    assert np.all(onsets % 2 == 0)  # quarters and eighths only: every onset on an eighth-note step


def test_music21_part_names_leave_out_a_descant() -> None:
    from music21 import meter, note, stream

    def part(name: str, pitches: list[str]) -> stream.Part:
        made = stream.Part()
        made.partName = name
        made.append(meter.TimeSignature("4/4"))
        for pitch in pitches:
            made.append(note.Note(pitch, quarterLength=1))
        return made

    score = stream.Score([part("Violin", ["C6", "D6", "E6", "F6"]), part("Soprano", ["C5", "D5", "E5", "F5"])])
    everything = music21_melody(score)
    voices = music21_melody(score, part_names={"Soprano", "Alto"})
    assert everything is not None and voices is not None
    assert everything[0] == on(84) and voices[0] == on(72)
    assert music21_melody(score, part_names={"Tenor"}) is not None  # no such part: all parts


def test_music21_passing_note_below_the_end_of_a_top_note_is_ignored() -> None:
    from music21 import meter, note, stream

    top, low = stream.Part(), stream.Part()
    for part in (top, low):
        part.append(meter.TimeSignature("2/4"))
    top.append(note.Note("A4", quarterLength=2))
    low.append(note.Note("D4", quarterLength=1.75))
    low.append(note.Note("E4", quarterLength=0.25))  # a sixteenth under the last step of A4
    events = music21_melody(stream.Score([top, low]))
    assert events is not None and events.tolist()[:8] == [on(69)] + [0] * 7
