"""The timeline picture of an evaluation: thumbnails, visual change with cuts, tempo map and piano roll, all on
one time axis. Needs matplotlib (``pip install 'score-core[plot]'``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from score_core.analysis.correspondence import CHANGE_WINDOW, change_peaks
from score_core.analysis.report import Evaluation, phrase_starts
from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes

THUMBNAILS = 12
"""Thumbnails across the top row."""


def require_pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend; a one-line ScoreError when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ScoreError("--plot", "needs matplotlib: pip install 'score-core[plot]'") from None
    return plt


def render_timeline(evaluation: Evaluation, title: str = "", dpi: int = 100) -> bytes:
    """The timeline as PNG bytes (1400x900 pixels at the default ``dpi``)."""
    plt = require_pyplot()
    ev = evaluation
    end = ev.duration
    figure, axes = plt.subplots(
        4, 1, figsize=(14, 9), sharex=True, gridspec_kw={"height_ratios": [1.1, 1.4, 0.8, 2.6]}, dpi=100
    )
    thumbs, change_ax, tempo_ax, roll_ax = axes
    _draw_thumbnails(thumbs, ev, end)
    change_ax.plot(ev.visual.times, ev.visual.values, color="0.3", lw=0.8, label="visual change")
    inside = (ev.change.times >= CHANGE_WINDOW) & (ev.change.times <= end - CHANGE_WINDOW)
    musical = ev.change.values[inside]
    if musical.size and np.ptp(musical) > 0:
        scale = float(ev.visual.values.max() or 1.0) / float(np.ptp(musical))
        change_ax.plot(ev.change.times[inside], (musical - musical.min()) * scale, color="tab:orange", lw=0.9,
                       alpha=0.8, label="musical change (scaled)")
    for peak in change_peaks(ev.change):
        change_ax.axvline(peak, color="tab:orange", ls=":", lw=0.8)
    top = float(ev.visual.values.max()) if ev.visual.values.size else 1.0
    for cue in ev.cues:
        kind = cue.text.split()[0]
        if kind != "cut":
            change_ax.plot([cue.time], [top], "v", color="tab:purple", ms=6)
            change_ax.annotate(kind, (cue.time, top), fontsize=7, color="tab:purple", xytext=(2, -10),
                               textcoords="offset points")
    change_ax.set_ylabel("change")
    change_ax.legend(loc="upper right", fontsize=8)
    beats = ev.tempo.beat_times(end)
    times = [t for t, _ in ev.tempo.changes] + [end]
    bpms = [b for _, b in ev.tempo.changes]
    tempo_ax.step(times, [*bpms, bpms[-1]], where="post", color="tab:green")
    for bar in ev.tempo.bar_times(end):
        tempo_ax.axvline(bar, color="tab:green", lw=0.6, alpha=0.5)
    tempo_ax.plot(beats, np.full(beats.size, min(bpms)), "|", color="tab:green", ms=6)
    tempo_ax.set_ylabel("bpm")
    tempo_ax.set_ylim(min(bpms) - 10, max(bpms) + 10)
    _draw_piano_roll(roll_ax, ev)
    for ax in (change_ax, tempo_ax, roll_ax):
        for cut in ev.cuts:
            ax.axvline(cut, color="tab:red", lw=1.2, alpha=0.8)
    roll_ax.set_xlim(0, end)
    roll_ax.set_xlabel("seconds (red: cuts; purple: other cue points; orange: musical changes; green: bars)")
    figure.suptitle(title or "score evaluate", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()


def write_timeline(evaluation: Evaluation, path: Path, title: str = "", dpi: int = 100) -> Path:
    """Render the timeline and write it to ``path`` in one step (no partial file on failure)."""
    atomic_write_bytes(Path(path), render_timeline(evaluation, title, dpi))
    return Path(path)


def _draw_thumbnails(ax: Any, ev: Evaluation, end: float) -> None:
    ax.set_yticks([])
    ax.set_ylabel("frames")
    if not ev.thumbnails:
        return
    times = np.array([t for t, _ in ev.thumbnails])
    width = end / THUMBNAILS
    for k in range(THUMBNAILS):
        centre = (k + 0.5) * width
        index = int(np.argmin(np.abs(times - centre)))
        image = ev.thumbnails[index][1]
        ax.imshow(image, extent=(k * width, (k + 1) * width, 0, 1), aspect="auto")
    ax.set_ylim(0, 1)


def _draw_piano_roll(ax: Any, ev: Evaluation) -> None:
    from score_core.analysis.musicality import BASS_PROGRAMS
    from score_core.harmony import HARMONY_PROGRAM

    for note in ev.notes:
        colour = ("tab:gray" if note.is_drum else "tab:olive" if note.program == HARMONY_PROGRAM
                  else "tab:brown" if note.program in BASS_PROGRAMS else "tab:blue")
        ax.broken_barh([(note.start, note.end - note.start)], (note.pitch - 0.4, 0.8), color=colour)
    for start in phrase_starts(ev.markers):
        ax.axvline(start, color="tab:blue", ls="--", lw=0.6, alpha=0.6)
    pitches = [n.pitch for n in ev.notes] or [60]
    ax.set_ylim(min(pitches) - 2, max(pitches) + 6)
    for marker in ev.markers:
        if marker.text.startswith("theme "):
            ax.text(marker.time, max(pitches) + 5, marker.text.removeprefix("theme ").replace(" again", "'"),
                    fontsize=6, va="top")
    ax.set_ylabel("pitch (olive: chords, brown: bass, grey: drums;\ndashed: phrase starts; letters: themes)")
