"""Time the fast PixelCNN sampler against the reference sampler, side by side in one run.

    .venv/bin/python bench/pixel_sampling.py --threads 2

Two gated PixelCNNs with random weights (sampling time does not depend on the weights): the bench/pixel.py
digits model (28×28 grey, 64 channels, 8 layers, kernel 5) and the `score vision train-pixelcnn` default on a
folder of images (32×32 RGB, same layers). For each, both samplers complete the last --rows rows of the same
random images from one seed, in float32, and must draw identical values. That speed-up is conservative: the
fast time includes the vertical stack of every row above. The fast sampler then draws whole images from
scratch, timed in full; the reference is too slow for that, so its time for whole images is extrapolated from
the rows it did, with each row's cost taken as proportional to the rows its forward passes cover. One reference
forward pass is also timed under bfloat16 autocast, the reference's precision before the fast sampler existed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

CASES = {
    "digits": {"colours": 1, "size": (28, 28), "count": 64},
    "rgb32": {"colours": 3, "size": (32, 32), "count": 4},
}
ARCHITECTURE = {"channels": 64, "layers": 8, "kernel": 5}


def timed(work: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def bfloat16_pass_seconds(network: Any, images: torch.Tensor) -> float:
    """One reference forward pass over the receptive-field window, under bfloat16 autocast."""
    window = images[:, :, -network.receptive_field()[0] - 1:]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        return timed(lambda: network(window))[1]


def window_rows(network: Any, height: int) -> list[int]:
    """How many rows the reference's forward passes cover, row by row."""
    reach = network.receptive_field()[0]
    return [min(row, reach) + 1 for row in range(height)]


def run_case(name: str, network: Any, count: int, rows: int, seed: int) -> dict[str, Any]:
    from score_vision.pixel.fast_sample import complete_fast
    from score_vision.pixel.sample import complete

    config = network.config
    colours, (height, width) = config.colours, config.size
    start = torch.randint(0, 256, (count, colours, height, width), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(seed))
    start_row = height - rows
    reference, reference_seconds = timed(
        lambda: complete(network, start, start_row, torch.Generator().manual_seed(seed)))
    fast, fast_seconds = timed(lambda: complete_fast(network, start, start_row, torch.Generator().manual_seed(seed)))
    scratch = torch.zeros_like(start)
    _drawn, whole_seconds = timed(lambda: complete_fast(network, scratch, 0, torch.Generator().manual_seed(seed)))
    bf16_pass = bfloat16_pass_seconds(network, start)
    windows = window_rows(network, height)
    reference_whole = reference_seconds * sum(windows) / sum(windows[start_row:])
    figures = {
        "images": f"{count} × {colours}×{height}×{width}",
        "rows_side_by_side": rows,
        "identical_images": bool(torch.equal(reference, fast)),
        "reference_seconds": round(reference_seconds, 2),
        "fast_seconds": round(fast_seconds, 3),
        "speed_up": round(reference_seconds / fast_seconds, 1),
        "fast_whole_images_seconds": round(whole_seconds, 2),
        "reference_whole_images_seconds_extrapolated": round(reference_whole, 1),
        "speed_up_whole_images": round(reference_whole / whole_seconds, 1),
        "reference_bfloat16_pass_seconds": round(bf16_pass, 2),
        "reference_bfloat16_whole_images_seconds_extrapolated": round(
            bf16_pass * width * colours * sum(windows) / windows[-1]),
    }
    print(f"{name}: {figures['images']}, last {rows} row(s): reference {reference_seconds:.2f} s, fast "
          f"{fast_seconds:.3f} s, speed-up {figures['speed_up']}×, identical {figures['identical_images']}; "
          f"whole images from scratch: fast {whole_seconds:.2f} s, reference ≈ {reference_whole:.1f} s "
          f"(extrapolated; speed-up {figures['speed_up_whole_images']}×), reference under bfloat16 ≈ "
          f"{figures['reference_bfloat16_whole_images_seconds_extrapolated']} s ({bf16_pass:.2f} s a pass)",
          flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1, help="rows both samplers complete side by side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("-o", "--output", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from score_vision.pixel.pixelcnn import GatedPixelCnn, PixelCnnConfig

    results: dict[str, Any] = {"threads": args.threads, "architecture": ARCHITECTURE}
    for name in args.cases:
        case = CASES[name]
        torch.manual_seed(args.seed)
        config = PixelCnnConfig(kind="gated", colours=case["colours"], size=case["size"], **ARCHITECTURE)
        network = GatedPixelCnn(config).eval()
        results[name] = run_case(name, network, case["count"], args.rows, args.seed)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
