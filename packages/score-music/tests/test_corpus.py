"""The cached training windows: a few real corpus files (never all of Essen), split by tune, reused on rebuild."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from score_core.errors import ScoreError
from score_music import corpus
from score_music.corpus import (
    CacheSummary,
    augment_batch,
    build_cache,
    load_split,
    load_windows,
    source_files,
    split_of,
    tune_splits,
)
from score_music.melody import MIN_PITCH, NOTE_OFF, NUM_CLASSES

pytest.importorskip("music21")

SMALL_ESSEN = "testd.abc"  # 8 tunes; the first file by name holds 313 and takes ~13 s to parse


def small_sources(collection: str, pop909_root: Path | None = None) -> list[Path]:
    files = source_files(collection, pop909_root)
    if collection == "essenFolksong":
        return [path for path in files if path.name == SMALL_ESSEN]
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, CacheSummary]]:
    cache = tmp_path_factory.mktemp("windows")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(corpus, "source_files", small_sources)
        summary = build_cache(["bach", "essenFolksong"], cache, limit=3)
        yield cache, summary


def test_sources_of_each_collection() -> None:
    bach = source_files("bach")
    assert 400 <= len(bach) <= 420 and all(p.name.startswith("bwv") for p in bach)
    assert not any(p.stem == "bwv846" or p.suffix == ".krn" for p in bach)
    assert len(source_files("essenFolksong")) == 31
    assert len(source_files("ryansMammoth")) == 1059
    assert len(source_files("oneills1850")) == 39
    assert len(source_files("airdsAirs")) == 6
    with pytest.raises(ValueError, match="unknown collection"):
        source_files("beatles")


def test_shards_and_counts(built: tuple[Path, CacheSummary]) -> None:
    cache, summary = built
    assert sorted(p.name for p in cache.iterdir()) == ["windows-bach.npz", "windows-essenFolksong.npz"]
    bach, essen = summary.collections["bach"], summary.collections["essenFolksong"]
    assert (bach.files, essen.files) == (3, 1)
    assert bach.tunes_parsed == 3 and essen.tunes_parsed == 8
    assert not bach.failed_files and not essen.failed_files and not bach.reused
    assert sum(bach.tunes.values()) == 3
    assert sum(essen.tunes.values()) + essen.tunes_skipped_meter <= 8 and sum(essen.tunes.values()) >= 1
    assert summary.totals(2)["train"] > 20
    json.dumps(summary.as_dict(), default=str)  # plain data


def test_load_windows_shapes_and_values(built: tuple[Path, CacheSummary]) -> None:
    cache, summary = built
    for bars in (2, 16):
        counts = {split: load_windows(cache, split, bars=bars).shape for split in ("train", "valid", "test")}
        assert counts == {split: (summary.totals(bars)[split], bars * 16) for split in counts}
    train = load_windows(cache, "train")
    assert train.dtype == np.uint8 and train.max() < NUM_CLASSES
    assert np.all((train >= 2).any(axis=1))  # every window has notes
    assert len({row.tobytes() for row in train}) > len(train) // 2  # mostly distinct windows
    with pytest.raises(ScoreError, match="holds no window shards for ryansMammoth"):
        load_windows(cache, "train", collections=["ryansMammoth"])


def test_split_is_by_tune(built: tuple[Path, CacheSummary]) -> None:
    cache, _ = built
    owners = {split: set(load_split(cache, split)[1].tolist()) for split in ("train", "valid", "test")}
    assert not owners["train"] & owners["valid"] and not owners["train"] & owners["test"]
    assert not owners["valid"] & owners["test"]
    splits = tune_splits(cache)
    for split, ids in owners.items():
        assert all(splits[tune_id] == split for tune_id in ids)
    assert all(tune_id.startswith(("bach/bwv", "essenFolksong/testd#")) for tune_id in splits)


def test_split_is_stable_and_about_90_5_5() -> None:
    # Fixed answers: the hash is sha256, not Python's per-process hash().
    assert [split_of(f"essenFolksong/altdeu10#{n}") for n in range(1, 9)] == [_expected(n) for n in range(1, 9)]
    counts = collections.Counter(split_of(f"tune-{n}") for n in range(20_000))
    assert 0.88 < counts["train"] / 20_000 < 0.92
    assert 0.04 < counts["valid"] / 20_000 < 0.06 and 0.04 < counts["test"] / 20_000 < 0.06


def _expected(number: int) -> str:
    import hashlib

    bucket = int.from_bytes(hashlib.sha256(f"essenFolksong/altdeu10#{number}".encode()).digest()[:8], "big") % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def test_transposed_duplicates_share_a_split(tmp_path: Path) -> None:
    """Two tunes with the same melody a fifth apart land in one split, whatever their ids hash to."""
    ids = [f"x/{n}" for n in range(200)]
    held_out = next(i for i in ids if split_of(i) != "train")
    trained = next(i for i in ids if split_of(i) == "train" and i > held_out)
    window = np.zeros((1, 32), np.uint8)
    window[0, [0, 4]] = [2 + 60 - MIN_PITCH, 2 + 62 - MIN_PITCH]
    key = corpus._content_key(window[0])
    assert corpus._content_key(window[0] + np.where(window[0] >= 2, 7, 0).astype(np.uint8)) == key
    for name, tune_id in (("a", held_out), ("b", trained)):
        arrays = {"tune_ids": np.array([tune_id]), "tune_keys": np.array([key]), "meta": np.array("{}")}
        for bars in (2, 16):
            arrays[f"events_{bars}"] = np.zeros((1, bars * 16), np.uint8)
            arrays[f"tune_{bars}"] = np.zeros(1, np.int32)
        np.savez(tmp_path / f"windows-{name}.npz", **arrays)
    assert tune_splits(tmp_path) == {held_out: split_of(held_out), trained: split_of(held_out)}


def test_second_build_reuses_shards(built: tuple[Path, CacheSummary]) -> None:
    cache, first = built
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(corpus, "source_files", small_sources)
        again = build_cache(["bach", "essenFolksong"], cache, limit=3)
        assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps
        assert all(c.reused for c in again.collections.values())
        assert again.totals(2) == first.totals(2) and again.totals(16) == first.totals(16)
        rebuilt = build_cache(["bach"], cache, limit=1)  # other settings: that shard is rebuilt
        assert not rebuilt.collections["bach"].reused and rebuilt.collections["bach"].files == 1
        assert (cache / "windows-bach.npz").stat().st_mtime_ns != stamps["windows-bach.npz"]
        assert (cache / "windows-essenFolksong.npz").stat().st_mtime_ns == stamps["windows-essenFolksong.npz"]


def test_augment_batch_shifts_within_range() -> None:
    rng = np.random.default_rng(0)
    batch = np.zeros((400, 32), np.uint8)
    batch[:, 0] = 2 + 60 - MIN_PITCH
    batch[:, 4] = 2 + 64 - MIN_PITCH
    batch[:, 8] = NOTE_OFF
    batch[0, 12] = NUM_CLASSES - 1  # pitch 108: can only go down
    batch[1, 12] = 2  # pitch 21: can only go up
    batch[2, 0], batch[2, 12] = 2, NUM_CLASSES - 1  # spans the whole range: never shifted
    out = augment_batch(batch, rng)
    assert out.dtype == batch.dtype and out.shape == batch.shape
    assert batch[3, 0] == 2 + 60 - MIN_PITCH  # the input is not changed
    shifts = out[:, 4].astype(int) - batch[:, 4].astype(int)
    assert set(shifts[3:].tolist()) == set(range(-5, 6))
    np.testing.assert_array_equal(out[:, 0].astype(int) - batch[:, 0], np.where(np.arange(400) == 2, 0, shifts))
    assert shifts[0] <= 0 and shifts[1] >= 0 and shifts[2] == 0
    assert np.all(out[:, 8] == NOTE_OFF) and np.all(out[:, [1, 2, 3]] == 0)
    assert out.max() < NUM_CLASSES and out[out > 0].min() >= 1


def test_every_metre_is_kept_and_recorded(built: tuple[Path, CacheSummary]) -> None:
    from score_music.corpus import tune_bar_quarters

    cache, summary = built
    bars = tune_bar_quarters(cache)
    assert set(bars) == set(tune_splits(cache))
    essen = {tune: bar for tune, bar in bars.items() if tune.startswith("essenFolksong/")}
    assert summary.collections["essenFolksong"].tunes_skipped_meter == 0  # no tune is dropped for its metre
    assert any(bar not in (2.0, 4.0, 8.0) for bar in essen.values()), essen  # testd.abc has 3/4 and 6/8 songs
