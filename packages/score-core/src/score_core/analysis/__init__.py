"""Measure music against a video (hits at cuts, change response, lag) and on its own (musicality).

numpy only; `score_core.analysis.timeline` draws the timeline plot with matplotlib (the ``plot`` extra).
"""

from score_core.analysis.correspondence import (
    Baseline,
    ChangeSignal,
    cut_response,
    hit_baseline,
    motion_density,
    musical_change,
    pitch_change,
    response_lag,
    spearman,
    xcorr_lag,
)
from score_core.analysis.matching import BOUNDARY_WINDOW, ONSET_WINDOW, HitScores, count_hits, hit_scores
from score_core.analysis.musicality import KeyEstimate, Musicality, estimate_key, musicality
from score_core.analysis.report import Evaluation, evaluate_files, evaluate_music, phrase_starts
from score_core.analysis.tempo import TempoMap

__all__ = [
    "BOUNDARY_WINDOW",
    "ONSET_WINDOW",
    "Baseline",
    "ChangeSignal",
    "Evaluation",
    "HitScores",
    "KeyEstimate",
    "Musicality",
    "TempoMap",
    "count_hits",
    "cut_response",
    "estimate_key",
    "evaluate_files",
    "evaluate_music",
    "hit_baseline",
    "hit_scores",
    "motion_density",
    "musical_change",
    "musicality",
    "phrase_starts",
    "pitch_change",
    "response_lag",
    "spearman",
    "xcorr_lag",
]
