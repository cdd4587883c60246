"""score_core.analysis on a real PyAV video with known cuts and hand-made MIDI answering (or ignoring) them."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from score_core.analysis import evaluate_files, motion_density, musical_change
from score_core.analysis.correspondence import change_peaks, cut_response, response_lag, shifted
from score_core.contracts import Marker, Note, Score, SignalTrack
from score_core.media.synthetic import write_test_video
from score_core.midi import write_midi

DURATION = 20.0
CUTS = (2.5, 5.0, 8.0, 11.5, 14.0, 17.5)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_test_video(tmp_path_factory.mktemp("cuts") / "cuts.mp4", duration=DURATION, cuts=CUTS)


def _one_note_per_shot(boundaries: list[float]) -> Score:
    """A long note per section, each section an octave and a fifth away from the last."""
    edges = [0.0, *boundaries, DURATION]
    notes = [
        Note(pitch=48 + (19 if i % 2 else 0) + i, velocity=80, start=a, end=b)
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    ]
    markers = [Marker(time=a, text=f"segment {i + 1}") for i, a in enumerate(edges[:-1])]
    return Score(notes=tuple(notes), tempo_bpm=120, duration=DURATION, markers=tuple(markers))


def _arpeggios(boundaries: list[float]) -> Score:
    """Running 8th-note arpeggios whose register and harmony change at each boundary."""
    edges = [0.0, *boundaries, DURATION]
    notes = []
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        root = 55 + (12 if i % 2 else 0) + (5 * i) % 7
        t, k = a, 0
        while t < b - 0.05:
            end = min(t + 0.25, b)
            notes.append(Note(pitch=root + (0, 4, 7, 4)[k % 4], velocity=80, start=t, end=end))
            t, k = end, k + 1
    return Score(notes=tuple(notes), tempo_bpm=120, duration=DURATION)


def _evaluate(tmp_path: Path, video: Path, score: Score, name: str) -> dict:
    midi = write_midi(score, tmp_path / f"{name}.mid")
    return evaluate_files(video, midi).figures


def test_onsets_at_the_cuts_score_one_and_between_them_zero(tmp_path, video) -> None:
    at = _evaluate(tmp_path, video, _one_note_per_shot(list(CUTS)), "at")
    assert at["cuts"] == len(CUTS)
    assert at["onset_hits"]["0.07s"]["recall"] == 1.0
    # the note at 0 s is an onset no cut asks for: 6 hits of 7 onsets
    assert at["onset_hits"]["0.07s"]["f1"] == pytest.approx(2 * (6 / 7) / (1 + 6 / 7), abs=1e-3)
    assert at["phrase_hits"]["0.07s"]["f1"] > 0.9
    assert at["onset_hits"]["0.07s"]["z"] > 3

    middles = [(a + b) / 2 for a, b in zip((0.0, *CUTS), (*CUTS, DURATION), strict=True)][1:]
    between = _evaluate(tmp_path, video, _one_note_per_shot(middles), "between")
    assert between["onset_hits"]["0.07s"]["f1"] == 0.0
    assert between["onset_hits"]["0.5s"]["f1"] == 0.0
    assert between["phrase_hits"]["0.07s"]["f1"] == 0.0


def test_music_that_changes_at_the_cuts_has_a_high_cut_response_and_no_lag(tmp_path, video) -> None:
    at = _evaluate(tmp_path, video, _arpeggios(list(CUTS)), "arp-at")
    assert at["cut_response"]["z"] >= 3
    assert at["lag"]["response_median"] <= 0.125
    assert abs(at["lag"]["xcorr"]) <= 0.125
    assert at["pitch_change"]["at_cuts"] > 5 > at["pitch_change"]["within_shots"]

    late = _evaluate(tmp_path, video, _arpeggios([c + 1.5 for c in CUTS]), "arp-late")
    assert late["cut_response"]["z"] < 1
    assert late["lag"]["response_median"] == pytest.approx(1.5, abs=0.13)
    assert late["lag"]["xcorr"] == pytest.approx(1.5, abs=0.13)
    assert late["pitch_change"]["at_cuts"] < late["pitch_change"]["within_shots"]


def test_a_video_without_cuts_still_evaluates(tmp_path) -> None:
    plain = write_test_video(tmp_path / "plain.mp4", duration=6.0)
    figures = _evaluate(tmp_path, plain, _arpeggios([3.0]), "plain")
    assert figures["cuts"] == 0
    assert figures["cut_response"]["z"] is None
    assert figures["onset_hits"]["0.07s"]["f1"] == 0.0
    assert figures["musicality"]["notes_per_second"] > 0


def test_change_signal_peaks_where_the_music_changes() -> None:
    score = _arpeggios([6.0, 12.0])
    signal = musical_change(score.notes, DURATION)
    peaks = change_peaks(signal)
    assert any(abs(p - 6.0) <= 0.125 for p in peaks) and any(abs(p - 12.0) <= 0.125 for p in peaks)
    assert response_lag([6.0, 12.0], peaks) == 0.0
    baseline = cut_response([6.0, 12.0], signal, DURATION)
    assert baseline.z > 3
    assert math.isnan(cut_response([], signal, DURATION).z)


def test_shifted_cut_sets_keep_their_gaps() -> None:
    cuts = np.array([2.0, 5.0, 9.0])
    moved = shifted(cuts, 4.0, 1.0, 11.0)  # inside [1, 11): 6, 9 and 13 → 3
    assert moved.tolist() == [3.0, 6.0, 9.0]


def test_note_density_that_follows_motion_one_second_later() -> None:
    times = np.arange(0.0, 30.0, 0.04)
    rng = np.random.default_rng(3)
    level = np.repeat(rng.uniform(0.0, 1.0, 30), 25)  # motion changes every second
    visual = SignalTrack(times=times, values=level, name="visual-change")
    notes = []
    for second, amount in enumerate(level[::25]):
        count = 2 * round(float(amount) * 6)  # the next second gets that many notes, evenly spread
        notes += [Note(pitch=60, velocity=80, start=second + 1 + k / count, end=second + 1 + (k + 1) / count)
                  for k in range(count) if second + 1 < 30]
    result = motion_density(visual, notes, 30.0, cuts=[])
    assert result.best_lag == 1.0
    assert result.rho_at_best_lag > 0.9
    assert result.rho < 0.5


@pytest.mark.parametrize("duration", [0.3, 1.2, 2.5])
@pytest.mark.parametrize("with_notes", [True, False])
def test_short_pieces_and_silence_give_figures_not_errors(duration: float, with_notes: bool) -> None:
    from score_core.analysis import TempoMap, evaluate_music

    times = np.arange(0.0, duration, 1 / 30)
    values = np.where(np.abs(times - duration / 2) < 0.02, 0.5, 0.01)
    visual = SignalTrack(times=times, values=values, name="visual-change")
    notes = [Note(pitch=60 + i, velocity=80, start=t, end=t + 0.1) for i, t in enumerate(times[::6])]
    figures = evaluate_music(notes if with_notes else [], [], TempoMap.constant(120), duration, visual,
                             cuts=[duration / 2]).figures
    assert figures["cuts"] == 1
    assert figures["cut_response"]["z"] is None  # too short for a before and after second around the cut
