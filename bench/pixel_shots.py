"""Do an encoder's features tell shots apart? The vision issue's cut test and a held-out pair test, for any encoders.

    .venv/bin/python bench/pixel_shots.py efficientnet-lite0 color-stats pixelvae=PIXELVAE.pt pixelvae=VAE.pt \
        --videos /work/shared/data/video

Two-cut margins, at two of the hard cuts of skv_bikes.mp4 (../shared/data/video), near 1.2 s and 9.7 s: for each,
two frames before it and two after: "within" is the lower cosine similarity of the two same-shot pairs, "across"
the highest of the four cross-cut pairs, and the margin within − across must be clearly positive for features
that separate shots.

Pair test (``--held-out``, default the three clips the video models are trained without): frames every 1/--fps s
of each held-out clip, less those within 0.1 s of a cut, and every pair of them. A pair is same-shot (same clip, no
cut between) or not: across one of skv_bikes' five cuts (1.18, 3.02, 5.46, 7.46, 9.66 s, found by frame
differences; the other clips have none) or from two different clips. The AUC is the chance that a random
same-shot pair is more similar (cosine) than a random other pair (0.5: no separation, 1: perfect): "auc" over all
pairs, "auc cuts" same-shot vs across-a-cut pairs within skv_bikes, "auc clips" same-shot vs different-clip pairs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
CUTS = {1.2: ((0.6, 1.0), (1.8, 2.2)), 9.7: ((9.2, 9.6), (9.8, 9.96))}
HELD_OUT = ("skv_bikes.mp4", "mdn_stream-of-water.mp4", "imageio_realshort.mp4")
SHOT_CUTS = {"skv_bikes.mp4": (1.18, 3.02, 5.46, 7.46, 9.66)}
GUARD = 0.1


def frames_near(video: Path, times: list[float], size: tuple[int, int]) -> np.ndarray:
    """The decoded frames closest to ``times``, cover-cropped to ``size`` by the media layer."""
    from score_core.media import sample_frames

    kept_times, kept_frames = [], []
    for batch in sample_frames(video, fps=50.0, size=size):
        kept_times.append(batch.times)
        kept_frames.append(batch.frames)
    all_times, all_frames = np.concatenate(kept_times), np.concatenate(kept_frames)
    return np.stack([all_frames[int(np.argmin(np.abs(all_times - time)))] for time in times])


def cosine(features: np.ndarray) -> np.ndarray:
    rows = features.astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12
    return rows @ rows.T


def cut_margins(encoder: object, video: Path) -> dict[str, float]:
    spec = encoder.spec  # type: ignore[attr-defined]
    figures: dict[str, float] = {}
    for cut, (before, after) in CUTS.items():
        frames = frames_near(video, [*before, *after], spec.input_size)
        similarity = cosine(encoder.encode(frames))  # type: ignore[attr-defined]
        within = min(similarity[0, 1], similarity[2, 3])
        across = max(similarity[i, j] for i in (0, 1) for j in (2, 3))
        figures[f"cut {cut} s"] = round(float(within - across), 3)
        figures[f"cut {cut} s within"] = round(float(within), 3)
        figures[f"cut {cut} s across"] = round(float(across), 3)
    return figures


def held_out_frames(videos: Path, clips: list[str], fps: float, size: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Frames every 1/fps s of each clip, cover-cropped to ``size``, and each one's shot ("clip#n"), less those
    within GUARD s of a cut."""
    from score_core.media import sample_frames

    kept, shots = [], []
    for clip in clips:
        cuts = np.array(SHOT_CUTS.get(clip, ()))
        for batch in sample_frames(videos / clip, fps=fps, size=size):
            for time, frame in zip(batch.times, batch.frames, strict=True):
                if len(cuts) and np.min(np.abs(cuts - time)) < GUARD:
                    continue
                kept.append(frame)
                shots.append(f"{clip}#{int(np.searchsorted(cuts, time))}")
    return np.stack(kept), shots


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive > a random negative), ties counted half (the Mann–Whitney U over both counts)."""
    values = np.concatenate([positive, negative])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    count = len(positive)
    return float((ranks[:count].sum() - count * (count + 1) / 2) / (count * len(negative)))


def pair_figures(encoder: object, videos: Path, clips: list[str], fps: float) -> dict[str, float]:
    """Shot separation over every pair of held-out frames: AUCs (see the module docstring) and the mean margin."""
    frames, shots = held_out_frames(videos, clips, fps, encoder.spec.input_size)  # type: ignore[attr-defined]
    similarity = cosine(encoder.encode(frames))  # type: ignore[attr-defined]
    first, second = np.triu_indices(len(shots), k=1)
    shot = np.array(shots)
    clip = np.array([name.partition("#")[0] for name in shots])
    same = shot[first] == shot[second]
    across_cut = ~same & (clip[first] == clip[second])
    across_clip = clip[first] != clip[second]
    values = similarity[first, second]
    return {
        "auc": round(auc(values[same], values[~same]), 3),
        "auc cuts": round(auc(values[same & (clip[first] == "skv_bikes.mp4")], values[across_cut]), 3),
        "auc clips": round(auc(values[same], values[across_clip]), 3),
        "mean margin": round(float(values[same].mean() - values[~same].mean()), 3),
        "frames": len(shots),
        "pairs same": int(same.sum()),
        "pairs cut": int(across_cut.sum()),
        "pairs clip": int(across_clip.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoders", nargs="+", help="NAME or NAME=WEIGHTS (registered encoder names)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="The shared video folder (default: %(default)s)")
    parser.add_argument("--held-out", default=",".join(HELD_OUT), help="Clips of the pair test, comma-separated")
    parser.add_argument("--fps", type=float, default=10.0, help="Frames per second of the pair test")
    args = parser.parse_args()
    clips = [name.strip() for name in args.held_out.split(",") if name.strip()]
    missing = [name for name in {"skv_bikes.mp4", *clips} if not (args.videos / name).is_file()]
    if missing:
        raise SystemExit(f"{args.videos}: {', '.join(sorted(missing))} absent (the benchmark needs the shared videos)")
    from score_core.registry import default_registry

    registry = default_registry()
    results = {}
    for item in args.encoders:
        name, _, weights = item.partition("=")
        encoder = registry.encoders.get(name).factory(weights or None)
        label = f"{name} ({Path(weights).name})" if weights else name
        results[label] = {**cut_margins(encoder, args.videos / "skv_bikes.mp4"),
                          **pair_figures(encoder, args.videos, clips, args.fps)}
        shown = [f"{key} {value:+.3f}" for key, value in results[label].items() if key.endswith(" s")]
        shown += [f"{key} {results[label][key]:.3f}" for key in ("auc", "auc cuts", "auc clips", "mean margin")]
        print(f"{label:40s} " + "  ".join(shown), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
