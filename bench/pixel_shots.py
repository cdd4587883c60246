"""Do an encoder's features tell shots apart? The vision issue's cut test, for any installed encoders.

    .venv/bin/python bench/pixel_shots.py efficientnet-lite0 color-stats pixelvae=MODEL.pt vae=MODEL.pt

skv_bikes.mp4 (../shared/data/video) has hard cuts near 1.2 s and 9.7 s. For each cut, two frames before it and
two after: "within" is the lower cosine similarity of the two same-shot pairs, "across" the highest of the four
cross-cut pairs, and the margin within − across must be clearly positive for features that separate shots.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "skv_bikes.mp4"
CUTS = {1.2: ((0.6, 1.0), (1.8, 2.2)), 9.7: ((9.2, 9.6), (9.8, 9.96))}


def frames_near(times: list[float], size: tuple[int, int]) -> np.ndarray:
    """The decoded frames closest to ``times``, cover-cropped to ``size`` by the media layer."""
    from score_core.media import sample_frames

    kept_times, kept_frames = [], []
    for batch in sample_frames(VIDEO, fps=50.0, size=size):
        kept_times.append(batch.times)
        kept_frames.append(batch.frames)
    all_times, all_frames = np.concatenate(kept_times), np.concatenate(kept_frames)
    return np.stack([all_frames[int(np.argmin(np.abs(all_times - time)))] for time in times])


def cosine(features: np.ndarray) -> np.ndarray:
    rows = features.astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12
    return rows @ rows.T


def cut_margins(encoder: object) -> dict[str, float]:
    spec = encoder.spec  # type: ignore[attr-defined]
    figures: dict[str, float] = {}
    for cut, (before, after) in CUTS.items():
        similarity = cosine(encoder.encode(frames_near([*before, *after], spec.input_size)))  # type: ignore[attr-defined]
        within = min(similarity[0, 1], similarity[2, 3])
        across = max(similarity[i, j] for i in (0, 1) for j in (2, 3))
        figures[f"cut {cut} s"] = round(float(within - across), 3)
        figures[f"cut {cut} s within"] = round(float(within), 3)
        figures[f"cut {cut} s across"] = round(float(across), 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoders", nargs="+", help="NAME or NAME=WEIGHTS (registered encoder names)")
    args = parser.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"{VIDEO}: absent (the benchmark needs ../shared/data/video)")
    from score_core.registry import default_registry

    registry = default_registry()
    results = {}
    for item in args.encoders:
        name, _, weights = item.partition("=")
        encoder = registry.encoders.get(name).factory(weights or None)
        label = f"{name} ({Path(weights).name})" if weights else name
        results[label] = cut_margins(encoder)
        print(f"{label:40s} " + "  ".join(f"{key} {value:+.3f}" for key, value in results[label].items()
                                           if key.endswith(" s")), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
