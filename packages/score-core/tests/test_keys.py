"""Keys: Krumhansl–Schmuckler estimates, moving segments into one piece key, the scale fit."""

import pytest

from score_core.contracts import Note, Score
from score_core.errors import ScoreError
from score_core.keys import (
    Key,
    estimate_key,
    fit_to_scale,
    in_scale_fraction,
    key_from_colour,
    key_parts,
    move_pitch,
    parse_key,
)

C_MAJOR_TUNE = (60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 67, 64, 60, 55)
A_MINOR_TUNE = (57, 60, 64, 69, 67, 69, 64, 60, 57, 59, 60, 62, 64, 57, 52, 57)


def _notes(pitches, start=0.0, step=0.25, part="melody"):
    return [Note(pitch=p, velocity=90, start=start + i * step, end=start + (i + 1) * step, part=part)
            for i, p in enumerate(pitches)]


@pytest.mark.parametrize(
    ("text", "key"),
    [("D minor", Key(2, "minor")), ("F# major", Key(6, "major")), ("Bbm", Key(10, "minor")), ("a", Key(9, "minor")),
     ("Eb", Key(3, "major")), ("db maj", Key(1, "major"))],
)
def test_parse_key(text, key):
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["", "H minor", "D dorian", "C major extra"])
def test_parse_key_refuses_what_is_not_a_key(text):
    with pytest.raises(ScoreError, match="expected a tonic and a mode"):
        parse_key(text)


def test_estimate_key_finds_tonic_and_mode_and_follows_transposition():
    assert estimate_key(_notes(C_MAJOR_TUNE)) == Key(0, "major")
    assert estimate_key(_notes([p + 3 for p in C_MAJOR_TUNE])) == Key(3, "major")
    assert estimate_key(_notes(A_MINOR_TUNE)) == Key(9, "minor")
    assert estimate_key(_notes([60, 60, 60])) is None


def test_move_pitch_transposes_by_at_most_a_tritone_and_maps_mode_degrees():
    assert move_pitch(64, Key(0, "major"), Key(2, "major")) == 66
    assert move_pitch(64, Key(0, "major"), Key(10, "major")) == 62  # down 2, not up 10
    assert move_pitch(64, Key(0, "major"), Key(0, "minor")) == 63  # the major third becomes minor
    assert move_pitch(67, Key(0, "major"), Key(0, "minor")) == 67


def test_every_segment_ends_in_the_piece_key():
    e_major = _notes([p + 4 for p in C_MAJOR_TUNE])
    b_flat = _notes([p - 2 for p in C_MAJOR_TUNE], start=4.0)
    f_minor = _notes([p - 4 for p in A_MINOR_TUNE], start=8.0)
    score = Score(notes=tuple(e_major + b_flat + f_minor), tempo_bpm=120, duration=12.0)
    assert in_scale_fraction(score.notes) < 0.8  # three keys: no one scale fits
    target = parse_key("D minor")
    keyed, sources = key_parts(score, [0.0, 4.0, 8.0], target)
    assert sources == [Key(4, "major"), Key(10, "major"), Key(5, "minor")]
    for start in (0.0, 4.0, 8.0):
        segment = [n for n in keyed.notes if start <= n.start < start + 4.0]
        assert estimate_key(segment) == target
    assert in_scale_fraction(keyed.notes) == 1.0
    assert max(abs(a.pitch - b.pitch) for a, b in zip(score.notes, keyed.notes, strict=True)) <= 7


def test_scale_fit_moves_only_out_of_scale_notes_to_a_neighbour():
    key = parse_key("C major")
    assert fit_to_scale(64, key) == 64
    assert fit_to_scale(61, key) == 60
    assert fit_to_scale(61, key, previous=64) == 62
    # a rising step stays a rising step: C -> C# fits to D, not back onto C
    assert fit_to_scale(61, key, previous=60, source_previous=60) == 62
    assert fit_to_scale(61, key, previous=62, source_previous=62) == 60
    chromatic = Score(notes=tuple(_notes(range(60, 72))), tempo_bpm=120, duration=3.0)
    fitted, _ = key_parts(chromatic, [0.0], key, fit=True)
    assert all(n.pitch % 12 in key.scale() for n in fitted.notes)
    assert all(abs(a.pitch - b.pitch) <= 1 for a, b in zip(chromatic.notes, fitted.notes, strict=True))


def test_drums_are_not_moved():
    drum = Note(pitch=36, velocity=100, start=0.0, end=0.1, is_drum=True, part="drums")
    score = Score(notes=(drum, *_notes(C_MAJOR_TUNE)), tempo_bpm=120, duration=4.0)
    keyed, _ = key_parts(score, [0.0], parse_key("F# major"))
    assert drum in keyed.notes


def test_key_from_colour_bright_is_major_dark_is_minor():
    assert key_from_colour((230, 220, 200)).mode == "major"
    assert key_from_colour((30, 20, 40)).mode == "minor"
    assert key_from_colour((200, 40, 40)).tonic != key_from_colour((40, 40, 200)).tonic
