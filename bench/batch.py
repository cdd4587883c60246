"""Archive throughput: a shell loop of `score run` vs `score batch --workers 1/2` vs `--ray`, and encoder runtimes.

    python bench/batch.py [N] [--vision efficientnet-lite0] [--music musicvae] [--modes loop,w1,w2,ray]
                          [--no-encoders] [--long]

The shared clips (../shared/data/video) are repeated to N items (default 50; use a small N on a shared
machine). For each mode: wall time, videos per minute, its ratio to the shell loop, and the peak resident
memory of the largest process (driver or worker). Then the encoder alone on frames of one clip: eager PyTorch
vs ONNX Runtime (fp32, and int8 dynamic quantisation): frames/s, ratio to PyTorch, cosine to PyTorch's features.
`--long` also scores a 30 s and a 240 s synthetic clip with one worker: the worker's peak memory for each.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = next((parent / "shared" / "data" / "video" for parent in Path(__file__).resolve().parents
               if (parent / "shared" / "data" / "video").is_dir()), Path("../shared/data/video"))
SCORE = str(Path(sys.executable).parent / "score")
_PEAK = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
         "stderr=subprocess.DEVNULL).returncode; "
         "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measured(command: list[str]) -> tuple[float, int, float]:
    """(wall seconds, exit code, peak RSS MB of the largest descendant) of ``command``."""
    started = time.perf_counter()
    line = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, check=True)
    code, peak_kb = line.stdout.split()
    return time.perf_counter() - started, int(code), int(peak_kb) / 1024


def shell_loop(items: list[Path], out: Path, stage: list[str]) -> tuple[float, int, float]:
    """Every item as its own `score run` process, one after the other, as a shell `for` loop does."""
    script = "\n".join(f"{SCORE} run {item} -o {out / item.stem} --overwrite {' '.join(stage)} || status=1"
                       for item in items)
    return measured(["bash", "-c", f"status=0\n{script}\nexit $status"])


def items_folder(count: int, root: Path) -> list[Path]:
    clips = sorted(p for p in SHARED.iterdir() if p.suffix == ".mp4")
    if not clips:
        raise SystemExit(f"{SHARED} holds no clips")
    folder = root / "items"
    folder.mkdir()
    items = []
    for index in range(count):
        clip = clips[index % len(clips)]
        item = folder / f"{index:03d}-{clip.name}"
        item.symlink_to(clip)
        items.append(item)
    return items


def throughput(count: int, modes: list[str], stage: list[str], root: Path) -> None:
    items = items_folder(count, root)
    commands = {
        "w1": ["--workers", "1"], "w2": ["--workers", "2"], "ray": ["--ray", "auto", "--workers", "2"],
    }
    print(f"{count} items from {SHARED} ({' '.join(stage)}), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    from score_core.errors import ScoreError
    from score_core.media import probe

    def seconds(item: Path) -> float:
        try:
            return probe(item).duration
        except ScoreError:
            return 0.0

    video_seconds = sum(seconds(item) for item in items)
    print(f"{video_seconds:.1f} s of video in all; a mode's 'video s/s' is seconds of video scored per wall second")
    print(f"{'mode':<36}{'wall s':>9}{'videos/min':>12}{'video s/s':>11}{'× loop':>8}{'peak MB':>9}  exit")
    baseline = None
    for mode in modes:
        out = root / f"out-{mode}"
        if mode == "loop":
            wall, code, peak = shell_loop(items, out, stage)
            label = "shell loop of score run"
        else:
            wall, code, peak = measured([SCORE, "batch", str(root / "items"), "-o", str(out), *stage,
                                         *commands[mode]])
            label = f"score batch {' '.join(commands[mode])}"
        rate = 60 * count / wall
        baseline = baseline or (rate if mode == "loop" else None)
        ratio = f"{rate / baseline:.2f}" if baseline else "-"
        print(f"{label:<36}{wall:>9.1f}{rate:>12.1f}{video_seconds / wall:>11.2f}{ratio:>8}{peak:>9.0f}  {code}")


def long_videos(stage: list[str], root: Path) -> None:
    from score_core.media.synthetic import write_test_video

    print("\nworker peak memory against video length (score batch --workers 1)")
    for seconds in (30, 240):
        folder = root / f"long-{seconds}"
        folder.mkdir()
        write_test_video(folder / f"long{seconds}.mp4", duration=seconds, size=(360, 640),
                         cuts=tuple(range(5, seconds, 7)))
        out = root / f"out-long-{seconds}"
        measured([SCORE, "batch", str(folder), "-o", str(out), *stage, "--workers", "1", "--no-audio"])
        row = json.loads((out / "report.json").read_text())[0]
        print(f"  {seconds:>4} s video: worker peak {row['peak_mb']} MB, {row['seconds']:.1f} s, {row['status']}")


def encoder_runtimes(vision: str, root: Path) -> None:
    import torch

    from score_core.media import sample_frames
    from score_core.registry import default_registry

    built = default_registry().encoders.get(vision).factory(None)
    encoder = getattr(built, "torch_encoder", built)  # the PyTorch encoder, whichever runtime is the default
    clip = SHARED / "skv_bikes.mp4"
    batches = sample_frames(clip, fps=3.2, size=encoder.spec.input_size, resize=encoder.spec.resize)
    batch = np.concatenate([b.frames for b in batches])[:32]
    print(f"\nencoder {vision}: {len(batch)} frames of {clip.name} per call, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}")

    try:
        runtimes = {"pytorch eager": encoder.encode, **onnx_runtimes(encoder, batch, root)}
    except Exception as error:  # the figures say why a runtime is missing
        print(f"  onnx runtime: not measured ({error!r})")
        runtimes = {"pytorch eager": encoder.encode}
    features = {name: encode(batch) for name, encode in runtimes.items()}  # also the warm-up call
    spent = dict.fromkeys(runtimes, 0.0)
    calls = 0
    while calls < 3 or min(spent.values()) < 8:  # interleaved rounds: a busy machine slows every runtime alike
        for name, encode in runtimes.items():
            started = time.perf_counter()
            encode(batch)
            spent[name] += time.perf_counter() - started
        calls += 1
    reference = features["pytorch eager"]
    base = calls * len(batch) / spent["pytorch eager"]
    print(f"  {'runtime':<26}{'frames/s':>10}{'× torch':>9}{'min cosine':>12}")
    for name in runtimes:
        speed = calls * len(batch) / spent[name]
        norms = np.linalg.norm(features[name], axis=1) * np.linalg.norm(reference, axis=1)
        cosine = np.sum(features[name] * reference, 1) / norms
        print(f"  {name:<26}{speed:>10.1f}{speed / base:>9.2f}{cosine.min():>12.4f}")


def onnx_runtimes(encoder, batch: np.ndarray, root: Path) -> dict:
    """score-vision's own ONNX Runtime path (the cached export), and an int8 dynamic quantisation of it."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from score_vision.onnx_runtime import onnx_encoder

    fast = onnx_encoder(encoder)
    quantized = root / "encoder-int8.onnx"
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs every tensor it leaves in float
    quantize_dynamic(fast.provenance()["onnx_model"], str(quantized), weight_type=QuantType.QInt8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = encoder.threads
    session = onnxruntime.InferenceSession(str(quantized), options, providers=["CPUExecutionProvider"])

    def int8(frames: np.ndarray) -> np.ndarray:
        return session.run(None, {"pixels": encoder._batch(frames).contiguous().numpy()})[0]

    return {"onnxruntime fp32": fast.encode, "onnxruntime int8 dynamic": int8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", nargs="?", type=int, default=50)
    parser.add_argument("--vision", default="efficientnet-lite0")
    parser.add_argument("--music", default="musicvae")
    parser.add_argument("--modes", default="loop,w1,w2,ray")
    parser.add_argument("--no-encoders", action="store_true")
    parser.add_argument("--long", action="store_true")
    arguments = parser.parse_args()
    stage = ["--vision", arguments.vision, "--music", arguments.music]
    root = Path(tempfile.mkdtemp(prefix="score-bench-batch-"))
    try:
        modes = [mode for mode in arguments.modes.split(",") if mode]
        if modes:
            throughput(arguments.count, modes, stage, root)
        if arguments.long:
            long_videos(stage, root)
        if not arguments.no_encoders:
            encoder_runtimes(arguments.vision, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
