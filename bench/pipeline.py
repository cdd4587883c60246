"""Speed and memory of `score run` on a real clip, against decoding the same frames alone.

Prints seconds of video per wall second for the whole run and for decoding alone, their ratio, and the peak
resident memory of each (every measurement runs in a fresh process). Usage:

    python bench/pipeline.py [VIDEO] [--vision NAME] [--music NAME] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_CLIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "skv_bigbuckbunny.mp4"


def _measure(stage: str, video: str, vision: str, music: str) -> dict[str, float]:
    from score_core.media import FrameReader, probe
    from score_core.pipeline import Pipeline, RunOptions, StageChoice, run
    from score_core.registry import load_registry

    pipeline = Pipeline(load_registry(), StageChoice(vision=vision, music=music))
    pipeline.build_models()
    spec = pipeline.encoder_registration.spec
    fps = pipeline.default_fps()
    started = time.perf_counter()
    if stage == "decode":
        for _ in FrameReader(video, fps=fps, size=spec.input_size, resize=spec.resize, batch_size=spec.batch_size):
            pass
    else:
        with tempfile.TemporaryDirectory() as out:
            run(pipeline, Path(video), Path(out), RunOptions())
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_mb": peak_mb, "duration": probe(video).duration}


def _in_fresh_process(stage: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, str(args.video), "--vision", args.vision, "--music", args.music,
               "--stage", stage]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=str(SHARED_CLIP))
    parser.add_argument("--vision", default="color-stats")
    parser.add_argument("--music", default="arpeggio")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage", choices=["decode", "run"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(_measure(args.stage, args.video, args.vision, args.music)))
        return
    if not Path(args.video).exists():
        sys.exit(f"{args.video}: no such file (pass a video path)")
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):  # interleaved, best of N: this machine is noisy
        for stage in ("decode", "run"):
            figures = _in_fresh_process(stage, args)
            if stage not in best or figures["seconds"] < best[stage]["seconds"]:
                best[stage] = figures
    duration = best["run"]["duration"]
    print(f"clip: {args.video} ({duration:.1f} s), vision={args.vision}, music={args.music}, best of {args.repeat}")
    for stage in ("decode", "run"):
        figures = best[stage]
        print(f"{stage:>7}: {figures['seconds']:6.2f} s wall  {duration / figures['seconds']:6.1f}x real time  "
              f"peak RSS {figures['peak_mb']:.0f} MB")
    print(f"  ratio: whole run / decoding alone = {best['run']['seconds'] / best['decode']['seconds']:.2f}")


if __name__ == "__main__":
    main()
