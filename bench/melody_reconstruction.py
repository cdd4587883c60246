"""Held-out reconstruction of melody models, per collection and metre, side by side in one run.

    .venv/bin/python bench/melody_reconstruction.py --cache CACHE [--weights A.pt --weights B.pt] [--json out.json]

For each model (default: the shipped one): per-step accuracy of the test-split windows, teacher-forced and
free-running (argmax, z = posterior mean), grouped by collection and by the tune's metre (duple: 2/4, 4/4, 2/2,
4/2; three-quarter bars: 3/4 and 6/8; other: 9/8, 3/2, 12/8, …). The dance-tune collections (Ryan's Mammoth,
O'Neill's, Aird's: reels, jigs, hornpipes, waltzes, airs) stand in for the held-out folk-dance tunes the issue
names. A key-normalised model is measured as its codec uses it (each window moved to C major / A minor first)
and also on the windows as they are ("raw keys"), for a caller that skips the codec.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

DANCE = ("ryansMammoth", "oneills1850", "airdsAirs")


def metre_group(bar: float) -> str:
    if bar in (2.0, 4.0, 8.0):
        return "duple"
    if bar == 3.0:
        return "3/4 or 6/8"
    return "other or none" if bar else "no metre"


def measure(decoder: object, windows: np.ndarray, normalise: bool) -> dict[str, float]:
    from score_music.keynorm import normalise_windows
    from score_music.train import evaluate

    events = normalise_windows(windows)[0] if normalise else windows
    figures = evaluate(decoder.model, events.astype(np.int64))  # type: ignore[attr-defined]
    return {"windows": len(windows), "teacher_forced": round(figures.accuracy, 4),
            "free_running": round(figures.sampled_accuracy, 4), "kl": round(figures.kl, 2),
            "active_dims": round(figures.active_dims, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="window cache of `score music build-corpus`")
    parser.add_argument("--weights", action="append", help="weights file (repeat; default: the shipped model)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--dance-only", action="store_true", help="measure the dance-tune collections alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from score_music.corpus import load_split, tune_bar_quarters
    from score_music.loading import load_decoder

    events, tune_ids = load_split(args.cache, args.split, collections=DANCE if args.dance_only else None)
    bars = tune_bar_quarters(args.cache, DANCE if args.dance_only else None)
    collection = np.array([t.split("/")[0] for t in tune_ids.tolist()])
    metre = np.array([metre_group(bars.get(t, 0.0)) for t in tune_ids.tolist()])
    dance = np.isin(collection, DANCE)
    groups: dict[str, np.ndarray] = {"all": np.ones(len(events), bool), "dance collections": dance}
    for name in sorted(set(metre[dance].tolist())):
        groups[f"dance, {name}"] = dance & (metre == name)
    for name in sorted(set(collection.tolist())):
        groups[name] = collection == name

    results: dict[str, dict[str, object]] = defaultdict(dict)
    for weights in args.weights or [None]:
        decoder = load_decoder(weights)
        label = weights or "shipped"
        normalised = bool(getattr(decoder, "key_normalised", False))
        for group, mask in groups.items():
            if not mask.any():
                continue
            row = measure(decoder, events[mask], normalised)
            if normalised:
                raw = measure(decoder, events[mask], False)
                row["raw_keys_teacher_forced"], row["raw_keys_free_running"] = (
                    raw["teacher_forced"], raw["free_running"])
            results[label][group] = row
            print(f"{label:40s} {group:28s} " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
