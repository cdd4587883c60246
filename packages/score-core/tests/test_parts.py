"""A band's parts: one named MIDI track per part, programs per part, drums answering cuts, stems summing to the mix."""

import mido
import numpy as np
import pytest

from score_core.audio import read_wav, render_parts
from score_core.audio.wav import TARGET_PEAK
from score_core.contracts import Note, Score
from score_core.errors import ScoreError
from score_core.midi import DRUM_CHANNEL, score_to_midi_bytes
from score_core.parts import CRASH, FILL, consonance, drums_answer_cuts, parse_programs, set_programs


def _band(duration=4.0, velocity=90):
    notes = []
    for i in range(int(duration * 2)):
        t = i * 0.5
        notes.append(Note(pitch=72 + (i % 3) * 2, velocity=velocity, start=t, end=t + 0.5, part="melody"))
        notes.append(Note(pitch=48, velocity=velocity, start=t, end=t + 0.45, program=33, part="bass"))
        notes.append(Note(pitch=36 if i % 2 == 0 else 38, velocity=velocity, start=t, end=t + 0.1, is_drum=True,
                          part="drums"))
    return Score(notes=tuple(notes), tempo_bpm=120, duration=duration)


def test_each_part_gets_a_named_track_with_its_program_and_drums_go_to_channel_10():
    score = set_programs(_band(), parse_programs("melody=73,bass=34"))
    midi = mido.MidiFile(file=__import__("io").BytesIO(score_to_midi_bytes(score)))
    assert midi.type == 1
    tracks = {track.name: track for track in midi.tracks[1:]}
    assert set(tracks) == {"melody", "bass", "drums"}
    programs = {name: [m.program for m in t if m.type == "program_change"] for name, t in tracks.items()}
    assert programs["melody"] == [73] and programs["bass"] == [34]
    channels = {name: {m.channel for m in t if m.type == "note_on"} for name, t in tracks.items()}
    assert channels["drums"] == {DRUM_CHANNEL}
    assert DRUM_CHANNEL not in channels["melody"] | channels["bass"]
    assert channels["melody"] != channels["bass"]


@pytest.mark.parametrize("text", ["melody", "melody=128", "=3", "bass=x"])
def test_bad_programs_are_refused(text):
    with pytest.raises(ScoreError, match="PART=PROGRAM"):
        parse_programs(text)


def test_programs_for_a_part_that_is_not_there_are_refused():
    with pytest.raises(ScoreError, match="no such part"):
        set_programs(_band(), {"strings": 48})


def test_drums_answer_a_cut_with_a_fill_and_a_crash():
    score = drums_answer_cuts(_band(4.0), [2.01])
    drums = sorted((n for n in score.notes if n.is_drum), key=lambda n: n.start)
    crash = [n for n in drums if n.pitch == CRASH]
    assert [n.start for n in crash] == [2.0]
    fill = [n for n in drums if 1.5 <= n.start < 2.0]
    assert [n.pitch for n in fill] == list(FILL)
    assert [n.start for n in fill] == pytest.approx([1.5, 1.625, 1.75, 1.875])
    assert all(n.part == "drums" for n in drums)
    no_drums = Score(notes=tuple(n for n in _band().notes if not n.is_drum), tempo_bpm=120, duration=4.0)
    assert drums_answer_cuts(no_drums, [2.0]) == no_drums


def test_consonance_counts_consonant_sixteenths():
    melody = [Note(pitch=64, velocity=90, start=0.0, end=1.0), Note(pitch=61, velocity=90, start=1.0, end=2.0)]
    bass = [Note(pitch=48, velocity=90, start=0.0, end=2.0)]
    assert consonance(bass, melody, 0.125) == pytest.approx(0.5)  # a major third, then a minor ninth
    assert consonance([], melody, 0.125) is None


def test_stems_sum_to_the_mix(tmp_path):
    quiet = _band(velocity=5)  # so quiet that the mix is raised to -1 dBFS: the stems must get the same gain
    report, stems = render_parts(quiet, tmp_path / "mix.wav", renderer="synth", sample_rate=22050)
    assert report.peak == pytest.approx(TARGET_PEAK, abs=1e-3)
    assert set(stems) == {"melody", "bass", "drums"}
    mix, rate = read_wav(tmp_path / "mix.wav")
    assert rate == 22050 and mix.shape == (4 * 22050, 2)
    assert all(np.abs(stem).max() > 0.01 for stem in stems.values())
    assert np.abs(sum(stems.values()) - mix).max() <= 2.0 / 32767
    assert report.peak <= 1.0
