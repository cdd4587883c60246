"""Speed of score-vision's encoders on a real clip: model alone, encode stage, and a whole `score run`.

    python bench/encoders.py [CLIP] [--encoders mobilenet,inception,efficientnet-lite0] [--seconds 4]

Prints figures; asserts nothing. Encoders whose default weights cannot be loaded here (no network, nothing
cached) run with a seeded random initialisation, which costs exactly the same time; the output says so.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError
from score_core.registry import load_registry

DEFAULT_CLIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "skv_bigbuckbunny.mp4"
MODEL_BATCH = 32


def timed(action: Callable[[], object], min_seconds: float) -> tuple[float, int]:
    """Seconds per call of ``action`` (after one warm-up call), repeating for at least ``min_seconds``."""
    action()
    calls, started = 0, time.perf_counter()
    while True:
        action()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / calls, calls


def frame_reader(clip: Path, fps: float, size: tuple[int, int], resize: str, batch_size: int):  # type: ignore[no-untyped-def]
    """score_core's streaming frame reader (decode in a background thread, resize once)."""
    from score_core.media import FrameReader

    return FrameReader(clip, fps=fps, size=size, resize=resize, batch_size=batch_size)  # type: ignore[arg-type]


def build(registration, weights_note: list[str]):  # type: ignore[no-untyped-def]
    """The encoder with its default weights, else random-init (noted)."""
    try:
        return registration.factory(None), None
    except ScoreError as error:
        weights_note.append(str(error))
        return registration.factory("none"), "none"


def bench_encoder(registry, name: str, clip: Path, seconds: float, decoder: str | None) -> None:  # type: ignore[no-untyped-def]
    registration = registry.encoders.get(name)
    notes: list[str] = []
    encoder, weights = build(registration, notes)
    spec = encoder.spec
    label = "default weights" if weights is None else "RANDOM-INIT weights (default weights unavailable)"
    print(f"\n== {name}: {spec.feature_size}-d, input {spec.input_size}, {label}, {encoder.threads} threads")
    for note in notes:
        print(f"   ({note})")

    frames = np.random.default_rng(0).integers(0, 256, (MODEL_BATCH, *spec.input_size, 3), dtype=np.uint8)
    for channels_last in (False, True):
        encoder.set_layout(channels_last)
        per_call, _ = timed(lambda: encoder.encode(frames), seconds)
        layout = "channels_last" if channels_last else "contiguous   "
        print(f"   model alone, batch {MODEL_BATCH}, {layout}: {MODEL_BATCH / per_call:7.1f} frames/s")
    encoder.set_layout(True)

    fps = registration.default_fps
    reader = frame_reader(clip, fps, spec.input_size, spec.resize, spec.batch_size)
    started = time.perf_counter()
    batches = [batch.frames for batch in reader]
    decode_s = time.perf_counter() - started
    count = sum(len(b) for b in batches)
    duration = reader.seconds_decoded
    started = time.perf_counter()
    for batch in batches:
        encoder.encode(batch)
    model_s = time.perf_counter() - started
    print(
        f"   decode+resize alone at {fps:g} fps: {count} frames of {duration:.1f} s video in {decode_s:.2f} s "
        f"({duration / decode_s:.1f}x real time)"
    )
    print(f"   model alone on those frames: {model_s:.2f} s ({count / model_s:.1f} frames/s)")

    reader = frame_reader(clip, fps, spec.input_size, spec.resize, spec.batch_size)
    started = time.perf_counter()
    for batch in reader:
        encoder.encode(batch.frames)
    stage_s = time.perf_counter() - started
    print(
        f"   encode stage (decode+resize+model, overlapped): {count / stage_s:.1f} frames/s, "
        f"{duration / stage_s:.1f}x real time, stage/(decode+model) = {stage_s / (decode_s + model_s):.2f}"
    )

    if decoder is not None:
        bench_run(registry, name, weights, decoder, clip, duration, decode_s + model_s)


def bench_run(
    registry,
    name: str,
    weights: str | None,
    decoder: str,
    clip: Path,
    duration: float,  # type: ignore[no-untyped-def]
    decode_and_model_s: float,
) -> None:
    """A whole run through score_core's pipeline, MIDI only and with all outputs."""
    from score_core.pipeline import Pipeline, RunOptions, StageChoice, run

    for label, options in (
        ("MIDI only", RunOptions(skip=("audio",), overwrite=True)),
        ("all outputs", RunOptions(overwrite=True)),
    ):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            try:
                pipeline = Pipeline(registry, StageChoice(vision=name, music=decoder, vision_weights=weights))
                result = run(pipeline, clip, Path(out), options)
            except ScoreError as error:
                print(f"   score run ({label}): failed: {type(error).__name__}: {error}")
                continue
            wall = time.perf_counter() - started
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
        print(
            f"   score run --music {decoder} ({label}): {duration / wall:.1f} s of video per wall second; "
            f"run/(decode+model) = {wall / decode_and_model_s:.2f}  [{timings}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--encoders", default="mobilenet,inception,efficientnet-lite0")
    parser.add_argument("--seconds", type=float, default=4.0, help="minimum timing per model-alone figure")
    parser.add_argument("--music", default=None, help="decoder for the score run (default: musicvae, else any)")
    args = parser.parse_args()
    registry = load_registry()
    decoders = [d.name for d in registry.decoders.all()]
    decoder = args.music or ("musicvae" if "musicvae" in decoders else (decoders[0] if decoders else None))
    print(f"clip {args.clip}; score run decoder: {decoder or 'none installed (score run skipped)'}")
    for name in args.encoders.split(","):
        bench_encoder(registry, name.strip(), args.clip, args.seconds, decoder)


if __name__ == "__main__":
    main()
