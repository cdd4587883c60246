"""Does the music answer the picture? `score run --evaluate` over the shared clips, variants side by side.

Each variant is `LABEL=EXTRA ARGS` for `score run`, for example `grid=--sync grid`, `cuts=--sync cuts` or
`stream=--music musicvae-stream`; with none given, the script runs main's default (`default=`) plus `--sync
cuts` and `--sync grid` when `score run` has that option and the `musicvae-stream` decoder when it is installed.
Besides the shared clips (skipped when absent) it scores a montage of them (real footage, a cut at every join),
since few of the clips have cuts of their own. It prints one row per clip and variant (cut-hit F1 at ±0.07 s of
phrase starts and of musical changes, the cut-response z-score, the response lag, musicality) and the same
musicality for each decoder's own prior samples, then the musicality of each variant relative to its decoder's
prior (1.00 = the same). Usage:

    python bench/response.py [LABEL=ARGS ...] [--clips DIR] [--no-montage] [--seed N] [--keep DIR] [--only NAME ...]

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

SHARED_CLIPS = Path(
    os.environ.get("SCORE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
) / "video"
SCORE = str(Path(sys.executable).with_name("score"))
MONTAGE_SIZE = (180, 320)  # height, width
MONTAGE_FPS = 25
MUSICALITY = ("in_scale", "pitch_class_entropy", "mean_abs_interval", "notes_per_second", "empty_bar_rate")


def default_variants() -> list[tuple[str, list[str]]]:
    variants: list[tuple[str, list[str]]] = [("default", [])]
    run_help = subprocess.run([SCORE, "run", "--help"], capture_output=True, text=True).stdout
    if "--sync" in run_help:
        variants += [("cuts", ["--sync", "cuts"]), ("grid", ["--sync", "grid"])]
    decoders = subprocess.run([SCORE, "decoders", "--json"], capture_output=True, text=True).stdout
    if "musicvae-stream" in decoders:
        variants.append(("stream", ["--music", "musicvae-stream"]))
    return variants


def parse_variant(text: str) -> tuple[str, list[str]]:
    label, _, args = text.partition("=")
    if not label:
        raise SystemExit(f"variant {text!r} must look like LABEL=ARGS")
    return label, shlex.split(args)


def write_montage(clips: list[Path], target: Path, seconds_each: float = 5.0) -> tuple[Path, list[float]]:
    """Concatenate up to ``seconds_each`` of every clip (resized to 320x180) into one H.264 file; the joins
    are the known cuts."""
    import av
    import numpy as np

    from score_core.media import FrameReader

    joins: list[float] = []
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream("libx264", rate=MONTAGE_FPS)
        stream.height, stream.width = MONTAGE_SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast"}
        stream.time_base = Fraction(1, MONTAGE_FPS)
        index = 0
        for clip in clips:
            if index:
                joins.append(index / MONTAGE_FPS)
            reader = FrameReader(clip, fps=MONTAGE_FPS, size=MONTAGE_SIZE, max_duration=seconds_each)
            for batch in reader:
                for rgb in batch.frames:
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                    frame.pts = index
                    container.mux(stream.encode(frame))
                    index += 1
        container.mux(stream.encode(None))
    return target, joins


def run_variant(video: Path, args: list[str], out: Path, seed: int) -> dict[str, Any]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="LABEL=ARGS for `score run` (default: see above)")
    parser.add_argument("--clips", type=Path, default=SHARED_CLIPS)
    parser.add_argument("--no-montage", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the outputs (MIDI, sidecars, montage) here")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="score only these videos (file names; `montage.mp4` is the montage); repeatable")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variants] or default_variants()
    clips = sorted(p for p in args.clips.glob("*.mp4")) if args.clips.is_dir() else []
    if not clips:
        print(f"no clips in {args.clips} (../shared/data is not part of a fresh clone); nothing to measure")
        return
    work = Path(tempfile.mkdtemp(prefix="score-response-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    videos = list(clips)
    if not args.no_montage:
        montage, joins = write_montage(clips, work / "montage.mp4")
        videos.append(montage)
        print(f"montage.mp4: {len(clips)} clips, joins at {', '.join(f'{t:.2f}' for t in joins)} s")
    if args.only:
        videos = [v for v in videos if v.name in args.only]

    header = (f"{'clip':<26}{'variant':<10}{'cuts':>5}{'phraseF1':>9}{'changeF1':>9}{'onsetR':>7}{'z':>7}"
              f"{'lag':>7}{'xlag':>7}" + "".join(f"{name[:7]:>8}" for name in ("in_scale", "PCHE", "|int|",
                                                                             "notes/s", "empty")))
    print(header)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    decoders: dict[str, float] = {}
    priors: dict[str, dict[str, Any]] = {}
    for video in videos:
        for label, extra in variants:
            out = work / label
            out.mkdir(exist_ok=True)
            result = run_variant(video, extra, out, args.seed)
            if "error" in result:
                print(f"{video.name:<26}{label:<10}  {result['error']}")
                continue
            ev = result["evaluation"]
            decoders.setdefault(result["music"], result["tempo"])
            if result["prior"] and result["music"] not in priors:
                priors[result["music"]] = result["prior"]
            rows.append((video.name, label, {**ev, "music": result["music"]}))
            music = ev["musicality"]
            print(f"{video.name[:25]:<26}{label:<10}{ev['cuts']:>5}{_fmt(_hit_f1(ev, 'phrase_hits'), 9)}"
                  f"{_fmt(_hit_f1(ev, 'change_hits'), 9)}{_fmt(_hit_f1(ev, 'onset_hits', 'recall'))}"
                  f"{_fmt(ev['cut_response']['z'])}{_fmt(ev['lag']['response_median'])}{_fmt(ev['lag']['xcorr'])}"
                  + "".join(_fmt(music[name], 8) for name in MUSICALITY), flush=True)

    for decoder, tempo in decoders.items():
        if decoder not in priors:  # a run that did not report them
            priors[decoder] = prior_figures(decoder, tempo, args.seed)
        print(f"{'prior samples':<26}{decoder[:9]:<10}{'':>5}{'':>9}{'':>9}{'':>7}{'':>7}{'':>7}{'':>7}"
              + "".join(_fmt(priors[decoder][name], 8) for name in MUSICALITY))

    print("\nmean over clips, musicality relative to the decoder's prior samples (1.00 = the same):")
    print(f"{'variant':<10}{'clips':>6}{'cut clips':>10}{'phraseF1':>9}{'z':>7}{'lag':>7}"
          + "".join(f"{name[:7]:>8}" for name in ("in_scale", "PCHE", "|int|", "notes/s")))
    for label, _ in variants:
        mine = [ev for _, name, ev in rows if name == label]
        with_cuts = [ev for ev in mine if ev["cut_response"]["z"] is not None]
        ratios = []
        for name in MUSICALITY[:4]:
            values = [ev["musicality"][name] / priors[ev["music"]][name] for ev in mine
                      if ev["musicality"][name] is not None and priors[ev["music"]].get(name)]
            ratios.append(sum(values) / len(values) if values else None)
        print(f"{label:<10}{len(mine):>6}{len(with_cuts):>10}"
              f"{_fmt(_mean(_hit_f1(ev, 'phrase_hits') for ev in with_cuts), 9)}"
              f"{_fmt(_mean(ev['cut_response']['z'] for ev in with_cuts))}"
              f"{_fmt(_mean(ev['lag']['response_median'] for ev in with_cuts))}"
              + "".join(_fmt(r, 8) for r in ratios))
    print(f"\noutputs in {work}")


def _mean(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


if __name__ == "__main__":
    main()
