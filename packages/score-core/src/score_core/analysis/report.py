"""One evaluation of music against a video: every correspondence and musicality figure in one report."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from score_core.analysis.correspondence import (
    Baseline,
    ChangeSignal,
    change_peaks,
    cut_effect,
    cut_response,
    hit_baseline,
    motion_density,
    musical_change,
    null_effects,
    pitch_change,
    response_lag,
    xcorr_lag,
)
from score_core.analysis.form import colour_signature, form_figures, subject_groups
from score_core.analysis.matching import BOUNDARY_WINDOW, ONSET_WINDOW, hit_scores
from score_core.analysis.musicality import musicality
from score_core.analysis.tempo import TempoMap, read_cue_points
from score_core.contracts import Marker, Note, SignalTrack
from score_core.media.events import detect_events

CutDetector = Callable[[SignalTrack, float, Mapping[str, SignalTrack]], list[float]]
"""(visual change, duration, other per-frame signals) → times where a new shot starts."""


def shot_starts(change: SignalTrack, duration: float, signals: Mapping[str, SignalTrack]) -> list[float]:
    """Times (s) where a new shot starts (cuts and fades), found as `score run` finds them."""
    events = detect_events(change, duration, luma=signals.get("luma"), slow_change=signals.get("slow-change"),
                           mix_residual=signals.get("mix-residual"))
    return [event.time for event in events.shot_starts]


DEFAULT_CUT_DETECTOR: CutDetector = shot_starts
PHRASE_MARKER_PREFIXES = ("segment", "phrase")
"""Markers whose text starts with one of these mark the start of a phrase the decoder wrote."""
ANALYSIS_FPS = 8.0
"""Frames per second sampled for thumbnails (the visual change itself uses every decoded frame)."""
INDEPENDENT_CUTS = "grey-histogram detector (independent of score run's)"
RUN_CUTS = "the run's own cuts (its tempo map and phrases were built on them: flatters)"
RUN_CUT_MARKER = "cut"
"""Text of the MIDI markers `score run` writes at the cuts it found."""


@dataclass(frozen=True)
class Evaluation:
    """Everything ``score evaluate`` measured, plus the signals the timeline plot draws."""

    figures: dict[str, Any]
    cuts: list[float]
    visual: SignalTrack
    change: ChangeSignal
    notes: list[Note]
    markers: list[Marker]
    tempo: TempoMap
    duration: float
    thumbnails: list[tuple[float, np.ndarray]] = field(default_factory=list)
    cues: list[Marker] = field(default_factory=list)
    """MIDI cue points (hit points such as "flash 2.340s"), drawn on the timeline."""


def phrase_starts(markers: Sequence[Marker]) -> list[float]:
    """Times of the phrase/segment markers a decoder wrote."""
    return sorted(m.time for m in markers if m.text.lower().startswith(PHRASE_MARKER_PREFIXES))


def clean_figures(value: Any) -> Any:
    """Figures ready for JSON: floats rounded to 4 decimals, NaN and infinities as None."""
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _baseline(b: Baseline) -> dict[str, Any]:
    return {"value": b.value, "shifted_mean": b.shifted_mean, "shifted_std": b.shifted_std, "z": b.z}


def _hits(cuts: Sequence[float], events: Sequence[float], duration: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, window in (("0.07s", ONSET_WINDOW), ("0.5s", BOUNDARY_WINDOW)):
        scores = hit_scores(cuts, events, window)
        baseline = hit_baseline(cuts, events, duration, window)
        out[label] = {"precision": scores.precision, "recall": scores.recall, "f1": scores.f1,
                      "shifted_f1": baseline.shifted_mean, "z": baseline.z}
    return out


def evaluate_music(
    notes: Sequence[Note],
    markers: Sequence[Marker],
    tempo: TempoMap,
    duration: float,
    visual: SignalTrack,
    cuts: Sequence[float] | None = None,
    cut_detector: CutDetector = DEFAULT_CUT_DETECTOR,
    signals: Mapping[str, SignalTrack] | None = None,
    cuts_source: str | None = None,
    thumbnails: Sequence[tuple[float, np.ndarray]] = (),
) -> Evaluation:
    """Correspondence of ``notes`` with the picture (cuts detected from ``visual`` and the other per-frame
    ``signals`` unless given; ``cuts_source`` says where they came from) and the music's own musicality and
    form figures; with ``thumbnails`` (time, RGB frame) also the leitmotif test over shots that look alike.
    Times in seconds; ``duration`` is the video's length."""
    cut_list = list(cut_detector(visual, duration, signals or {}) if cuts is None else cuts)
    notes = sorted(notes, key=lambda n: (n.start, n.pitch))
    change = musical_change(notes, duration)
    peaks = change_peaks(change)
    response = cut_response(cut_list, change, duration)
    effect = cut_effect(cut_list, change, duration)
    null_mean, null_std = null_effects(cut_list, change, duration)
    motion = motion_density(visual, notes, duration, cut_list)
    pitch = pitch_change(cut_list, change, duration)
    onsets = sorted({round(n.start, 6) for n in notes})
    phrases = phrase_starts(markers)
    shots, groups = shot_looks(cut_list, duration, thumbnails)
    figures = {
        "duration": duration,
        "cuts_source": cuts_source or ("given" if cuts is not None else "score run's detector"),
        "cuts": len(cut_list),
        "notes": len(notes),
        "onset_hits": _hits(cut_list, onsets, duration),
        "phrase_hits": _hits(cut_list, phrases, duration) if phrases else None,
        "change_hits": _hits(cut_list, list(peaks), duration),
        "cut_response": {**_baseline(response), "effect_z": effect.z, "null_effect_z_mean": null_mean,
                         "null_effect_z_std": null_std},
        "lag": {
            "response_median": response_lag(cut_list, peaks),
            "xcorr": xcorr_lag(visual, change),
        },
        "motion_density": {"rho": motion.rho, "best_lag": motion.best_lag, "rho_at_best_lag": motion.rho_at_best_lag},
        "pitch_change": {"at_cuts": pitch.at_cuts, "within_shots": pitch.within_shots},
        "musicality": musicality(notes, tempo, duration).as_dict(),
        "form": form_figures(notes, tempo, duration, shots, groups),
    }
    return Evaluation(_clean(figures), cut_list, visual, change, list(notes), list(markers), tempo, duration)


def shot_looks(cuts: Sequence[float], duration: float, thumbnails: Sequence[tuple[float, np.ndarray]]
               ) -> tuple[list[tuple[float, float]], list[int]]:
    """The shots between ``cuts`` that have thumbnails, and a subject group per shot (shots that look alike
    share one)."""
    edges = [0.0, *sorted(c for c in cuts if 0.0 < c < duration), duration]
    shots, signatures = [], []
    for start, end in itertools.pairwise(edges):
        frames = [frame for time, frame in thumbnails if start <= time < end]
        if frames:
            shots.append((start, end))
            signatures.append(colour_signature(frames))
    return shots, subject_groups(signatures)


def response_row(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The cut-response figures of one evaluation, for a side-by-side table."""
    onset = figures["onset_hits"]["0.07s"]
    phrase = (figures.get("phrase_hits") or {}).get("0.07s") or {}
    return {
        "cuts_source": figures["cuts_source"], "cuts": figures["cuts"],
        "effect_z": figures["cut_response"]["effect_z"], "shifted_z": figures["cut_response"]["z"],
        "null_effect_z_mean": figures["cut_response"]["null_effect_z_mean"],
        "null_effect_z_std": figures["cut_response"]["null_effect_z_std"],
        "lag": figures["lag"]["response_median"], "onset_f1": onset["f1"], "phrase_f1": phrase.get("f1"),
    }


Thumbnails = list[tuple[float, np.ndarray]]


@dataclass(frozen=True)
class VideoSignals:
    """What the evaluation reads from a video: its per-frame signals, length and thumbnails."""

    change: SignalTrack
    duration: float
    thumbnails: Thumbnails
    signals: dict[str, SignalTrack]


def read_video_signals(video: Path, thumbnail_height: int = 54) -> VideoSignals:
    """The visual-change signal of every decoded frame (and any other per-frame signal the reader measures),
    the video's duration, and small RGB thumbnails sampled at ANALYSIS_FPS."""
    from score_core.media import FrameReader, probe

    info = probe(video)
    width, height = info.display_size
    size = (thumbnail_height, max(2, round(thumbnail_height * width / height)))
    reader = FrameReader(video, fps=ANALYSIS_FPS, size=size, resize="stretch", batch_size=64)
    thumbnails: list[tuple[float, np.ndarray]] = []
    for batch in reader:
        thumbnails.extend(zip(batch.times.tolist(), list(batch.frames), strict=True))
    frame_signals = getattr(reader, "frame_signals", None)
    signals = dict(frame_signals()) if callable(frame_signals) else {}
    return VideoSignals(reader.visual_change(), info.duration, thumbnails, signals)


def evaluate_files(
    video: Path,
    midi: Path,
    cut_detector: CutDetector | None = None,
    cuts: Sequence[float] | None = None,
    cuts_source: str | None = None,
) -> Evaluation:
    """Evaluate a MIDI file as the soundtrack of a video. The cuts are ``cuts`` (hand labels) when given, else
    those of ``cut_detector``, else the grey-histogram detector's, which does not share `score run`'s
    detector; the run's own cuts (its MIDI "cut" markers) are graded too, as a separate labelled row."""
    from score_core.analysis.cuts import histogram_cuts
    from score_core.midi import read_midi

    score = read_midi(midi)
    tempo = TempoMap.from_midi(midi)
    cues = read_cue_points(midi)
    video_signals = read_video_signals(Path(video))
    if cuts is None and cut_detector is None:
        cuts, cuts_source = histogram_cuts(video), cuts_source or INDEPENDENT_CUTS
    elif cuts is None:
        assert cut_detector is not None
        cuts = cut_detector(video_signals.change, video_signals.duration, video_signals.signals)
    evaluation = evaluate_music(
        score.notes, score.markers, tempo, video_signals.duration, video_signals.change, cuts=cuts,
        signals=video_signals.signals, cuts_source=cuts_source, thumbnails=video_signals.thumbnails,
    )
    run_cuts = sorted(m.time for m in score.markers if m.text == RUN_CUT_MARKER)
    own = None
    if run_cuts:
        own = response_row(evaluate_music(score.notes, score.markers, tempo, video_signals.duration,
                                          video_signals.change, cuts=run_cuts, cuts_source=RUN_CUTS).figures)
    figures = {**evaluation.figures, "comparison": {"run_own_cuts": own}}
    return replace(evaluation, figures=figures, thumbnails=video_signals.thumbnails, cues=cues)
