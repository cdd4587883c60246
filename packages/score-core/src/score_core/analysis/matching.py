"""One-to-one matching of event times within a tolerance window, and the hit scores it gives.

The definitions follow mir_eval: `onset.f_measure` and `segment.detection` count a reference event and an
estimated event as a hit when they lie within ``window`` seconds of each other, each event taking part in at
most one hit, and the number of hits is the size of a maximum matching. Precision = hits / estimates,
recall = hits / references, F1 their harmonic mean; all three are 0 when either list is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ONSET_WINDOW = 0.07
"""mir_eval's default onset tolerance, seconds."""
BOUNDARY_WINDOW = 0.5
"""mir_eval's tighter segment-boundary tolerance, seconds."""


@dataclass(frozen=True)
class HitScores:
    """Precision, recall and F1 of estimated events against reference events."""

    precision: float
    recall: float
    f1: float
    hits: int
    references: int
    estimates: int


def count_hits(reference: Sequence[float] | np.ndarray, estimated: Sequence[float] | np.ndarray, window: float) -> int:
    """Size of a maximum one-to-one matching with |reference - estimate| <= window.

    Both lists are sorted and walked together, each reference taking the earliest free estimate in its window.
    For points on a line with a symmetric window this greedy choice is a maximum matching (an estimate skipped
    for being too early can serve no later reference), so it equals mir_eval's Hopcroft–Karp count.
    """
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    hits, j = 0, 0
    for r in ref:
        while j < est.size and est[j] < r - window - 1e-9:
            j += 1
        if j < est.size and est[j] <= r + window + 1e-9:
            hits += 1
            j += 1
    return hits


def hit_scores(
    reference: Sequence[float] | np.ndarray, estimated: Sequence[float] | np.ndarray, window: float = ONSET_WINDOW
) -> HitScores:
    """mir_eval-style precision/recall/F1 of ``estimated`` event times against ``reference`` ones."""
    n_ref, n_est = len(reference), len(estimated)
    hits = count_hits(reference, estimated, window) if n_ref and n_est else 0
    precision = hits / n_est if n_est else 0.0
    recall = hits / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return HitScores(precision, recall, f1, hits, n_ref, n_est)
