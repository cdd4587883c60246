"""Form figures and the per-cut response z on hand-made music whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from score_core.analysis import TempoMap, evaluate_music
from score_core.analysis.form import (
    drum_placement,
    recurrence_share,
    repeated_note_share,
    shot_similarity,
    subject_groups,
)
from score_core.analysis.musicality import musicality
from score_core.contracts import Note, SignalTrack

TEMPO = TempoMap.constant(120)  # a bar is 2 s, a 16th 0.125 s
THEME = [(0, 60), (2, 62), (4, 64), (6, 65), (8, 67), (12, 64), (16, 72), (20, 71), (24, 69), (28, 67),
         (32, 65), (36, 64), (40, 62), (44, 60), (48, 62), (56, 60)]


def _play(events: list[tuple[int, int]], start: float, transpose: int = 0) -> list[Note]:
    return [Note(pitch=p + transpose, velocity=80, start=start + 0.125 * s, end=start + 0.125 * s + 0.25)
            for s, p in events]


def _random_bars(bars: int, seed: int) -> list[Note]:
    rng = np.random.default_rng(seed)
    steps = sorted(rng.choice(bars * 16, size=bars * 5, replace=False))
    return [Note(pitch=int(rng.integers(55, 80)), velocity=80, start=0.125 * s, end=0.125 * s + 0.125)
            for s in steps]


def test_a_theme_that_returns_recurs_and_random_notes_do_not():
    random = _random_bars(4, 1)
    shifted = [n.model_copy(update={"start": n.start + 16.0, "end": n.end + 16.0}) for n in random]
    piece = _play(THEME, 0.0) + _play(THEME, 8.0, transpose=5) + shifted + _play(THEME, 24.0)
    assert recurrence_share(piece, TEMPO, 32.0) == pytest.approx(0.75)  # three of four windows come back
    assert recurrence_share(_random_bars(16, 2), TEMPO, 32.0) == 0.0
    assert math.isnan(recurrence_share(_play(THEME, 0.0), TEMPO, 8.0))  # too short to say


def test_a_bands_melody_figures_are_its_melodys_not_its_bass_or_drums():
    melody = [Note(pitch=p, velocity=80, start=1.0 * i, end=1.0 * i + 0.5, part="melody")
              for i, p in enumerate([72, 74, 76, 77, 79, 77, 76, 74])]
    bass = [Note(pitch=36, velocity=80, start=1.0 * i + 0.5, end=1.0 * i + 0.9, part="bass", program=33)
            for i in range(8)]  # one pitch, between the melody's notes: the top line would go down to it
    drums = [Note(pitch=36, velocity=100, start=0.25 * i, end=0.25 * i + 0.1, part="drums", is_drum=True)
             for i in range(32)]
    band = melody + bass + drums
    assert repeated_note_share(band) == 0.0
    figures = musicality(band, TEMPO, 8.0)
    assert figures.notes_per_second == pytest.approx(1.0)
    assert figures.mean_abs_interval == pytest.approx(musicality(melody, TEMPO, 8.0).mean_abs_interval)
    assert repeated_note_share(bass) == 1.0  # a bass alone is still measured as the line it is
    assert musicality(drums, TEMPO, 8.0).notes_per_second == pytest.approx(4.0)


def test_repeated_notes_and_drums_in_their_places():
    line = [Note(pitch=p, velocity=80, start=0.5 * i, end=0.5 * i + 0.4) for i, p in enumerate([60, 60, 62, 64, 64])]
    assert repeated_note_share(line) == pytest.approx(0.5)
    beat = 0.5
    groove = []
    for bar in range(4):
        for k, pitch in enumerate((36, 38, 36, 38)):  # kick on 1 and 3, snare on 2 and 4
            groove.append(Note(pitch=pitch, velocity=100, start=bar * 2 + k * beat, end=bar * 2 + k * beat + 0.1,
                               is_drum=True, program=0))
    placed = drum_placement(groove, TEMPO, 8.0)
    assert placed.snare_on_2_or_4 == 1.0 and placed.kick_on_1_or_3 == 1.0
    late = [n.model_copy(update={"start": n.start + beat, "end": n.end + beat}) for n in groove]
    moved = drum_placement(late, TEMPO, 9.0)
    assert moved.snare_on_2_or_4 == 0.0 and moved.kick_on_1_or_3 == 0.0


def test_the_leitmotif_test_tells_returning_music_from_new_music():
    shots = [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0), (12.0, 16.0)]
    c_major = [Note(pitch=60 + (0, 4, 7, 12)[k % 4], velocity=80, start=0.5 * k, end=0.5 * k + 0.5) for k in range(8)]
    f_sharp = [n.model_copy(update={"pitch": n.pitch + 6, "start": n.start + 4, "end": n.end + 4}) for n in c_major]
    returning = c_major + f_sharp + [n.model_copy(update={"start": n.start + 8, "end": n.end + 8})
                                     for n in c_major + f_sharp]
    result = shot_similarity(returning, shots, [0, 1, 0, 1])
    assert result.same_subject == pytest.approx(1.0) and result.other < 0.3
    assert (result.same_pairs, result.other_pairs) == (2, 4)
    look = [np.eye(4)[0], np.eye(4)[1], np.eye(4)[0] * 0.9 + 0.01, np.eye(4)[1]]
    assert subject_groups(look) == [0, 1, 0, 1]


def _visual(duration: float, cuts: list[float]) -> SignalTrack:
    times = np.arange(0.0, duration, 0.04)
    values = np.full(times.size, 0.01)
    for cut in cuts:
        values[np.argmin(np.abs(times - cut))] = 0.6
    return SignalTrack(times=times, values=values, name="visual-change")


def _arpeggio_changing_at(changes: list[float], duration: float) -> list[Note]:
    edges = [0.0, *changes, duration]
    notes = []
    for i in range(len(edges) - 1):
        root = 55 + (12 if i % 2 else 0) + (5 * i) % 7
        t, k = edges[i], 0
        while t < edges[i + 1] - 0.05:
            notes.append(Note(pitch=root + (0, 4, 7, 4)[k % 4], velocity=80, start=t, end=min(t + 0.25, edges[i + 1])))
            t, k = t + 0.25, k + 1
    return notes


def test_music_that_ignores_the_cuts_scores_about_zero_and_music_that_answers_them_high():
    duration, cuts = 60.0, [4.0, 11.0, 17.5, 23.0, 31.0, 36.5, 44.0, 50.0, 55.5]
    changes = [7.5, 14.0, 20.5, 27.0, 34.0, 40.0, 47.5, 53.0]  # always between cuts
    visual = _visual(duration, cuts)
    ignoring = evaluate_music(_arpeggio_changing_at(changes, duration), [], TEMPO, duration, visual, cuts=cuts)
    answering = evaluate_music(_arpeggio_changing_at(cuts, duration), [], TEMPO, duration, visual, cuts=cuts)
    assert abs(ignoring.figures["cut_response"]["effect_z"]) < 1.0
    assert answering.figures["cut_response"]["effect_z"] > 3.0
    null = answering.figures["cut_response"]
    assert abs(null["null_effect_z_mean"]) < 1.0  # shifted cut sets land mostly where nothing changes
