"""Does the music answer the picture? `score run --evaluate` over the shared clips, variants side by side.

Each variant is `LABEL=EXTRA ARGS` for `score run`, for example `grid=--sync grid`, `cuts=--sync cuts` or
`stream=--music musicvae-stream`; with none given, the script runs main's default (`default=`) plus `--sync
grid` and every other decoder installed of `musicvae`, `musicvae-stream` and `band`. Besides the shared clips (skipped
when absent) it scores a montage of them (real footage, a cut at every join) of at least `--montage-seconds`
in which every clip appears at least twice, in a different order each round, and with `--excerpts N` N short
excerpts of four clips each (hard cuts and a one-second dissolve, ~8 s).

All figures are the independent ones: the cuts come from the evaluation's own grey-histogram detector, not from
the run (the run's own figure is the `own z` column, for comparison only). `z` is the per-cut response z against
every other 1/8 s (a piece that ignores the cuts scores about 0); `phrF1` the phrase starts hitting cuts at
±0.07 s; then the response lag, melody figures (in-scale, mean |interval|, repeated-note share, notes/s) and the
recurrence share of 4-bar windows. On the montage, `same`/`other` compare the music under two appearances of the
same source clip with the music under spans of different clips (pitch-class cosine). Every figure is the mean
over `--seeds` with its spread (±: standard deviation). Usage:

    python bench/response.py [LABEL=ARGS ...] [--clips DIR] [--no-montage] [--excerpts N] [--seeds 0-4]
        [--keep DIR] [--only NAME ...]

`SCORE_SHARED_DATA` points at the shared data folder when it is not ../shared/data beside the clone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from score_cli.app import MUSIC_PREFERENCE

SHARED_CLIPS = Path(
    os.environ.get("SCORE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
) / "video"
SCORE = str(Path(sys.executable).with_name("score"))
MONTAGE_SIZE = (180, 320)  # height, width
MONTAGE_FPS = 25
MUSICALITY = ("in_scale", "pitch_class_entropy", "mean_abs_interval", "notes_per_second")


def default_variants() -> list[tuple[str, list[str]]]:
    variants: list[tuple[str, list[str]]] = [("default", []), ("grid", ["--sync", "grid"])]
    decoders = {row["name"] for row in json.loads(
        subprocess.run([SCORE, "decoders", "--json"], capture_output=True, text=True).stdout)}
    default = next((name for name in MUSIC_PREFERENCE if name in decoders), None)
    variants += [(name.removeprefix("musicvae-"), ["--music", name]) for name in ("musicvae", "musicvae-stream", "band")
                 if name in decoders and name != default]
    return variants


def parse_variant(text: str) -> tuple[str, list[str]]:
    label, _, args = text.partition("=")
    if not label:
        raise SystemExit(f"variant {text!r} must look like LABEL=ARGS")
    return label, shlex.split(args)


def write_montage(clips: list[Path], target: Path, seconds_each: float = 5.0,
                  at_least: float = 120.0, order_seed: int = 0) -> tuple[Path, list[tuple[float, float, str]]]:
    """Up to ``seconds_each`` of every clip (resized to 320x180) one after another, round after round (each
    round in another order, never the same clip twice in a row) until the montage is ``at_least`` seconds and
    every clip has appeared twice: one H.264 file and its spans (start, end, source clip name). The first
    round plays the clips in name order for ``order_seed`` 0, shuffled by it otherwise."""
    import random

    import av
    import numpy as np

    from score_core.media import FrameReader

    spans: list[tuple[float, float, str]] = []
    order = list(clips)
    shuffler = random.Random(order_seed)
    if order_seed:
        shuffler.shuffle(order)
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream("libx264", rate=MONTAGE_FPS)
        stream.height, stream.width = MONTAGE_SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast"}
        stream.time_base = Fraction(1, MONTAGE_FPS)
        index, rounds = 0, 0
        while rounds < 2 or index / MONTAGE_FPS < at_least:
            for clip in order:
                start = index
                reader = FrameReader(clip, fps=MONTAGE_FPS, size=MONTAGE_SIZE, max_duration=seconds_each)
                for batch in reader:
                    for rgb in batch.frames:
                        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                        frame.pts = index
                        container.mux(stream.encode(frame))
                        index += 1
                spans.append((start / MONTAGE_FPS, index / MONTAGE_FPS, clip.name))
            rounds += 1
            last = order[-1]
            while order[0] == last and len(order) > 1:
                shuffler.shuffle(order)
        container.mux(stream.encode(None))
    return target, spans


def write_excerpts(clips: list[Path], folder: Path, count: int) -> list[Path]:
    """``count`` short excerpts (640x360, 25 fps): each 2.0-3.2 s spans of four different clips drawn at random
    (seeded), joined by hard cuts except one join that dissolves over a second: footage cut the way an unseen
    film excerpt is, from clips the pipeline was not tuned on in that order."""
    import random

    import av
    import numpy as np

    from score_core.media import FrameReader

    size = (360, 640)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(count):
        shuffler = random.Random(100 + number)
        picks = shuffler.sample(clips, min(4, len(clips)))
        shots = []
        for clip in picks:
            seconds, offset = shuffler.uniform(2.0, 3.2), shuffler.uniform(0.0, 1.0)
            frames = []
            with FrameReader(clip, fps=MONTAGE_FPS, size=size, max_duration=offset + seconds) as reader:
                for batch in reader:
                    frames += [np.asarray(f, np.float32) for t, f in zip(batch.times, batch.frames, strict=True)
                               if t >= offset]
            shots.append(frames)
        dissolve = shuffler.randrange(1, len(shots))
        sequence = list(shots[0])
        for index, shot in enumerate(shots[1:], start=1):
            overlap = min(MONTAGE_FPS, len(sequence), len(shot)) if index == dissolve else 0
            for j in range(overlap):
                mix = j / overlap
                sequence[-overlap + j] = (1 - mix) * sequence[-overlap + j] + mix * shot[j]
            sequence += shot[overlap:]
        target = folder / f"excerpt{number}.mp4"
        with av.open(str(target), mode="w") as container:
            stream = container.add_stream("libx264", rate=MONTAGE_FPS)
            stream.height, stream.width = size
            stream.pix_fmt = "yuv420p"
            for index, rgb in enumerate(sequence):
                frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        made.append(target)
    return made


def source_similarity(midi: Path, spans: list[tuple[float, float, str]]) -> tuple[float, float]:
    """Mean pitch-class cosine of the music under two spans of the same source clip, and of different clips."""
    from score_core.analysis.form import shot_similarity
    from score_core.midi import read_midi

    names = sorted({name for _, _, name in spans})
    result = shot_similarity(read_midi(midi).notes, [(a, b) for a, b, _ in spans],
                             [names.index(name) for _, _, name in spans])
    return result.same_subject, result.other


def run_variant(video: Path, args: list[str], out: Path, seed: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    command = [SCORE, "run", str(video), "--evaluate", "--no-audio", "--overwrite", "--seed", str(seed),
               "-o", str(out), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    sidecar = json.loads((out / f"{video.stem}.json").read_text())
    return {"evaluation": sidecar["evaluation"], "music": sidecar["parameters"]["music"],
            "tempo": sidecar["music"]["tempo_bpm"], "prior": sidecar["evaluation"].get("prior_musicality")}


def prior_figures(decoder: str, tempo: float, seed: int) -> dict[str, Any]:
    from score_core.analysis.prior import prior_musicality
    from score_core.registry import default_registry

    built = default_registry().decoders.get(decoder).factory(None)
    return prior_musicality(built, tempo_bpm=tempo, seed=seed).as_dict()


def _fmt(value: Any, width: int = 7) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    if isinstance(value, float):
        return f"{value:{width}.2f}"
    return str(value).rjust(width)


def _hit_f1(evaluation: dict[str, Any], key: str, measure: str = "f1") -> float | None:
    hits = evaluation.get(key)
    return hits["0.07s"][measure] if hits and evaluation["cuts"] else None


COLUMNS: dict[str, Any] = {
    "z": lambda ev: ev["cut_response"]["effect_z"],
    "own z": lambda ev: (ev.get("comparison") or {}).get("run_own_cuts", {}).get("effect_z"),
    "phrF1": lambda ev: _hit_f1(ev, "phrase_hits"),
    "lag": lambda ev: ev["lag"]["response_median"],
    "inscale": lambda ev: ev["musicality"]["in_scale"],
    "|int|": lambda ev: ev["musicality"]["mean_abs_interval"],
    "repeat": lambda ev: ev["form"]["repeated_note_share"],
    "notes/s": lambda ev: ev["musicality"]["notes_per_second"],
    "recur": lambda ev: ev["form"]["recurrence_share"],
}


def _spread(values: list[float | None]) -> str:
    kept = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not kept:
        return "-".rjust(12)
    mean = sum(kept) / len(kept)
    std = (sum((v - mean) ** 2 for v in kept) / len(kept)) ** 0.5
    return f"{mean:6.2f}±{std:<5.2f}"


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="LABEL=ARGS for `score run` (default: see above)")
    parser.add_argument("--clips", type=Path, default=SHARED_CLIPS)
    parser.add_argument("--no-montage", action="store_true")
    parser.add_argument("--montage-seconds", type=float, default=120.0)
    parser.add_argument("--excerpts", type=int, default=0, metavar="N",
                        help="also score N short excerpts of the clips (hard cuts and a dissolve)")
    parser.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 or 3")
    parser.add_argument("--keep", type=Path, help="keep the outputs (MIDI, sidecars, montage) here")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="score only these videos (file names; `montage.mp4` is the montage); repeatable")
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variants] or default_variants()
    seeds = _seeds(args.seeds)
    clips = sorted(p for p in args.clips.glob("*.mp4")) if args.clips.is_dir() else []
    if not clips:
        print(f"no clips in {args.clips} (../shared/data is not part of a fresh clone); nothing to measure")
        return
    work = Path(tempfile.mkdtemp(prefix="score-response-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    videos = list(clips)
    spans: list[tuple[float, float, str]] = []
    if not args.no_montage:
        montage, spans = write_montage(clips, work / "montage.mp4", at_least=args.montage_seconds)
        videos.append(montage)
        print(f"montage.mp4: {spans[-1][1]:.1f} s, {len(spans)} spans of {len(clips)} clips")
    if args.excerpts:
        videos += write_excerpts(clips, work / "excerpts", args.excerpts)
    if args.only:
        videos = [v for v in videos if v.name in args.only]
    print(f"seeds {seeds[0]}-{seeds[-1]}; mean±std over seeds; cuts from the evaluation's own detector\n")
    print(f"{'clip':<24}{'variant':<9}{'cuts':>5}" + "".join(f"{name:>13}" for name in COLUMNS)
          + ("" if not spans else f"{'same':>13}{'other':>13}"))
    rows: list[dict[str, Any]] = []
    priors: dict[str, dict[str, Any]] = {}
    for video in videos:
        for label, extra in variants:
            out = work / label
            out.mkdir(exist_ok=True)
            runs = [run_variant(video, extra, out / f"seed{seed}", seed) for seed in seeds]
            failed = [r for r in runs if "error" in r]
            if failed:
                print(f"{video.name[:23]:<24}{label:<9}  {failed[0]['error']}")
                continue
            evaluations = [r["evaluation"] for r in runs]
            priors.setdefault(runs[0]["music"], runs[0]["prior"] or prior_figures(runs[0]["music"], runs[0]["tempo"],
                                                                                 seeds[0]))
            line = f"{video.name[:23]:<24}{label:<9}{evaluations[0]['cuts']:>5}" + "".join(
                f"{_spread([column(ev) for ev in evaluations]):>13}" for column in COLUMNS.values())
            row: dict[str, Any] = {"video": video.name, "variant": label, "cuts": evaluations[0]["cuts"],
                                   **{name: [column(ev) for ev in evaluations] for name, column in COLUMNS.items()}}
            if spans and video.name == "montage.mp4":
                pairs = [source_similarity(out / f"seed{seed}" / "montage.mid", spans) for seed in seeds]
                row["same_source"], row["other_source"] = [p[0] for p in pairs], [p[1] for p in pairs]
                line += f"{_spread(row['same_source']):>13}{_spread(row['other_source']):>13}"
            rows.append(row)
            print(line, flush=True)
    print("\nthe decoders' own prior samples (strung together, no picture):")
    print(f"{'decoder':<24}" + "".join(f"{name[:13]:>14}" for name in MUSICALITY))
    for decoder, prior in priors.items():
        print(f"{decoder:<24}" + "".join(_fmt(prior.get(name), 14) for name in MUSICALITY))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "priors": priors}, indent=2))
    print(f"\noutputs in {work}")


if __name__ == "__main__":
    main()
