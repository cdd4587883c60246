"""The drums model's model-card figures next to the same figures for held-out human grooves (Groove MIDI test).

    python bench/drums.py [--weights PATH] [--cache GROOVE_CACHE] [--samples 512] [--seed 0]

Held-out reconstruction (z = posterior mean): per-step accuracy teacher-forced and free-running (argmax), and
the share of steps whose hit set is right. Samples from the prior (temperature 1.0 and 0.5): share of hits on
8th-note positions, kicks / (kicks + snares), hits per bar, empty-bar rate; the same for the human test windows
(each figure's ratio sample / human is printed beside it).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from score_music.drums import groove_statistics
from score_music.groove import load_groove_split
from score_music.loading import load_drums_decoder
from score_music.train import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="drums weights (default: the shipped model)")
    parser.add_argument("--cache", type=Path, default=None, help="Groove window cache (score music build-groove)")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    decoder = load_drums_decoder(args.weights)
    model = decoder.model
    test = load_groove_split(args.cache, "test")
    figures = evaluate(model, test)
    print(f"weights: {decoder.provenance()['weights']} ({decoder.provenance()['config']})")
    print(f"held-out test windows: {len(test)}")
    for key, value in dataclasses.asdict(figures).items():
        if key != "step":
            print(f"  {key:>18}: {value:.4f}")
    human = groove_statistics(test)
    rows = {"human (test)": human}
    for temperature in (1.0, 0.5):
        z = torch.randn(args.samples, decoder.latent_spec.size, generator=torch.Generator().manual_seed(args.seed))
        events, _ = model.decode(z, temperature=temperature, generator=torch.Generator().manual_seed(args.seed))
        rows[f"samples T={temperature}"] = groove_statistics(events.numpy())
    print(f"{'':>16} " + " ".join(f"{k:>22}" for k in human))
    for label, stats in rows.items():
        cells = [f"{stats[k]:.3f} ({stats[k] / human[k]:.2f}x)" if human[k] else f"{stats[k]:.3f}" for k in human]
        print(f"{label:>16} " + " ".join(f"{c:>22}" for c in cells))
    print(f"wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
