"""Training windows from the music21 corpus, cached per collection, split by tune.

``build_cache`` parses each source file of a collection once and writes ``windows-{collection}.npz`` into the
cache directory (written atomically; a shard that exists and was built with the same settings is reused, so an
interrupted build resumes at the first missing collection). A shard holds 2-bar and 16-bar windows (uint8),
the index of each window's tune, the tune ids and a transposition-free content key per tune.

The split is by tune: a stable hash of the tune id puts 90% of tunes in ``train``, 5% in ``valid`` and 5% in
``test``. Tunes whose melodies are identical up to transposition (the same chorale tune harmonised twice, a
reel printed in two collections) share the split of the smallest tune id among them, so no melody is in two
splits; this is decided when shards are loaded, across the shards loaded together.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from score_core.errors import ScoreError
from score_core.files import atomic_path
from score_music.extract import music21_melody, windows
from score_music.keynorm import shift_where_it_fits
from score_music.melody import FIRST_NOTE_ON, NUM_CLASSES
from score_music.pop909 import default_pop909_root, pop909_melody, pop909_songs

__all__ = [
    "BARS",
    "COLLECTIONS",
    "CacheSummary",
    "CollectionSummary",
    "Split",
    "augment_batch",
    "build_cache",
    "default_cache_dir",
    "load_split",
    "load_windows",
    "source_files",
    "split_of",
    "tune_bar_quarters",
    "tune_splits",
]

Split = Literal["train", "valid", "test"]
SPLITS: tuple[Split, ...] = ("train", "valid", "test")
COLLECTIONS: dict[str, str] = {
    "essenFolksong": "Essen folksong collection (abc bundles, many tunes per file)",
    "ryansMammoth": "Ryan's Mammoth Collection (one tune per abc file)",
    "oneills1850": "O'Neill's Music of Ireland, 1850 (abc bundles)",
    "airdsAirs": "Aird's Selection of Scotch, English, Irish and Foreign Airs (abc bundles)",
    "bach": "Bach chorales (MusicXML, the soprano line; the Well-Tempered Clavier prelude bwv846 is left out)",
    "pop909": "POP909 (MIDI, the MELODY track; read from --pop909 / $SCORE_POP909, skipped when absent)",
}
VOICES = frozenset({"Soprano"})
"""The part a chorale's melody is taken from (a file without a part of this name gives its highest notes)."""
BARS = (2, 16)
"""Window lengths stored in every shard, in bars."""
MAX_SHIFT = 5
"""Transposition augmentation draws a shift in -MAX_SHIFT..MAX_SHIFT semitones."""
_FORMAT = 3
ProgressCallback = Callable[[str, int, int], None]
"""progress(collection, files done, files in collection)."""


def default_cache_dir() -> Path:
    """``$SCORE_MUSICVAE_WINDOWS`` if set, else ``$XDG_CACHE_HOME/score/musicvae-windows`` (~/.cache/...)."""
    if override := os.environ.get("SCORE_MUSICVAE_WINDOWS"):
        return Path(override).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "score" / "musicvae-windows"


# ---------------------------------------------------------------------------------------------------- splits


def split_of(tune_id: str) -> Split:
    """The split of a tune from a stable hash of its id: 90% train, 5% valid, 5% test."""
    bucket = int.from_bytes(hashlib.sha256(tune_id.encode("utf-8")).digest()[:8], "big") % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def _content_key(events: np.ndarray) -> str:
    """Hash of a tune's events with its lowest note moved to pitch 0, so transposed copies share a key."""
    array = np.asarray(events, dtype=np.int64)
    notes = array >= FIRST_NOTE_ON
    if notes.any():
        array = array.copy()
        array[notes] -= array[notes].min() - FIRST_NOTE_ON
    return hashlib.blake2b(array.astype(np.uint8).tobytes(), digest_size=10).hexdigest()


# ---------------------------------------------------------------------------------------------------- sources


def source_files(collection: str, pop909_root: Path | None = None) -> list[Path]:
    """The source files of a collection, sorted: music21's own corpus (no download), or POP909's song folders."""
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; known: {', '.join(COLLECTIONS)}")
    if collection == "pop909":
        return pop909_songs(pop909_root or default_pop909_root())
    from music21 import corpus

    files = []
    for path in corpus.getPaths():
        path = Path(path)
        if path.parent.name != collection:
            continue
        if collection == "bach":
            if not path.name.startswith("bwv") or path.suffix not in (".mxl", ".xml") or path.stem == "bwv846":
                continue
        elif path.suffix != ".abc":
            continue
        files.append(path)
    return sorted(files)


def _tunes(collection: str, path: Path) -> Iterator[tuple[str, object]]:
    """(tune id, music21 Score) for every tune of a file; ids are ``collection/stem`` plus ``#X`` in bundles."""
    from music21 import converter, stream

    if collection == "pop909":
        yield f"pop909/{path.name}", path
        return

    parsed = converter.parse(path)
    base = f"{collection}/{path.stem}"
    if not isinstance(parsed, stream.Opus):
        yield base, parsed
        return
    used: set[str] = set()
    for index, score in enumerate(parsed.scores):
        number = score.metadata.number if score.metadata is not None else None
        tune_id = f"{base}#{number}" if number is not None else f"{base}#i{index}"
        if tune_id in used:
            tune_id = f"{base}#i{index}"
        used.add(tune_id)
        yield tune_id, score


# ---------------------------------------------------------------------------------------------------- building


@dataclass
class CollectionSummary:
    """What one collection's shard holds."""

    collection: str
    files: int = 0
    failed_files: list[str] = field(default_factory=list)
    tunes_parsed: int = 0
    tunes_skipped_meter: int = 0
    tunes: dict[str, int] = field(default_factory=dict)
    """Tunes that gave at least one 2-bar window, per split."""
    windows: dict[int, dict[str, int]] = field(default_factory=dict)
    """Windows per bars (2, 16) per split."""
    seconds: float = 0.0
    """Time spent building the shard (when reused: the time it took when it was built)."""
    reused: bool = False


@dataclass
class CacheSummary:
    """Counts of a built cache, per collection and in total."""

    cache_dir: Path
    collections: dict[str, CollectionSummary]
    seconds: float
    """Wall time of this build_cache call."""
    heldout_in_train: dict[int, dict[str, float]] = field(default_factory=dict)
    """Per bars: the fraction of valid / test windows that also occur verbatim in train (common patterns)."""

    def totals(self, bars: int = 2) -> dict[str, int]:
        """Windows per split over all collections."""
        return {s: sum(c.windows.get(bars, {}).get(s, 0) for c in self.collections.values()) for s in SPLITS}

    def as_dict(self) -> dict[str, object]:
        """Plain data, for JSON."""
        return {
            "cache_dir": str(self.cache_dir),
            "seconds": round(self.seconds, 1),
            "windows_2bar": self.totals(2),
            "windows_16bar": self.totals(16),
            "heldout_in_train": self.heldout_in_train,
            "collections": {name: vars(c) for name, c in self.collections.items()},
        }


def _shard_path(cache_dir: Path, collection: str) -> Path:
    return cache_dir / f"windows-{collection}.npz"


def _settings(limit: int | None, duple_only: bool) -> dict[str, object]:
    return {"format": _FORMAT, "limit": limit, "duple_only": duple_only, "bars": list(BARS)}


def _tune_bar(collection: str, tune: object) -> float:
    """Quarter notes in the tune's first bar (0 when it states no metre)."""
    if collection == "pop909":
        return 4.0
    from score_music.extract import bar_quarters

    bars = bar_quarters(tune)  # type: ignore[arg-type]
    return bars[0] if bars else 0.0


def _tune_events(collection: str, tune: object, duple_only: bool) -> np.ndarray | None:
    if collection == "pop909":
        return pop909_melody(tune)  # type: ignore[arg-type]
    return music21_melody(
        tune,  # type: ignore[arg-type]
        duple_only=duple_only,
        part_names=VOICES if collection == "bach" else None,
    )


def _read_meta(path: Path) -> dict[str, object] | None:
    try:
        with np.load(path, allow_pickle=False) as shard:
            return dict(json.loads(str(shard["meta"])))
    except (OSError, ValueError, KeyError):
        return None


def _build_shard(
    collection: str,
    path: Path,
    settings: dict[str, object],
    progress: ProgressCallback | None,
    pop909_root: Path | None = None,
) -> dict[str, object]:
    """Parse a collection's files and write its shard atomically; returns the shard's meta."""
    started = time.perf_counter()
    files = source_files(collection, pop909_root)
    limit = settings["limit"]
    if isinstance(limit, int):
        files = files[:limit]
    tune_ids: list[str] = []
    tune_keys: list[str] = []
    tune_bars: list[float] = []
    chunks: dict[int, list[np.ndarray]] = {bars: [] for bars in BARS}
    owners: dict[int, list[np.ndarray]] = {bars: [] for bars in BARS}
    failed: list[str] = []
    parsed = skipped = 0
    for done, file in enumerate(files, start=1):
        try:
            for tune_id, score in _tunes(collection, file):
                parsed += 1
                events = _tune_events(collection, score, bool(settings["duple_only"]))
                if events is None:
                    skipped += 1
                    continue
                cut = {bars: windows(events, bars=bars) for bars in BARS}
                if not len(cut[BARS[0]]):
                    continue
                index = len(tune_ids)
                tune_ids.append(tune_id)
                tune_keys.append(_content_key(events))
                tune_bars.append(_tune_bar(collection, score))
                for bars, found in cut.items():
                    chunks[bars].append(found)
                    owners[bars].append(np.full(len(found), index, dtype=np.int32))
        except Exception as error:  # one unreadable file must not stop the corpus
            failed.append(f"{file.name}: {type(error).__name__}: {error}"[:300])
        if progress is not None:
            progress(collection, done, len(files))
    meta = {
        **settings,
        "collection": collection,
        "files": len(files),
        "failed_files": failed,
        "tunes_parsed": parsed,
        "tunes_skipped_meter": skipped,
        "seconds": time.perf_counter() - started,
    }
    arrays: dict[str, np.ndarray] = {
        "tune_ids": np.array(tune_ids, dtype=str),
        "tune_keys": np.array(tune_keys, dtype=str),
        "tune_bar_quarters": np.array(tune_bars, dtype=np.float32),
        "meta": np.array(json.dumps(meta)),
    }
    for bars in BARS:
        size = bars * 16
        arrays[f"events_{bars}"] = np.concatenate(chunks[bars]) if chunks[bars] else np.zeros((0, size), np.uint8)
        arrays[f"tune_{bars}"] = np.concatenate(owners[bars]) if owners[bars] else np.zeros(0, np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, partial.open("wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    return meta


def build_cache(
    collections: Sequence[str] = tuple(COLLECTIONS),
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    limit: int | None = None,
    *,
    duple_only: bool = False,
    pop909_root: Path | None = None,
) -> CacheSummary:
    """Build (or reuse) one shard per collection in ``cache_dir`` and summarise the cache.

    ``limit`` takes only the first files of each collection (for tests); ``duple_only`` keeps only tunes
    whose bars fit the 16-step grid (2/4, 4/4, 2/2, 4/2); by default every metre is kept and its windows are
    cut every 16 steps like the others, so they start at every position of the tune's own bar. POP909 is read
    from ``pop909_root`` (default: ``$SCORE_POP909`` or the shared data folder); when that folder is absent its
    shard holds no tunes. A shard built with other settings is rebuilt.
    """
    started = time.perf_counter()
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    settings = _settings(limit, duple_only)
    metas: dict[str, tuple[dict[str, object], bool]] = {}
    for collection in collections:
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown collection {collection!r}; known: {', '.join(COLLECTIONS)}")
        path = _shard_path(cache_dir, collection)
        meta = _read_meta(path) if path.exists() else None
        if meta is not None and all(meta.get(key) == value for key, value in settings.items()):
            metas[collection] = (meta, True)
        else:
            metas[collection] = (_build_shard(collection, path, settings, progress, pop909_root), False)
    return _summarise(cache_dir, metas, time.perf_counter() - started)


def _summarise(cache_dir: Path, metas: dict[str, tuple[dict[str, object], bool]], seconds: float) -> CacheSummary:
    shards = {name: _load_shard(cache_dir, name) for name in metas}
    splits = _splits(shards.values())
    summaries: dict[str, CollectionSummary] = {}
    for name, (meta, reused) in metas.items():
        shard = shards[name]
        tune_split = np.array([splits[t] for t in shard["tune_ids"]], dtype=str)
        summary = CollectionSummary(
            collection=name,
            files=int(meta["files"]),  # type: ignore[call-overload]
            failed_files=list(meta["failed_files"]),  # type: ignore[call-overload]
            tunes_parsed=int(meta["tunes_parsed"]),  # type: ignore[call-overload]
            tunes_skipped_meter=int(meta["tunes_skipped_meter"]),  # type: ignore[call-overload]
            tunes={s: int((tune_split == s).sum()) for s in SPLITS},
            seconds=float(meta["seconds"]),  # type: ignore[arg-type]
            reused=reused,
        )
        for bars in BARS:
            owner_split = tune_split[shard[f"tune_{bars}"]] if len(tune_split) else np.zeros(0, dtype=str)
            summary.windows[bars] = {s: int((owner_split == s).sum()) for s in SPLITS}
        summaries[name] = summary
    overlap: dict[int, dict[str, float]] = {}
    for bars in BARS:
        train = {row.tobytes() for row in _gather(shards, splits, "train", bars)[0]}
        overlap[bars] = {}
        for split in ("valid", "test"):
            rows = _gather(shards, splits, split, bars)[0]
            hits = sum(row.tobytes() in train for row in rows)
            overlap[bars][split] = round(hits / len(rows), 4) if len(rows) else 0.0
    return CacheSummary(cache_dir=cache_dir, collections=summaries, seconds=seconds, heldout_in_train=overlap)


# ---------------------------------------------------------------------------------------------------- loading


def _load_shard(cache_dir: Path, collection: str) -> dict[str, np.ndarray]:
    """A shard's arrays, checked whole: a damaged or foreign file is a one-line ScoreError naming it."""
    path = _shard_path(cache_dir, collection)
    try:
        with np.load(path, allow_pickle=False) as shard:
            arrays = {key: shard[key] for key in shard.files}
    except Exception as error:  # zipfile, zlib and numpy report damage each in their own way
        raise ScoreError(str(path), f"not a window shard, or damaged ({type(error).__name__}: {error})") from None
    problem = _shard_problem(arrays)
    if problem:
        raise ScoreError(str(path), f"not a window shard of `score music build-corpus`: {problem}")
    return arrays


def _shard_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What makes ``arrays`` unusable as a window shard, or None."""
    needed = ["tune_ids", *(f"{kind}_{bars}" for bars in BARS for kind in ("events", "tune"))]
    missing = [key for key in needed if key not in arrays]
    if missing:
        return f"it lacks {', '.join(missing)}"
    tunes = len(arrays["tune_ids"])
    for bars in BARS:
        events, owners = arrays[f"events_{bars}"], arrays[f"tune_{bars}"]
        if events.dtype != np.uint8 or events.ndim != 2 or events.shape[1] != bars * 16:
            return f"events_{bars} is {events.dtype} {events.shape}, not uint8 (N, {bars * 16})"
        if events.size and int(events.max()) >= NUM_CLASSES:
            return f"events_{bars} holds event {int(events.max())}, beyond the {NUM_CLASSES} classes"
        if owners.dtype.kind not in "iu" or owners.shape != (events.shape[0],):
            return f"tune_{bars} is {owners.dtype} {owners.shape}, not one tune index per window"
        if owners.size and (int(owners.min()) < 0 or int(owners.max()) >= tunes):
            return f"tune_{bars} points past the {tunes} tunes"
    return None


def _shards(cache_dir: Path, collections: Sequence[str] | None) -> dict[str, dict[str, np.ndarray]]:
    cache_dir = Path(cache_dir)
    if collections is None:
        collections = sorted(p.name[len("windows-") : -len(".npz")] for p in cache_dir.glob("windows-*.npz"))
    missing = [c for c in collections if not _shard_path(cache_dir, c).exists()]
    if not cache_dir.is_dir():
        raise ScoreError(str(cache_dir), "no such cache directory; build one with `score music build-corpus`")
    if missing or not collections:
        raise ScoreError(str(cache_dir), f"holds no window shards for {', '.join(missing) or 'any collection'}; "
                                         "build them with `score music build-corpus`")
    return {c: _load_shard(cache_dir, c) for c in collections}


def _splits(shards: Iterable[dict[str, np.ndarray]]) -> dict[str, Split]:
    """Split of every tune id; tunes with one content key take the split of the smallest id among them."""
    first: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for shard in shards:
        for tune_id, key in zip(shard["tune_ids"].tolist(), shard["tune_keys"].tolist(), strict=True):
            pairs.append((tune_id, key))
            if key not in first or tune_id < first[key]:
                first[key] = tune_id
    return {tune_id: split_of(first[key]) for tune_id, key in pairs}


def _gather(
    shards: dict[str, dict[str, np.ndarray]], splits: dict[str, Split], split: str, bars: int
) -> tuple[np.ndarray, np.ndarray]:
    events, ids = [], []
    for shard in shards.values():
        tune_ids = shard["tune_ids"]
        if not len(tune_ids):
            continue
        tune_split = np.array([splits[t] for t in tune_ids.tolist()], dtype=str)
        keep = tune_split[shard[f"tune_{bars}"]] == split
        events.append(shard[f"events_{bars}"][keep])
        ids.append(tune_ids[shard[f"tune_{bars}"][keep]])
    if not events:
        return np.zeros((0, bars * 16), np.uint8), np.zeros(0, dtype=str)
    return np.concatenate(events), np.concatenate(ids)


def load_split(
    cache_dir: Path, split: Split, *, bars: int = 2, collections: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Windows (uint8, (N, bars * 16)) of one split and the tune id of each window.

    ``collections`` defaults to every shard in ``cache_dir``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if bars not in BARS:
        raise ValueError(f"the cache holds {BARS}-bar windows, not {bars}")
    shards = _shards(cache_dir, collections)
    return _gather(shards, _splits(shards.values()), split, bars)


def load_windows(
    cache_dir: Path, split: Split, *, bars: int = 2, collections: Sequence[str] | None = None
) -> np.ndarray:
    """Windows (uint8, (N, bars * 16)) of one split; cast to int64 before using them as torch indices."""
    return load_split(cache_dir, split, bars=bars, collections=collections)[0]


def tune_splits(cache_dir: Path, collections: Sequence[str] | None = None) -> dict[str, Split]:
    """The split of every tune in the cache."""
    return _splits(_shards(cache_dir, collections).values())


def tune_bar_quarters(cache_dir: Path, collections: Sequence[str] | None = None) -> dict[str, float]:
    """Quarter notes in the first bar of every tune whose shard records it (0: the tune states no metre)."""
    bars: dict[str, float] = {}
    for shard in _shards(cache_dir, collections).values():
        if "tune_bar_quarters" in shard:
            bars.update(zip(shard["tune_ids"].tolist(), shard["tune_bar_quarters"].astype(float).tolist(),
                            strict=True))
    return bars


# ---------------------------------------------------------------------------------------------------- augmenting


def augment_batch(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift each window (row) by a random -5..+5 semitones; a window the shift would push out of range stays.

    Returns a new array of the batch's dtype and shape.
    """
    array = np.asarray(batch)
    return shift_where_it_fits(array, np.asarray(rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=array.shape[0])))
