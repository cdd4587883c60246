"""The stream decoder (one latent per beat) side by side with the shipped 2-bar MusicVAE.

Prints, for held-out windows of the corpus cache: reconstruction step accuracy (teacher-forced and free-running,
z = posterior mean); response to a latent jump (total variation between the next-event distributions with and
without the jump, both reading the same true events; lag = steps after the jump until TV reaches the
threshold); musicality of prior samples (8 bars, temperature 1) next to human melodies of the test split; and
decoding speed as a ratio to the 2-bar model. Usage:

    python bench/stream.py [--cache DIR] [--stream-weights PATH] [--windows N] [--samples N] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from score_music.corpus import default_cache_dir, load_windows
from score_music.loading import load_decoder
from score_music.stream.metrics import flat_probabilities, jump_tv, musicality, response_lag, stream_probabilities
from score_music.stream.shipped import stream_weights_path
from score_music.stream.train import evaluate_stream
from score_music.stream.weights import load_stream_weights
from score_music.train import evaluate

JUMP_STEP = 16
"""The jump happens at the start of the second bar of a 2-bar window."""
THRESHOLDS = (0.25, 0.5)
SAMPLE_BARS = 8


def _response(stream, flat, windows: np.ndarray) -> dict[str, object]:
    events = torch.as_tensor(windows, dtype=torch.long)
    with torch.no_grad():
        stream_mu = stream.encode(events)[0].numpy()
        flat_mu = flat.encode(events)[0].numpy()
    other = np.roll(np.arange(len(windows)), 1)  # each window jumps to the latents of another window
    per_beat = stream.config.steps_per_latent
    curves = {
        "stream (per-beat z)": jump_tv(stream_probabilities(stream), windows, stream_mu, stream_mu[other],
                                       JUMP_STEP // per_beat),
        "2-bar, z swapped per step": jump_tv(flat_probabilities(flat), windows,
                                             np.repeat(flat_mu[:, None], windows.shape[1], axis=1),
                                             np.repeat(flat_mu[other][:, None], windows.shape[1], axis=1), JUMP_STEP),
    }
    figures: dict[str, object] = {}
    for name, tv in curves.items():
        figures[name] = {
            "tv_before_jump_max": float(tv[:, :JUMP_STEP].max()),
            "tv_first_steps": [round(v, 3) for v in tv[:, JUMP_STEP:JUMP_STEP + 8].mean(axis=0).tolist()],
            **{f"lag@{t}": dataclasses.asdict(response_lag(tv, JUMP_STEP, t)) for t in THRESHOLDS},
        }
        for t in THRESHOLDS:
            figures[name][f"lag@{t}"].pop("tv_by_step")  # type: ignore[index]
    seg = windows.shape[1]
    figures["2-bar, z per segment (pipeline)"] = {
        "note": f"a change waits for the next segment start: {seg / 2 - 0.5:.1f} steps on average for a jump at "
                f"a uniformly random step of a {seg}-step segment, then the new z sets the state",
    }
    return figures


def _samples(stream, flat_decoder, count: int, seed: int) -> dict[str, np.ndarray]:
    generator = torch.Generator().manual_seed(seed)
    beats = SAMPLE_BARS * 4
    stream_events = stream.sample(count, beats, generator, temperature=1.0).numpy()
    segments = SAMPLE_BARS // flat_decoder.latent_spec.bars_per_segment
    flat_rows = []
    for index in range(count):
        z = torch.randn(segments, flat_decoder.latent_spec.size, generator=generator).numpy()
        flat_rows.append(flat_decoder.segment_events(z, temperature=1.0, seed=seed + index).reshape(-1))
    return {"stream": stream_events, "2-bar": np.stack(flat_rows)}


def _speed(stream, flat_decoder, seed: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(32, 8 * SAMPLE_BARS // 2, stream.config.z_size, generator=generator)
    started = time.perf_counter()
    stream.decode(z, temperature=1.0, generator=generator)
    stream_s = time.perf_counter() - started
    flat_z = torch.randn(32, flat_decoder.latent_spec.size, generator=generator)
    started = time.perf_counter()
    flat_decoder.model.decode(flat_z, steps=z.shape[1] * 4, temperature=1.0, generator=generator)
    flat_s = time.perf_counter() - started
    music_s = 32 * z.shape[1] * 0.5  # beats at 120 bpm
    return {"stream_music_s_per_s": music_s / stream_s, "two_bar_music_s_per_s": music_s / flat_s,
            "ratio_stream_to_two_bar": flat_s / stream_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--stream-weights", type=Path, default=None)
    parser.add_argument("--windows", type=int, default=None, help="test windows for reconstruction (default all)")
    parser.add_argument("--response-windows", type=int, default=512)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache or default_cache_dir()
    stream = load_stream_weights(args.stream_weights or stream_weights_path())
    flat_decoder = load_decoder(None)
    flat = flat_decoder.model
    test = load_windows(cache, "test").astype(np.int64)
    test = test[: args.windows] if args.windows else test
    human = load_windows(cache, "test", bars=16)[:, : SAMPLE_BARS * 16].astype(np.int64)
    report: dict[str, object] = {"test_windows": len(test)}
    s, f = evaluate_stream(stream, test), evaluate(flat, test)
    report["reconstruction"] = {
        "stream": {"accuracy": s.accuracy, "free_running_accuracy": s.sampled_accuracy, "kl": s.kl, "loss": s.loss},
        "2-bar": {"accuracy": f.accuracy, "free_running_accuracy": f.sampled_accuracy, "kl": f.kl, "loss": f.loss},
    }
    shuffled = np.random.default_rng(args.seed).permutation(len(test))[: args.response_windows]
    report["response"] = _response(stream, flat, test[np.sort(shuffled)])
    samples = _samples(stream, flat_decoder, args.samples, args.seed)
    report["musicality"] = {
        "stream prior samples": dataclasses.asdict(musicality(samples["stream"])),
        "2-bar prior samples": dataclasses.asdict(musicality(samples["2-bar"])),
        "human (test split)": dataclasses.asdict(musicality(human[: args.samples * 4])),
    }
    report["speed"] = _speed(stream, flat_decoder, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for section, rows in report.items():
        print(f"== {section}")
        if isinstance(rows, dict):
            for name, value in rows.items():
                print(f"  {name}: {json.dumps(value)}")
        else:
            print(f"  {rows}")


if __name__ == "__main__":
    main()
