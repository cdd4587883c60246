"""Musicality of the music score writes for real clips, side by side with held-out human music.

One run, every system on the same encoded clips: today's melody model (`musicvae`, no key), the melody moved
into one key per piece (`--key auto`), the same with the scale fit (`--scale-fit`), and the band (melody, bass
and drums when `musicvae-drums` is installed), raw and fitted. Human references: held-out (test-split) tunes of
the music21 collections the melody model learnt from, POP909 melody tracks, and Groove MIDI test-split beats
(drums only). Figures, per piece then
averaged: in-scale fraction of the whole piece's pitched notes (best diatonic scale), the melody's, pitch-class
entropy per 2-bar window (bits), mean |interval| of the melody (semitones), melody notes per second, the share
of segments whose estimated key is the piece's, drums' share of onsets on the 8th-note grid, snare hits on beats
2 or 4 and kick hits on 1 or 3 (each a share of all such hits, as `score evaluate` reports), and the consonance
of bass against melody (share of sixteenths where both sound at a consonant interval; for POP909 the bass is
the piano's lowest note below middle C at each onset). The shared clips are 1-10 s long, so a synthetic clip
(`--long` seconds, a cut every 7 s) shows whole pieces of many segments. Usage:

    python bench/musicality.py [--clips N] [--tunes N] [--pop N] [--grooves N] [--seed S] [--long SECONDS]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")
SYSTEMS = (
    ("today (musicvae)", "musicvae", None, False),
    ("keyed", "musicvae", "auto", False),
    ("keyed + scale fit", "musicvae", "auto", True),
    ("band", "band", "auto", False),
    ("band + scale fit", "band", "auto", True),
)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def figures(notes: list, tempo: float, duration: float, starts: list[float] | None = None) -> dict[str, float]:
    from score_core.keys import estimate_key, in_scale_fraction
    from score_core.parts import consonance

    pitched = [n for n in notes if not n.is_drum]
    melody = sorted([n for n in pitched if n.part in ("", "melody")], key=lambda n: (n.start, -n.pitch))
    bass = [n for n in pitched if n.part == "bass"]
    drums = [n for n in notes if n.is_drum]
    window = 8 * 60.0 / tempo
    pche = []
    for index in range(max(1, math.ceil(duration / window))):
        inside = [n.pitch % 12 for n in melody if index * window <= n.start < (index + 1) * window]
        if inside:
            pche.append(_entropy(np.bincount(inside, minlength=12).astype(float)))
    steps = [abs(b.pitch - a.pitch) for a, b in itertools.pairwise(melody)]
    row = {
        "in-scale piece": in_scale_fraction(pitched),
        "in-scale mel": in_scale_fraction(melody),
        "PCHE": float(np.mean(pche)) if pche else float("nan"),
        "mean |int|": float(np.mean(steps)) if steps else float("nan"),
        "notes/s": len(melody) / duration,
    }
    if starts:
        piece = estimate_key(pitched)
        bounds = [*starts, float("inf")]
        keys = [estimate_key([n for n in pitched if lo <= n.start < hi]) for lo, hi in itertools.pairwise(bounds)]
        keys = [k for k in keys if k is not None]
        row["segs in key"] = sum(k == piece for k in keys) / len(keys) if keys else float("nan")
    step = 60.0 / tempo / 4
    if drums:
        onsets = [round(n.start / step) for n in drums]
        row["drums on 8ths"] = sum(o % 2 == 0 for o in onsets) / len(onsets)
    if bass:
        row["bass consonance"] = consonance(bass, melody, step) or float("nan")
    return row


def placement_figures(notes: object, tempo: object, duration: float) -> dict[str, float]:
    """Snare hits on beats 2 or 4 and kick hits on 1 or 3, each a share of all such hits (score evaluate's)."""
    from score_core.analysis.form import drum_placement

    placement = drum_placement(notes, tempo, duration)  # type: ignore[arg-type]
    if not placement.hits:
        return {}
    return {"snare on 2|4": placement.snare_on_2_or_4, "kick on 1|3": placement.kick_on_1_or_3}


def clip_rows(clips: list[Path], seed: int) -> dict[str, list[dict[str, float]]]:
    from score_core.analysis.tempo import TempoMap
    from score_core.media import probe
    from score_core.pipeline import Pipeline, RunOptions, StageChoice
    from score_core.registry import load_registry

    registry = load_registry()
    names = {r.name for r in registry.decoders.all()}
    pipelines = {music: Pipeline(registry, StageChoice(vision="efficientnet-lite0", music=music))
                 for music in ("musicvae", "band") if music in names}
    rows: dict[str, list[dict[str, float]]] = {label: [] for label, *_ in SYSTEMS}
    for clip in clips:
        info = probe(clip)
        first = pipelines["musicvae"]
        features, _ = first.encode(clip, first.default_fps())
        for label, music, key, fit in SYSTEMS:
            pipeline = pipelines.get(music)
            if pipeline is None:
                continue
            pipeline.colour_sum, pipeline.colour_frames = first.colour_sum, first.colour_frames
            options = RunOptions(key=key, scale_fit=fit, seed=seed)
            latents, score = pipeline.compose(features, info.duration, options)
            row = figures(list(score.notes), score.tempo_bpm, score.duration, list(latents.starts))
            rows[label].append({**row, **placement_figures(score.notes, TempoMap.of_score(score), score.duration)})
    return rows


def human_rows(tunes: int, pop: int) -> dict[str, list[dict[str, float]]]:
    from score_core.midi import read_midi
    from score_music.corpus import _tunes, source_files, split_of
    from score_music.extract import music21_melody
    from score_music.melody import events_to_notes

    rows: dict[str, list[dict[str, float]]] = {"human folk (test split)": [], "human POP909 melody": []}
    for collection in ("ryansMammoth", "oneills1850", "essenFolksong") if tunes else ():
        taken = 0
        for path in source_files(collection)[:40]:
            for tune_id, score in _tunes(collection, path):
                if split_of(tune_id) != "test" or taken >= tunes:
                    continue
                events = music21_melody(score)
                if events is None or events.size < 32:
                    continue
                notes = events_to_notes(events, qpm=120.0)
                rows["human folk (test split)"].append(figures(notes, 120.0, events.size * 0.125))
                taken += 1
            if taken >= tunes:
                break
    songs = sorted(p for p in (SHARED / "music" / "pop909").glob("[0-9][0-9][0-9]") if split_of(f"pop909/{p.name}")
                   == "test")[:pop]
    for song in songs:
        import mido

        midi = mido.MidiFile(song / f"{song.name}.mid")
        score = read_midi(song / f"{song.name}.mid")
        tempo = score.tempo_bpm
        names = [track.name for track in midi.tracks]
        if "MELODY" not in names:
            continue
        melody = [n.model_copy(update={"part": "melody"}) for n in _track_notes(midi, names.index("MELODY"))]
        bass = _lowest_voice(_track_notes(midi, names.index("PIANO"))) if "PIANO" in names else []
        rows["human POP909 melody"].append(figures(melody + bass, tempo, score.duration))
    return rows


def groove_rows(count: int) -> dict[str, list[dict[str, float]]]:
    """Drums' share of onsets on the 8th grid, and snare / kick placement in the bar, in held-out (test split) 4/4
    Groove MIDI beats."""
    import csv

    from score_core.analysis.tempo import TempoMap
    from score_core.midi import read_midi

    root = SHARED / "music" / "groove"
    rows: dict[str, list[dict[str, float]]] = {"human Groove drums (test)": []}
    if not count or not (root / "info.csv").is_file():
        return rows
    with (root / "info.csv").open() as handle:
        chosen = [r for r in csv.DictReader(handle) if r["split"] == "test" and r["beat_type"] == "beat"
                  and r["time_signature"] == "4-4"][:count]
    for item in chosen:
        path = root / item["midi_filename"]
        score = read_midi(path)
        step = 60.0 / score.tempo_bpm / 4
        onsets = [round(n.start / step) for n in score.notes if n.is_drum]
        if onsets:
            rows["human Groove drums (test)"].append({
                "drums on 8ths": sum(o % 2 == 0 for o in onsets) / len(onsets),
                **placement_figures(score.notes, TempoMap.from_midi(path), score.duration),
            })
    return rows


def _lowest_voice(notes: list) -> list:
    """The piano's bass: at each onset below middle C, the lowest note (POP909 has no bass track)."""
    by_onset: dict[float, object] = {}
    for note in notes:
        if note.pitch < 60 and (note.start not in by_onset or note.pitch < by_onset[note.start].pitch):
            by_onset[note.start] = note
    return [n.model_copy(update={"part": "bass"}) for n in by_onset.values()]


def _track_notes(midi: object, index: int) -> list:
    """Notes of one track of a mido file, as score Notes (tempo from the whole file)."""
    import io

    import mido

    from score_core.midi import read_midi_notes

    only = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)  # type: ignore[attr-defined]
    conductor = mido.MidiTrack(m for m in midi.tracks[0] if m.is_meta)  # type: ignore[attr-defined]
    only.tracks.extend([conductor, midi.tracks[index]])  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    only.save(file=buffer)
    return read_midi_notes(buffer.getvalue())


def _print(rows: dict[str, list[dict[str, float]]]) -> None:
    columns = sorted({column for values in rows.values() for row in values for column in row},
                     key=["in-scale piece", "in-scale mel", "segs in key", "PCHE", "mean |int|",
                          "notes/s", "drums on 8ths", "snare on 2|4", "kick on 1|3",
                          "bass consonance"].index)
    print(f"{'system':28s} {'n':>3s} " + " ".join(f"{c:>14s}" for c in columns))
    for label, values in rows.items():
        cells = []
        for column in columns:
            found = [row[column] for row in values if column in row and not math.isnan(row[column])]
            cells.append(f"{np.mean(found):14.3f}" if found else f"{'-':>14s}")
        print(f"{label:28s} {len(values):3d} " + " ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4, help="shared clips to score (sorted by name)")
    parser.add_argument("--tunes", type=int, default=10, help="held-out tunes per music21 collection")
    parser.add_argument("--pop", type=int, default=10, help="held-out POP909 songs")
    parser.add_argument("--grooves", type=int, default=20, help="held-out Groove MIDI 4/4 beats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long", type=int, default=60, help="also a synthetic clip this long with a cut every 7 s")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    clips = sorted((SHARED / "video").glob("*.mp4"))[: args.clips]
    if not clips:
        print(f"no clips under {SHARED / 'video'}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    rows = clip_rows(clips, args.seed)
    if args.long:
        import tempfile

        from score_core.media.synthetic import write_test_video

        with tempfile.TemporaryDirectory() as folder:
            cuts = tuple(float(t) for t in np.arange(7.0, args.long, 7.0))
            long_clip = write_test_video(Path(folder) / "long.mp4", duration=float(args.long), cuts=cuts)
            for label, values in clip_rows([long_clip], args.seed).items():
                rows[f"{label} [{args.long} s]"] = values
    rows.update(human_rows(args.tunes, args.pop))
    rows.update(groove_rows(args.grooves))
    print(f"clips: {', '.join(c.name for c in clips)}; seed {args.seed}; {time.perf_counter() - started:.0f} s")
    _print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
