"""POP909's melody track as training windows: bar lines on the annotated downbeats, one shard, split by song."""

from __future__ import annotations

import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from score_music.corpus import build_cache, load_split, source_files
from score_music.extract import windows
from score_music.melody import FIRST_NOTE_ON, STEPS_PER_BAR
from score_music.pop909 import pop909_melody


def _melody_onsets_in_quarters(song: Path) -> list[float]:
    midi = mido.MidiFile(str(song / f"{song.name}.mid"))
    track = next(t for t in midi.tracks if t.name == "MELODY")
    tick, onsets = 0, []
    for message in track:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            onsets.append(tick / midi.ticks_per_beat)
    return onsets


def _downbeats_in_seconds(song: Path) -> list[float]:
    rows = [line.split() for line in (song / "beat_midi.txt").read_text().splitlines()]
    return [float(row[0]) for row in rows if float(row[2]) == 1.0]


@pytest.mark.parametrize("name", ["001", "017", "250"])
def test_the_melody_starts_on_an_annotated_bar_line(pop909_root: Path, name: str) -> None:
    song = pop909_root / name
    events = pop909_melody(song)
    assert events is not None and events.size % STEPS_PER_BAR == 0
    onsets = np.flatnonzero(events >= FIRST_NOTE_ON)
    assert len(onsets) >= 0.9 * len(_melody_onsets_in_quarters(song))  # a line: near every note is an onset
    midi = mido.MidiFile(str(song / f"{song.name}.mid"))
    tempo = next(m.tempo for t in midi.tracks for m in t if m.type == "set_tempo")
    first_note = _melody_onsets_in_quarters(song)[0] * tempo / 1e6  # seconds (one tempo in these files)
    downbeats = _downbeats_in_seconds(song)
    bar_seconds = downbeats[1] - downbeats[0]
    # The first onset lies as far past a bar line as the first note lies past an annotated downbeat.
    past_bar = onsets[0] % STEPS_PER_BAR / STEPS_PER_BAR * bar_seconds
    past_downbeat = (first_note - downbeats[0]) % bar_seconds
    assert abs(past_bar - past_downbeat) < 0.6 * bar_seconds / STEPS_PER_BAR or abs(
        abs(past_bar - past_downbeat) - bar_seconds) < 0.6 * bar_seconds / STEPS_PER_BAR
    assert len(windows(events)) >= 5


def test_a_song_without_a_melody_track_gives_none(pop909_root: Path, tmp_path: Path) -> None:
    song = tmp_path / "001"
    shutil.copytree(pop909_root / "001", song)
    midi = mido.MidiFile(str(song / "001.mid"))
    midi.tracks = [t for t in midi.tracks if t.name != "MELODY"]
    midi.save(str(song / "001.mid"))
    assert pop909_melody(song) is None


def test_pop909_becomes_a_shard_split_by_song(pop909_root: Path, tmp_path: Path) -> None:
    assert [p.name for p in source_files("pop909", pop909_root)[:3]] == ["001", "002", "003"]
    assert source_files("pop909", tmp_path / "absent") == []
    summary = build_cache(["pop909"], tmp_path / "cache", limit=6, pop909_root=pop909_root)
    shard = summary.collections["pop909"]
    assert shard.files == 6 and shard.tunes_parsed == 6 and not shard.failed_files
    ids = {str(i) for split in ("train", "valid", "test") for i in load_split(tmp_path / "cache", split)[1]}
    assert ids <= {f"pop909/{n:03d}" for n in range(1, 7)} and len(ids) == sum(shard.tunes.values())
    assert summary.totals(2)["train"] >= 50
