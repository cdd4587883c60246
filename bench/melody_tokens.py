"""Melody windows of a music corpus as text, one 2-bar window per line, for `score text train`.

    .venv/bin/python bench/melody_tokens.py --cache CACHE --out DIR [--prior-samples N --temperature T]

Writes DIR/train.txt, valid.txt and test.txt from the window cache of `score music build-corpus`, each window
moved to C major / A minor as MusicVAE's codec moves it (`score_music.keynorm`), so a text model's test NLL per
line sits beside `score music evaluate --cache CACHE --split test` (nats per 2-bar window). One token per
16th-note step: ``hold`` (no event), ``off`` (note-off) or ``p<MIDI pitch>`` (note-on), e.g. ``p60 hold off``.
With ``--prior-samples N`` it also writes DIR/prior-tT.txt: N windows the shipped MusicVAE samples from its prior
(z ~ N(0, I), decoded at temperature T, in C major / A minor), so a melody LM can score them beside the test
windows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def step_token(event: int) -> str:
    from score_music.melody import FIRST_NOTE_ON, MIN_PITCH, NO_EVENT, NOTE_OFF

    if event == NO_EVENT:
        return "hold"
    if event == NOTE_OFF:
        return "off"
    return f"p{event - FIRST_NOTE_ON + MIN_PITCH}"


def window_lines(windows: np.ndarray) -> list[str]:
    """One line of space-separated step tokens per window."""
    return [" ".join(step_token(int(event)) for event in window) for window in windows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True, help="window cache of `score music build-corpus`")
    parser.add_argument("--out", type=Path, required=True, help="folder for train.txt, valid.txt, test.txt")
    parser.add_argument("--raw-keys", action="store_true", help="keep each window in its own key")
    parser.add_argument("--prior-samples", type=int, default=0, help="also sample N windows from MusicVAE's prior")
    parser.add_argument("--temperature", type=float, default=1.0, help="decoding temperature of the prior samples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from score_music.corpus import load_windows
    from score_music.keynorm import normalise_windows

    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        windows = load_windows(args.cache, split)
        if not args.raw_keys:
            windows = normalise_windows(windows)[0]
        lines = window_lines(windows)
        (args.out / f"{split}.txt").write_text("\n".join(lines) + "\n")
        print(f"{split}: {len(lines)} windows → {args.out / f'{split}.txt'}")
    if args.prior_samples:
        write_prior_samples(args.out / f"prior-t{args.temperature:g}.txt", args.prior_samples, args.temperature,
                            args.seed)


def write_prior_samples(path: Path, count: int, temperature: float, seed: int) -> None:
    import torch

    from score_music.loading import load_decoder

    decoder = load_decoder(None)
    z = torch.randn(count, decoder.latent_spec.size, generator=torch.Generator().manual_seed(seed)).numpy()
    events = decoder.segment_events(z, temperature=temperature, seed=seed)
    path.write_text("\n".join(window_lines(events)) + "\n")
    print(f"prior samples: {count} windows at temperature {temperature:g} → {path}")


if __name__ == "__main__":
    main()
