"""Drum training windows from the Groove MIDI Dataset (Magenta, CC BY 4.0), with its official split.

Each performance (type-0 MIDI, one tempo, drums on channel 10) is quantised to sixteenths on its own beat grid
(ticks per beat), so the grid follows the file's tempo. Only 4/4 performances are used (a bar is 16 steps).
2-bar windows start on every bar line (sliding by one bar, as Magenta slices drum tracks); a window with fewer
than ``MIN_HIT_STEPS`` steps that hit is dropped; each distinct window is kept once per performance. The split
is the dataset's own (``info.csv``: train / validation / test).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mido
import numpy as np

from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_music.drums import onsets_to_events
from score_music.melody import quantize

__all__ = [
    "MIN_HIT_STEPS",
    "GrooveSummary",
    "build_groove_cache",
    "default_groove_cache",
    "default_groove_root",
    "groove_windows",
    "load_groove_split",
    "read_groove_events",
]

Split = Literal["train", "valid", "test"]
SPLITS: tuple[Split, ...] = ("train", "valid", "test")
_CSV_SPLIT = {"train": "train", "validation": "valid", "test": "test"}
STEPS_PER_BAR = 16
WINDOW_BARS = 2
MIN_HIT_STEPS = 4
"""A 2-bar window needs hits on at least this many of its 32 steps."""
CACHE_FILE = "groove-windows.npz"
_FORMAT = 1


def default_groove_root() -> Path:
    """``$SCORE_GROOVE`` if set, else the shared data folder ``/work/shared/data/music/groove``."""
    return Path(os.environ.get("SCORE_GROOVE", "/work/shared/data/music/groove")).expanduser()


def default_groove_cache() -> Path:
    """``$SCORE_GROOVE_WINDOWS`` if set, else ``$XDG_CACHE_HOME/score/groove-windows`` (~/.cache/...)."""
    if override := os.environ.get("SCORE_GROOVE_WINDOWS"):
        return Path(override).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "score" / "groove-windows"


def read_groove_events(path: str | Path) -> np.ndarray:
    """Drum events (int64, whole bars) of one MIDI file, every drum onset quantised on the file's beat grid."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError) as exc:
        raise ScoreError(str(path), f"not a readable MIDI file ({exc})") from None
    onsets: list[tuple[int, int]] = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0 and message.channel == 9:
                onsets.append((message.note, quantize(tick / midi.ticks_per_beat)))
    if not onsets:
        return np.zeros(0, dtype=np.int64)
    bars = max(step for _, step in onsets) // STEPS_PER_BAR + 1
    return onsets_to_events(onsets, bars * STEPS_PER_BAR)


def groove_windows(events: np.ndarray, bars: int = WINDOW_BARS) -> np.ndarray:
    """Distinct ``bars``-bar windows (uint16, (n, bars·16)) starting on each bar line, near-empty ones dropped."""
    steps = bars * STEPS_PER_BAR
    seen: set[bytes] = set()
    kept = []
    for start in range(0, len(events) - steps + 1, STEPS_PER_BAR):
        window = np.asarray(events[start:start + steps], dtype=np.uint16)
        if np.count_nonzero(window) < MIN_HIT_STEPS:
            continue
        key = window.tobytes()
        if key not in seen:
            seen.add(key)
            kept.append(window)
    return np.stack(kept) if kept else np.zeros((0, steps), dtype=np.uint16)


@dataclass(frozen=True)
class GrooveSummary:
    """What a cache build found."""

    path: Path
    files: dict[str, int]
    windows: dict[str, int]
    skipped_time_signature: int

    def __str__(self) -> str:
        parts = ", ".join(f"{s}: {self.files[s]} files / {self.windows[s]} windows" for s in SPLITS)
        return f"{self.path}: {parts}; {self.skipped_time_signature} files not in 4/4 left out"


def build_groove_cache(
    root: Path | None = None, cache: Path | None = None, progress: Callable[[int, int], None] | None = None,
) -> GrooveSummary:
    """Read every 4/4 performance listed in ``root/info.csv`` and write the windows of each split to the cache."""
    root = root or default_groove_root()
    cache = cache or default_groove_cache()
    info = root / "info.csv"
    if not info.is_file():
        raise ScoreError(str(root), "no Groove MIDI Dataset here (info.csv missing)")
    with info.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_split: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    sources: dict[str, list[int]] = {s: [] for s in SPLITS}
    files: dict[str, list[str]] = {s: [] for s in SPLITS}
    skipped = 0
    for done, row in enumerate(rows, 1):
        split = _CSV_SPLIT.get(row["split"])
        if split is None:
            raise ScoreError(str(info), f"unknown split {row['split']!r} for {row['midi_filename']}")
        if row["time_signature"] != "4-4":
            skipped += 1
            continue
        found = groove_windows(read_groove_events(root / row["midi_filename"]))
        per_split[split].append(found)
        sources[split].extend([len(files[split])] * len(found))
        files[split].append(row["midi_filename"])
        if progress is not None:
            progress(done, len(rows))
    arrays: dict[str, np.ndarray] = {"format": np.asarray(_FORMAT)}
    for split in SPLITS:
        arrays[split] = (np.concatenate(per_split[split]) if per_split[split]
                         else np.zeros((0, WINDOW_BARS * STEPS_PER_BAR), np.uint16))
        arrays[f"{split}_file"] = np.asarray(sources[split], dtype=np.int32)
        arrays[f"{split}_files"] = np.asarray(json.dumps(files[split]))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    path = cache / CACHE_FILE
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return GrooveSummary(path, {s: len(files[s]) for s in SPLITS}, {s: len(arrays[s]) for s in SPLITS}, skipped)


def load_groove_split(cache: Path | None, split: str) -> np.ndarray:
    """The cached windows (int64, (n, 32)) of one split: train, valid or test."""
    if split not in SPLITS:
        raise ScoreError("--split", f"{split!r} is not train, valid or test")
    path = (cache or default_groove_cache()) / CACHE_FILE
    if not path.is_file():
        raise ScoreError(str(path), "no Groove window cache; run `score music build-groove` first")
    with np.load(path) as data:
        if int(data["format"]) != _FORMAT:
            raise ScoreError(str(path), "Groove window cache of another format; rebuild it")
        return data[split].astype(np.int64)
