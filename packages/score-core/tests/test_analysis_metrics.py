"""score_core.analysis: hit matching, tempo maps and musicality figures against values worked out by hand."""

from __future__ import annotations

import math

import mido
import pytest

from score_core.analysis import TempoMap, count_hits, estimate_key, hit_scores, spearman
from score_core.analysis.musicality import (
    bass_melody_consonance,
    drums_on_eighths,
    empty_bar_rate,
    groove_pattern_similarity,
    in_scale_fraction,
    mean_abs_interval,
    melody_line,
    musicality,
    pitch_class_entropy,
)
from score_core.analysis.tempo import read_cue_points
from score_core.contracts import Note
from score_core.errors import ScoreError


def _note(pitch: int, start: float, end: float | None = None, **kwargs: object) -> Note:
    return Note(pitch=pitch, velocity=80, start=start, end=start + 0.25 if end is None else end, **kwargs)


# ------------------------------------------------------------------------------------------------ matching


def test_hits_are_one_to_one_within_the_window() -> None:
    # two estimates near one reference count once; the 0.1 s one is outside ±0.07
    scores = hit_scores([1.0, 2.0], [0.95, 1.02, 2.1], window=0.07)
    assert (scores.hits, scores.precision, scores.recall) == (1, pytest.approx(1 / 3), 0.5)
    assert scores.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_matching_is_maximum_not_nearest_first() -> None:
    # giving reference 1.0 its nearest estimate (1.01) would leave 1.06 without one: 2 hits are possible
    assert count_hits([1.0, 1.06], [0.96, 1.01], window=0.07) == 2
    assert count_hits([1.0, 1.1], [1.05, 1.16], window=0.07) == 2


def test_empty_lists_score_zero() -> None:
    assert hit_scores([], [1.0]).f1 == 0.0
    assert hit_scores([1.0], []).f1 == 0.0


def test_spearman_uses_average_ranks() -> None:
    assert spearman(__import__("numpy").array([1, 2, 3, 4.0]), __import__("numpy").array([10, 20, 30, 40.0])) == 1.0
    import numpy as np

    x = np.array([1.0, 2.0, 2.0, 3.0])
    y = np.array([4.0, 3.0, 3.0, 1.0])
    assert spearman(x, y) == pytest.approx(-1.0)
    assert math.isnan(spearman(np.ones(5), np.arange(5.0)))


# ------------------------------------------------------------------------------------------------ tempo map


def test_tempo_map_beats_follow_tempo_changes(tmp_path) -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 bpm for 2 beats = 1 s
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=960),  # then 60 bpm
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
            mido.MetaMessage("cue_marker", text="flash 2.000s", time=480),  # one 60-bpm beat later: 2 s
        ]
    )
    midi.tracks.append(track)
    path = tmp_path / "tempo.mid"
    midi.save(path)
    tempo = TempoMap.from_midi(path)
    assert tempo.changes == ((0.0, 120.0), (1.0, 60.0))
    assert tempo.beats_per_bar == 3
    assert tempo.beat_times(4.0).tolist() == [0.0, 0.5, 1.0, 2.0, 3.0]
    assert tempo.bar_times(4.0).tolist() == [0.0, 2.0]
    assert [(c.time, c.text) for c in read_cue_points(path)] == [(2.0, "flash 2.000s")]


def test_tempo_map_rejects_a_file_that_is_not_midi(tmp_path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    with pytest.raises(ScoreError, match="MIDI file"):
        TempoMap.from_midi(bad)


# ------------------------------------------------------------------------------------------------ musicality

TEMPO = TempoMap.constant(120)  # a bar is 2 s


def test_in_scale_fraction_picks_the_best_diatonic_scale() -> None:
    # C D E F G A B in C major plus F#: G major holds 7 of the 8 as well (F#, not F), so 7/8 either way
    notes = [_note(p, i * 0.25) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 66])]
    assert in_scale_fraction(notes) == pytest.approx(7 / 8)
    g_major = [_note(p, i * 0.25) for i, p in enumerate([67, 66, 66, 66, 64, 62, 60])]  # F#: not C major
    assert in_scale_fraction(g_major) == 1.0
    chromatic = [_note(60 + i, i * 0.25) for i in range(12)]
    assert in_scale_fraction(chromatic) == pytest.approx(7 / 12)


def test_pitch_class_entropy_per_bar() -> None:
    # bar 1: C and G equally (1 bit); bar 2: one pitch class (0 bits); bar 3 empty (skipped)
    notes = [_note(60, 0.0), _note(67, 0.5), _note(72, 2.0), _note(60, 2.5)]
    assert pitch_class_entropy(notes, TEMPO, 6.0) == pytest.approx(0.5)


def test_mean_abs_interval_follows_the_top_line() -> None:
    notes = [_note(60, 0.0), _note(48, 0.0), _note(64, 0.5), _note(57, 1.0)]
    assert [n.pitch for n in melody_line(notes)] == [60, 64, 57]
    assert mean_abs_interval(notes) == pytest.approx((4 + 7) / 2)


def test_empty_bar_rate_counts_bars_where_nothing_sounds() -> None:
    # a note held from bar 1 into bar 2 keeps bar 2 from being empty; bars 3 and 4 are empty
    notes = [_note(60, 0.5, 2.5)]
    assert empty_bar_rate(notes, TEMPO, 8.0) == pytest.approx(2 / 4)


def test_groove_similarity_is_one_minus_xor_over_sixteen() -> None:
    sixteenth = 0.125
    bar1 = [_note(60, s * sixteenth) for s in (0, 4, 8, 12)]
    bar2 = [_note(60, 2.0 + s * sixteenth) for s in (0, 4, 8, 14)]  # differs on 2 of 16 steps
    assert groove_pattern_similarity(bar1 + bar2, TEMPO, 4.0) == pytest.approx(1 - 2 / 16)
    bar3 = [_note(60, 4.0 + s * sixteenth) for s in (0, 4, 8, 12)]  # pairs: 14/16, 16/16, 14/16
    assert groove_pattern_similarity(bar1 + bar2 + bar3, TEMPO, 6.0) == pytest.approx((14 + 16 + 14) / 48)


def test_drums_on_eighths() -> None:
    drums = [_note(36, t, is_drum=True) for t in (0.0, 0.25, 0.5, 0.375)]  # 0.375 s is an odd 16th
    assert drums_on_eighths(drums, TEMPO, 2.0) == pytest.approx(3 / 4)


def test_bass_melody_consonance() -> None:
    bass = [_note(36, 0.0, 2.0, program=33)]  # C
    melody = [_note(64, 0.0), _note(67, 0.5), _note(61, 1.0), _note(66, 1.5), _note(72, 3.0)]  # E G C# F# | C
    assert bass_melody_consonance(bass, melody) == pytest.approx(2 / 4)


def test_krumhansl_schmuckler_finds_the_key() -> None:
    c_major = [_note(p, i * 0.5, i * 0.5 + (1.0 if p in (60, 67) else 0.4)) for i, p in
               enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])]
    key = estimate_key(c_major)
    assert key is not None and key.name == "C major"
    a_minor = [_note(p, i * 0.5, i * 0.5 + (1.0 if p in (57, 64) else 0.4)) for i, p in
               enumerate([57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57])]
    key = estimate_key(a_minor)
    assert key is not None and key.name == "A minor"


def test_musicality_collects_every_figure() -> None:
    notes = [_note(60 + 2 * (i % 4), i * 0.5) for i in range(8)]
    figures = musicality(notes, TEMPO, 4.0).as_dict()
    assert figures["notes_per_second"] == 2.0
    assert figures["in_scale"] == 1.0
    assert figures["drums_on_eighths"] is None  # no drums: undefined, not 0
