"""MIDI writing and reading: round trip, determinism, no hanging notes, duration, tempo changes."""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path

import mido
import pytest

from score_core.contracts import Marker, Note, Score
from score_core.errors import ScoreError
from score_core.midi import (
    DRUM_CHANNEL,
    TICKS_PER_BEAT,
    midi_duration,
    read_midi,
    read_midi_notes,
    score_to_midi_bytes,
    write_midi,
)

TEMPO = 90.0
TICK = 60.0 / (TEMPO * TICKS_PER_BEAT)


def _score(notes: list[Note] | None = None, markers: list[Marker] | None = None, **kwargs: object) -> Score:
    if notes is None:
        notes = [
            Note(pitch=60, velocity=100, start=0.0, end=0.5, program=0),
            Note(pitch=64, velocity=90, start=0.5, end=1.0, program=0),
            Note(pitch=67, velocity=80, start=0.123, end=1.777, program=40),
            Note(pitch=43, velocity=70, start=1.0, end=3.0, program=33),
            Note(pitch=36, velocity=120, start=0.0, end=0.1, is_drum=True),
            Note(pitch=38, velocity=110, start=0.6666, end=0.7, is_drum=True),
            Note(pitch=42, velocity=60, start=1.3333, end=1.4, is_drum=True),
        ]
    if markers is None:
        markers = [Marker(time=2.5, text="cut 2"), Marker(time=0.0, text="start"), Marker(time=1.1, text="cut 1")]
    fields: dict[str, object] = {"tempo_bpm": TEMPO, "time_signature": (3, 4), "duration": 4.0}
    fields.update(kwargs)
    return Score(notes=tuple(notes), markers=tuple(markers), **fields)  # type: ignore[arg-type]


def _key(note: Note) -> tuple[object, ...]:
    return (note.is_drum, note.program, note.pitch, round(note.start, 3))


def _midi(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data), charset="utf-8")


def test_round_trip_notes_programs_and_drums() -> None:
    score = _score()
    back = read_midi(score_to_midi_bytes(score))
    assert len(back.notes) == len(score.notes)
    for want, got in zip(sorted(score.notes, key=_key), sorted(back.notes, key=_key), strict=True):
        assert (got.pitch, got.velocity, got.is_drum) == (want.pitch, want.velocity, want.is_drum)
        assert abs(got.start - want.start) <= TICK
        assert abs(got.end - want.end) <= TICK
        if not want.is_drum:
            assert got.program == want.program


def test_file_layout_conductor_channels_and_programs() -> None:
    midi = _midi(score_to_midi_bytes(_score()))
    assert midi.type == 1
    assert midi.ticks_per_beat == TICKS_PER_BEAT == 480
    conductor, *instruments = midi.tracks
    assert not [m for m in conductor if not m.is_meta]
    assert len(instruments) == 4  # programs 0, 33, 40 and the drums
    seen: dict[int, int] = {}
    for track in instruments:
        assert any(m.type == "track_name" for m in track)
        channels = {m.channel for m in track if not m.is_meta}
        assert len(channels) == 1
        channel = channels.pop()
        programs = [m.program for m in track if m.type == "program_change"]
        assert len(programs) == 1 and track[1].type == "program_change" and track[1].time == 0
        seen[channel] = programs[0]
    drum_tracks = [t for t in instruments if any(not m.is_meta and m.channel == DRUM_CHANNEL for m in t)]
    assert len(drum_tracks) == 1
    assert sorted(p for c, p in seen.items() if c != DRUM_CHANNEL) == [0, 33, 40]
    assert DRUM_CHANNEL in seen
    drum_pitches = sorted(m.note for m in drum_tracks[0] if m.type == "note_on")
    assert drum_pitches == [36, 38, 42]


def test_tempo_time_signature_and_markers() -> None:
    score = _score()
    data = score_to_midi_bytes(score)
    conductor = _midi(data).tracks[0]
    tempos = [m.tempo for m in conductor if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(TEMPO)]
    signature = [(m.numerator, m.denominator) for m in conductor if m.type == "time_signature"]
    assert signature == [(3, 4)]
    back = read_midi(data)
    assert back.tempo_bpm == pytest.approx(TEMPO, abs=1e-3)
    assert back.time_signature == (3, 4)
    assert [m.text for m in back.markers] == ["start", "cut 1", "cut 2"]
    for got, want in zip(back.markers, sorted(score.markers, key=lambda m: m.time), strict=True):
        assert abs(got.time - want.time) <= TICK


def test_marker_text_outside_latin1_survives() -> None:
    score = _score(markers=[Marker(time=1.0, text="Schnitt → Szene 2 🎬")])
    assert [m.text for m in read_midi(score_to_midi_bytes(score)).markers] == ["Schnitt → Szene 2 🎬"]


def test_bytes_are_deterministic_and_independent_of_order() -> None:
    score = _score()
    first = score_to_midi_bytes(score)
    assert score_to_midi_bytes(score) == first
    notes, markers = list(score.notes), list(score.markers)
    for seed in range(5):
        random.Random(seed).shuffle(notes)
        random.Random(seed + 100).shuffle(markers)
        assert score_to_midi_bytes(_score(notes, markers)) == first


def _assert_no_hanging_notes(data: bytes) -> int:
    """Every note_on is closed by a later note_off of its channel and pitch before another note_on of it."""
    pairs = 0
    for track in _midi(data).tracks:
        sounding: set[tuple[int, int]] = set()
        for message in track:
            if message.type == "note_on" and message.velocity > 0:
                key = (message.channel, message.note)
                assert key not in sounding, f"note_on {key} while the same note is still sounding"
                sounding.add(key)
            elif message.type in ("note_on", "note_off"):
                key = (message.channel, message.note)
                assert key in sounding, f"note_off {key} without a note_on"
                sounding.remove(key)
                pairs += 1
        assert not sounding, f"notes left hanging at the end of a track: {sorted(sounding)}"
    return pairs


def test_overlapping_same_pitch_notes_leave_nothing_hanging() -> None:
    notes = [
        Note(pitch=60, velocity=100, start=0.0, end=1.0),
        Note(pitch=60, velocity=90, start=0.5, end=1.5),  # overlaps the first
        Note(pitch=60, velocity=80, start=0.5, end=0.8),  # same onset as the second
        Note(pitch=60, velocity=70, start=0.2, end=0.4),  # inside the first
        Note(pitch=60, velocity=70, start=0.0001, end=0.0002),  # rounds onto the first note's tick
        Note(pitch=62, velocity=70, start=0.1, end=2.0),
        Note(pitch=36, velocity=100, start=0.0, end=1.0, is_drum=True),
        Note(pitch=36, velocity=100, start=0.25, end=0.5, is_drum=True),
    ]
    score = _score(notes, [])
    data = score_to_midi_bytes(score)
    assert _assert_no_hanging_notes(data) >= 5
    back = read_midi_notes(data)
    c4 = sorted((n.start, n.end) for n in back if n.pitch == 60)
    for (_, end), (next_start, _) in itertools.pairwise(c4):
        assert end <= next_start + 1e-9
    assert c4[-1][1] == pytest.approx(1.5, abs=TICK)  # the last note keeps its own end


def test_note_off_comes_before_note_on_at_the_same_tick() -> None:
    notes = [Note(pitch=60, velocity=100, start=0.0, end=0.5), Note(pitch=60, velocity=100, start=0.5, end=1.0)]
    track = _midi(score_to_midi_bytes(_score(notes, []))).tracks[1]
    events = [(m.type, m.time) for m in track if m.type in ("note_on", "note_off")]
    assert events[1][0] == "note_off" and events[2] == ("note_on", 0)
    assert _assert_no_hanging_notes(score_to_midi_bytes(_score(notes, []))) == 2


def test_tiny_note_still_has_length() -> None:
    notes = [Note(pitch=70, velocity=100, start=1.0, end=1.0 + TICK / 10)]
    back = read_midi_notes(score_to_midi_bytes(_score(notes, [])))
    assert len(back) == 1 and back[0].end > back[0].start


def test_duration_is_the_score_duration(tmp_path: Path) -> None:
    score = _score(duration=7.25)
    path = write_midi(score, tmp_path / "out.mid")
    assert path.read_bytes() == score_to_midi_bytes(score)
    assert midi_duration(path) == pytest.approx(7.25, abs=TICK)
    assert read_midi(path).duration == pytest.approx(7.25, abs=TICK)
    for track in mido.MidiFile(path).tracks:
        assert track[-1].type == "end_of_track"
        assert sum(m.time for m in track) == round(7.25 * TEMPO / 60 * TICKS_PER_BEAT)


def test_notes_past_the_duration_extend_the_file() -> None:
    notes = [Note(pitch=60, velocity=100, start=1.0, end=5.0)]
    assert midi_duration(score_to_midi_bytes(_score(notes, [], duration=2.0))) == pytest.approx(5.0, abs=TICK)


def test_sixteen_melodic_programs_do_not_fit() -> None:
    fits = [Note(pitch=60, velocity=100, start=0.0, end=1.0, program=p) for p in range(15)]
    channels = {m.channel for t in _midi(score_to_midi_bytes(_score(fits, []))).tracks for m in t if not m.is_meta}
    assert len(channels) == 15 and DRUM_CHANNEL not in channels
    too_many = [*fits, Note(pitch=60, velocity=100, start=0.0, end=1.0, program=15)]
    with pytest.raises(ScoreError, match="16 melodic programs"):
        score_to_midi_bytes(_score(too_many, []))


def test_time_signature_must_be_writable() -> None:
    with pytest.raises(ScoreError, match="3/5"):
        score_to_midi_bytes(_score(time_signature=(3, 5)))


def test_reader_honours_tempo_changes() -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 bpm: a beat is 0.5 s
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=4 * 96),  # from beat 4 (2 s): 60 bpm
            mido.MetaMessage("marker", text="slow", time=0),
            mido.MetaMessage("end_of_track", time=4 * 96),  # beat 8: 2 s + 4 s = 6 s
        ]
    )
    notes = mido.MidiTrack(
        [
            mido.Message("program_change", channel=2, program=12, time=0),
            mido.Message("note_on", channel=2, note=72, velocity=64, time=2 * 96),  # beat 2: 1 s
            mido.Message("note_on", channel=2, note=72, velocity=0, time=4 * 96),  # beat 6: 2 s + 2 s = 4 s
        ]
    )
    midi.tracks += [conductor, notes]
    buffer = io.BytesIO()
    midi.save(file=buffer)
    data = buffer.getvalue()
    (note,) = read_midi_notes(data)
    assert (note.pitch, note.program, note.is_drum) == (72, 12, False)
    assert note.start == pytest.approx(1.0) and note.end == pytest.approx(4.0)
    score = read_midi(data)
    assert score.tempo_bpm == pytest.approx(120.0)
    assert [m.text for m in score.markers] == ["slow"]
    assert score.markers[0].time == pytest.approx(2.0)
    assert midi_duration(data) == pytest.approx(6.0)


def test_invalid_midi_is_a_score_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file at all")
    with pytest.raises(ScoreError, match=r"bad\.mid"):
        read_midi(bad)
    with pytest.raises(ScoreError, match=r"missing\.mid"):
        midi_duration(tmp_path / "missing.mid")
