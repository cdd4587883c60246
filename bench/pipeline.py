"""Speed and memory of `score run` against decoding the same video alone, clip by clip.

Each figure comes from a fresh process (peak RSS is that process's own), stages interleaved, best of N:

    decode   PyAV decodes every frame of the video stream, nothing else: the floor
    read     score's FrameReader: decode, the per-frame change signals, frames sampled and resized
    model    the pipeline's encode stage: `read` plus the vision encoder on every sampled frame
    midi     the whole `score run` process (the default plugins), MIDI and sidecar only (--no-audio)
    run      the whole `score run` process with all outputs (MIDI, WAV, MP4, sidecar)

Figures are seconds of video per wall second (x real time) and ratios to the floor measured in the same run;
`model − read` is the encoder model's share of the encode stage and `read − decode` the sampling and resizing.
First it prints how long each package takes to import in one `score run` (and whether torch is among them).
Usage:

    python bench/pipeline.py                   # every shared clip and a 60 s 720p montage of them
    python bench/pipeline.py --long            # ... and a 10-minute 720p montage (made once, cached)
    python bench/pipeline.py clip.mp4 --repeat 5 --vision efficientnet-lite0 --music musicvae

The default plugins are `score run`'s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from score_cli.app import MUSIC_PREFERENCE, VISION_PREFERENCE

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = ROOT.parent / "shared" / "data" / "video"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "score" / "bench"
STAGES = ("decode", "read", "model", "midi", "run")
MONTAGE_SIZE = (720, 1280)
MONTAGE_FPS = 25


def make_montage(target: Path, seconds: float) -> Path:
    """A 720p H.264 clip of ``seconds``: the shared clips stretched to 1280x720 and played one after another,
    repeated (each join is a hard cut), encoded with x264's defaults for frame-threaded streams."""
    import av
    import numpy as np

    from score_core.media import FrameReader

    if target.exists():
        return target
    clips = sorted(p for p in SHARED_VIDEOS.glob("*.mp4") if p.stat().st_size > 0)
    if not clips:
        sys.exit(f"{SHARED_VIDEOS}: no clips to build a montage from")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.mp4")

    def frames() -> Iterator[np.ndarray]:
        while True:
            for clip in clips:
                for batch in FrameReader(clip, fps=MONTAGE_FPS, size=MONTAGE_SIZE, resize="stretch"):
                    yield from batch.frames

    total = round(seconds * MONTAGE_FPS)
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("libx264", rate=MONTAGE_FPS)
        stream.height, stream.width = MONTAGE_SIZE
        stream.pix_fmt = "yuv420p"
        stream.thread_type = "FRAME"
        stream.codec_context.options = {"preset": "veryfast", "crf": "23"}
        stream.time_base = Fraction(1, MONTAGE_FPS)
        for index, rgb in zip(range(total), frames(), strict=False):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.rename(target)
    return target


def _stage(stage: str, video: str, vision: str, music: str) -> dict[str, float]:
    """Run one in-process stage and return its wall seconds (after the models are built)."""
    from score_core.media import FrameReader
    from score_core.pipeline import Pipeline, StageChoice
    from score_core.registry import load_registry

    if stage == "decode":
        import av

        started = time.perf_counter()
        with av.open(video) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                pass
        return {"seconds": time.perf_counter() - started}
    pipeline = Pipeline(load_registry(), StageChoice(vision=vision, music=music))
    pipeline.build_models()
    spec = pipeline.encoder_spec
    fps = pipeline.default_fps()
    started = time.perf_counter()
    if stage == "read":
        for _ in FrameReader(video, fps=fps, size=spec.input_size, resize=spec.resize, batch_size=spec.batch_size):
            pass
    else:
        pipeline.encode(Path(video), fps)
    return {"seconds": time.perf_counter() - started}


def _wait(command: list[str], video: Path, what: str) -> tuple[str, float, float]:
    """Run ``command``; its stdout, wall seconds and peak RSS (MB). stderr goes to a file (a pipe left unread
    could fill up and stall the process being measured)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        output = process.stdout.read() if process.stdout else b""
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if status:
            errors.seek(0)
            sys.exit(f"{video}: {what} failed: {errors.read().decode(errors='replace').strip()[-400:]}")
    return output.decode(), seconds, usage.ru_maxrss / 1024


def measure(stage: str, video: Path, vision: str, music: str) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of ``stage`` on ``video`` in a fresh process."""
    if stage in ("midi", "run"):
        with tempfile.TemporaryDirectory() as out:
            command = [str(Path(sys.executable).with_name("score")), "run", str(video), "-o", out,
                       "--vision", vision, "--music", music, *(["--no-audio"] if stage == "midi" else [])]
            _, seconds, peak_mb = _wait(command, video, "score run")
        return {"seconds": seconds, "peak_mb": peak_mb}
    command = [sys.executable, __file__, str(video), "--vision", vision, "--music", music, "--stage", stage]
    output, _, peak_mb = _wait(command, video, f"stage {stage}")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_mb": peak_mb}


def bench_clip(video: Path, vision: str, music: str, repeat: int) -> dict[str, dict[str, float]]:
    best: dict[str, dict[str, float]] = {}
    for _ in range(repeat):  # interleaved, best of N: this machine is noisy
        for stage in STAGES:
            figures = measure(stage, video, vision, music)
            if stage not in best or figures["seconds"] < best[stage]["seconds"]:
                best[stage] = figures
    return best


def report(video: Path, best: dict[str, dict[str, float]]) -> dict[str, object]:
    from score_core.media import probe

    info = probe(video)
    floor = best["decode"]
    print(f"\n{video.name}: {info.duration:.1f} s, {info.width}x{info.height}, {info.codec}")
    print(f"  {'stage':<7} {'wall s':>7} {'x real':>7} {'/ floor':>8} {'peak MB':>8} {'/ floor':>8}")
    rows = {}
    for stage in STAGES:
        figures = best[stage]
        rows[stage] = {
            "seconds": round(figures["seconds"], 3), "x_real_time": round(info.duration / figures["seconds"], 1),
            "time_vs_floor": round(figures["seconds"] / floor["seconds"], 2), "peak_mb": round(figures["peak_mb"]),
            "peak_vs_floor": round(figures["peak_mb"] / floor["peak_mb"], 2),
        }
        row = rows[stage]
        print(f"  {stage:<7} {row['seconds']:7.2f} {row['x_real_time']:7.1f} {row['time_vs_floor']:8.2f} "
              f"{row['peak_mb']:8.0f} {row['peak_vs_floor']:8.2f}")
    decode, read, model = (best[s]["seconds"] for s in ("decode", "read", "model"))
    print(f"  encode stage {model:.2f} s = decode {decode:.2f} + sampling/resize/change {read - decode:.2f} "
          f"+ encoder model {model - read:.2f}; whole run / (decode + model) = {best['run']['seconds'] / model:.2f}, "
          f"MIDI only / (decode + model) = {best['midi']['seconds'] / model:.2f}")
    return {"video": str(video), "duration": info.duration, "size": [info.width, info.height], "stages": rows}


def import_times(video: Path, vision: str, music: str, top: int = 8) -> dict[str, float]:
    """Seconds each top-level package takes to import during one `score run` (python -X importtime), whether
    torch was among them, and the total."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-X", "importtime", str(Path(sys.executable).with_name("score")), "run",
                   str(video), "-o", out, "--vision", vision, "--music", music, "--no-audio"]
        lines = subprocess.run(command, capture_output=True, text=True, check=True).stderr.splitlines()
    packages: dict[str, float] = {}
    for line in lines:
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2].rstrip()
        if name.startswith(" ") and not name.startswith("  "):  # a module imported at top level
            package = name.strip().split(".")[0]
            packages[package] = packages.get(package, 0.0) + int(fields[1]) / 1e6
    ranked = dict(sorted(packages.items(), key=lambda item: -item[1])[:top])
    total = sum(packages.values())
    print(f"\nimports during `score run` ({video.name}): {total:.2f} s in all; torch imported: "
          f"{'torch' in packages}")
    print("  " + ", ".join(f"{name} {seconds:.3f}" for name, seconds in ranked.items()))
    return {"total": round(total, 3), "torch": "torch" in packages, **{k: round(v, 3) for k, v in ranked.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--vision", default=VISION_PREFERENCE[0], help="default: score run's")
    parser.add_argument("--music", default=MUSIC_PREFERENCE[0], help="default: score run's")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long", action="store_true", help="add a 10-minute 720p montage (best of 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(_stage(args.stage, str(args.videos[0]), args.vision, args.music)))
        return
    videos = list(args.videos)
    if not videos:
        videos = sorted(p for p in SHARED_VIDEOS.glob("*") if p.suffix in (".mp4", ".webm"))
        videos.append(make_montage(CACHE / "montage-720p-60s.mp4", 60.0))
    missing = [v for v in videos if not v.is_file()]
    if missing:
        sys.exit(f"{missing[0]}: no such file (pass video paths)")
    print(f"vision={args.vision}, music={args.music}, best of {args.repeat}, {os.cpu_count()} CPUs")
    results: list[dict[str, object]] = [{"imports": import_times(videos[0], args.vision, args.music)}]
    results += [report(v, bench_clip(v, args.vision, args.music, args.repeat)) for v in videos]
    if args.long:
        long = make_montage(CACHE / "montage-720p-600s.mp4", 600.0)
        results.append(report(long, bench_clip(long, args.vision, args.music, 1)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
