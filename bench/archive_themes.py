"""Do themes carry across an archive? Two montages of the shared clips, scored with one corpus bridge, with and
without the theme book fitted beside it (`score bridge fit --theme-book`, what `score batch --bridge-fit-sample`
does).

The two montages show the same clips in different orders. For every pair of spans, one in each montage, the
music under them is compared: `pc` is the pitch-class cosine (as `bench/response.py`'s same/other), `melody` the
note-event F1 of the spans' first two bars at the best transposition (the melody itself returning, in whatever
key). `same` pairs show the same source clip, `other` pairs different clips; a theme book should raise `same`
and leave `other` alone. `z` and `recur` are each montage's own cut response (independent cuts) and recurrence
share, to show the book costs the pieces nothing. Mean ± standard deviation over `--seeds`. Usage:

    python bench/archive_themes.py [--clips DIR] [--seeds 0-4] [--keep DIR] [--montage-seconds 120]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from response import SCORE, SHARED_CLIPS, _seeds, _spread, write_montage

BARS_COMPARED = 2


def _span_music(midi: Path, tempo: float, spans: list[tuple[float, float, str]]) -> list[dict[str, Any]]:
    from score_core.analysis.form import pitch_class_profile
    from score_core.midi import read_midi

    notes = [n for n in read_midi(midi).notes if not n.is_drum and n.program != 48]
    step = 15.0 / tempo
    music = []
    for start, end, name in spans:
        horizon = min(end, start + BARS_COMPARED * 16 * step)
        events = frozenset((round((n.start - start) / step), n.pitch) for n in notes if start <= n.start < horizon)
        music.append({"clip": name, "profile": pitch_class_profile(notes, start, end), "events": events})
    return music


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def _f1(a: frozenset[tuple[int, int]], b: frozenset[tuple[int, int]]) -> float:
    if not a or not b:
        return 0.0
    return max(2 * len(a & {(s, p + k) for s, p in b}) / (len(a) + len(b)) for k in range(-12, 13))


def cross_similarity(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> dict[str, float]:
    """Mean similarity of span pairs across the two pieces, same source clip vs different clips."""
    groups: dict[str, list[tuple[float, float]]] = {"same": [], "other": []}
    for a, b in itertools.product(first, second):
        groups["same" if a["clip"] == b["clip"] else "other"].append(
            (_cosine(a["profile"], b["profile"]), _f1(a["events"], b["events"])))
    return {f"{kind} {measure}": float(np.mean([pair[index] for pair in pairs]))
            for kind, pairs in groups.items() for index, measure in enumerate(("pc", "melody"))}


def _score(video: Path, out: Path, seed: int, extra: list[str]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([SCORE, "run", str(video), "--evaluate", "--no-audio", "--overwrite", "--seed", str(seed),
                    "-o", str(out), *extra], check=True, capture_output=True)
    return json.loads((out / f"{video.stem}.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=SHARED_CLIPS)
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--montage-seconds", type=float, default=120.0)
    args = parser.parse_args()
    clips = sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else []
    if not clips:
        print(f"no clips in {args.clips} (../shared/data is not part of a fresh clone); nothing to measure")
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="score-archive-"))
    (work / "archive").mkdir(parents=True, exist_ok=True)
    montages = [write_montage(clips, work / "archive" / f"montage{i}.mp4", at_least=args.montage_seconds,
                              order_seed=i) for i in (0, 1)]
    bridge, book = work / "bridge.npz", work / "themes.npz"
    fitted = subprocess.run([SCORE, "bridge", "fit", str(work / "archive"), "-o", str(bridge), "--theme-book",
                             str(book), "--vision", "efficientnet-lite0", "--music", "musicvae", "--overwrite"],
                            check=True, capture_output=True, text=True)
    print(fitted.stdout.strip())
    variants = {"bridge": ["--bridge-weights", str(bridge)],
                "book": ["--bridge-weights", str(bridge), "--theme-book", str(book)]}
    columns = ["z 1", "z 2", "recur", "same pc", "other pc", "same melody", "other melody"]
    print(f"{'variant':<9}" + "".join(f"{c:>14}" for c in columns))
    for label, extra in variants.items():
        figures: dict[str, list[float]] = {c: [] for c in columns}
        for seed in _seeds(args.seeds):
            music = []
            for index, (video, spans) in enumerate(montages):
                sidecar = _score(video, work / label / f"seed{seed}", seed, extra)
                evaluation = sidecar["evaluation"]
                figures[f"z {index + 1}"].append(evaluation["cut_response"]["effect_z"])
                figures["recur"].append(evaluation["form"]["recurrence_share"])
                music.append(_span_music(work / label / f"seed{seed}" / f"{video.stem}.mid",
                                         sidecar["music"]["tempo_bpm"], spans))
            for name, value in cross_similarity(*music).items():
                figures[name].append(value)
        print(f"{label:<9}" + "".join(f"{_spread(figures[c]):>14}" for c in columns), flush=True)
    print(f"\noutputs in {work}")


if __name__ == "__main__":
    main()
