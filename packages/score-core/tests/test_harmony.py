"""A chord per shot that moves at every cut, under the melody, on hand-made scores."""

from itertools import pairwise

from score_core.analysis.musicality import melody_line
from score_core.contracts import Note, Score
from score_core.harmony import (
    HARMONY_PART,
    HARMONY_PROGRAM,
    SHARED_TONES,
    scale_triads,
    shot_chords,
    with_shot_chords,
)

C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})


def _phrase(start: float, pitches: list[int], length: float = 0.25) -> list[Note]:
    return [Note(pitch=p, velocity=90, start=start + i * length, end=start + (i + 1) * length)
            for i, p in enumerate(pitches)]


def test_triads_of_the_scale_and_without_one():
    triads = scale_triads(C_MAJOR)
    assert triads[0] == (0, 4, 7) and triads[5] == (9, 0, 4) and triads[6] == (11, 2, 5)
    assert len(scale_triads(None)) == 24


def test_each_shot_gets_the_triad_its_melody_outlines_and_every_cut_moves_the_harmony():
    shots = [_phrase(0, [60, 64, 67, 64]), _phrase(1, [67, 71, 74, 71]), _phrase(2, [65, 69, 72, 69])]
    chords = shot_chords(shots, C_MAJOR)
    assert chords == [(0, 4, 7), (7, 11, 2), (5, 9, 0)]  # C E G, G B D, F A C: what each melody outlines
    again = shot_chords([shots[0], shots[0]], C_MAJOR)
    assert again[1] != again[0]  # the same melody after a cut still gets a new chord
    for before, after in pairwise([*chords, *again]):
        assert len(set(before) & set(after)) <= SHARED_TONES


def test_a_returning_theme_brings_its_chord_back():
    shots = [_phrase(0, [60, 64, 67]), _phrase(1, [62, 65, 69]), _phrase(2, [60, 62, 64])]
    chords = shot_chords(shots, C_MAJOR, themes=[0, 1, 0])
    assert chords[2] == chords[0]


def test_every_second_return_of_a_theme_is_reharmonised_under_the_same_tune():
    theme, other = _phrase(0, [60, 64, 67, 69]), _phrase(1, [62, 65, 69])
    shots = [theme, other, theme, other, theme, other, theme]
    chords = shot_chords(shots, C_MAJOR, themes=[0, 1, 0, 1, 0, 1, 0])
    assert chords[2] == chords[0] and chords[6] == chords[0]  # the first and third returns: as it was
    assert chords[4] != chords[0]  # the second: another chord of the key under the same notes
    assert chords[4] == (9, 0, 4)  # A C E holds the most of C E G A after C E G


def test_the_chord_is_held_under_the_melody_from_its_first_note_to_the_cut():
    melody = _phrase(0.5, [64, 67, 72, 67]) + _phrase(2.0, [69, 72, 74, 72])
    score = Score(notes=tuple(melody), tempo_bpm=120, duration=4.0)
    scored = with_shot_chords(score, [2.0], C_MAJOR)
    chords = [n for n in scored.notes if n.part == HARMONY_PART]
    assert len(chords) == 6 and all(n.program == HARMONY_PROGRAM for n in chords)
    first, second = ([n for n in chords if n.start == t] for t in (0.5, 2.0))
    assert {n.end for n in first} == {2.0} and {n.end for n in second} == {4.0}
    assert max(n.pitch for n in first) < 64 and max(n.pitch for n in second) < 69
    assert all(n.pitch % 12 in C_MAJOR for n in chords)
    assert all(n.velocity < 90 for n in chords)
    assert [n.pitch for n in melody_line(scored.notes)] == [n.pitch for n in melody]  # the melody stays on top


def test_a_score_without_melody_is_left_alone():
    drums = Score(notes=(Note(pitch=36, velocity=100, start=0.0, end=0.1, is_drum=True),), tempo_bpm=120,
                  duration=2.0)
    assert with_shot_chords(drums, [1.0], C_MAJOR) == drums


def test_a_busier_shot_strikes_its_chord_with_its_on_beat_melody_notes_and_a_calm_one_holds_it():
    melody = _phrase(0.0, [64, 67, 72, 67], 0.5) + _phrase(2.0, [69, 72, 74, 72, 69, 72], 0.25)
    score = Score(notes=tuple(melody), tempo_bpm=120, duration=4.0)
    scored = with_shot_chords(score, [2.0], C_MAJOR, pulsed=[False, True], beat=0.5)
    starts = sorted({n.start for n in scored.notes if n.part == HARMONY_PART})
    assert starts == [0.0, 2.0, 2.5, 3.0]  # the melody's notes on beats 2.0, 2.5 and 3.0; none between
    second = [n for n in scored.notes if n.part == HARMONY_PART and n.start >= 2.0]
    assert max(n.end for n in second) == 4.0 and len({n.pitch for n in second}) == 3
    assert melody_line(scored.notes) == melody_line(melody)  # the melody stays on top at every onset


def test_at_a_cut_the_chord_moves_the_way_the_melody_moved():
    high, low = [79, 83, 86, 83], [72, 76, 79, 76]  # G B D, then C E G a fifth lower
    for first, second, direction in ((high, low, -1), (low, high, 1)):
        melody = _phrase(0.0, first, 0.5) + _phrase(2.0, second, 0.5)
        scored = with_shot_chords(Score(notes=tuple(melody), tempo_bpm=120, duration=4.0), [2.0], C_MAJOR)
        chords = [[n.pitch for n in scored.notes if n.part == HARMONY_PART and n.start == t] for t in (0.0, 2.0)]
        assert direction * (sum(chords[1]) - sum(chords[0])) / 3 >= 4  # with the melody's register, not against it
        assert max(chords[1]) < min(second)  # still under the melody


def test_a_chord_moved_down_with_the_melody_stays_above_the_muddy_bass_register():
    melody = _phrase(0.0, [79, 83, 86, 83], 0.5) + _phrase(2.0, [55, 60, 64, 60], 0.5)  # two octaves down
    scored = with_shot_chords(Score(notes=tuple(melody), tempo_bpm=120, duration=4.0), [2.0], C_MAJOR)
    moved = [n.pitch for n in scored.notes if n.part == HARMONY_PART and n.start == 2.0]
    assert len(moved) == 3 and min(moved) >= 43  # not a close triad on C2 (36), as it was
