"""Latency of `score live`: from a frame's arrival to the first note it causes, against one beat and the encoder.

Plays a video in real time into a virtual MIDI port on a dummy JACK server (started here when `jackd` is
installed; otherwise notes go to a list and port transit is not measured), with a mido listener on the port.
Prints, per encoder/decoder pair: frame→note latency (median, max) and its ratio to one beat; the encoder's own
time per frame measured in the same run (the baseline: latency cannot be below it); port transit; frames
encoded and dropped; how many sixteenths after the cut frame the cut was answered. Usage:

    python bench/live.py [VIDEO] [--pair color-stats:arpeggio] [--pair efficientnet-lite0:musicvae] [--tempo 120]

Without VIDEO a 12 s synthetic clip with cuts at 4 s and 8 s is written (320x180, 25 fps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any


def _encoder_ms(pipeline: Any, video: str) -> float:
    """Median milliseconds the encoder takes for one frame, alone (the same one-frame batches as live)."""
    from score_core.media import FrameReader

    encoder = pipeline._encoder
    spec = encoder.spec
    times: list[float] = []
    for batch in FrameReader(video, fps=pipeline.default_fps(), size=spec.input_size, resize=spec.resize,
                             batch_size=1, max_duration=8.0):
        started = time.perf_counter()
        encoder.encode(batch.frames)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times[2:] or times)  # the first calls warm the model up


def _transit(sent: list[tuple[float, int]], received: list[tuple[float, int]]) -> list[float]:
    """Send-to-arrival time of each received note-on, matched in order by pitch (a lost note is skipped)."""
    delays, cursor = [], 0
    for arrived, note in received:
        while cursor < len(sent) and sent[cursor][1] != note:
            cursor += 1
        if cursor == len(sent):
            break
        delays.append(arrived - sent[cursor][0])
        cursor += 1
    return delays


def _measure(video: str, vision: str, music: str, tempo: float, port: Any,
             received: list[tuple[float, int]]) -> dict[str, Any]:
    from score_core.pipeline import Pipeline, StageChoice
    from score_core.registry import load_registry
    from score_studio.live import LiveEngine, LiveOptions, open_source

    pipeline = Pipeline(load_registry(), StageChoice(vision=vision, music=music))
    pipeline.build_models()
    baseline_ms = _encoder_ms(pipeline, video)
    sent: list[tuple[float, int]] = []

    def send(message: Any) -> None:
        if message.type == "note_on":
            sent.append((time.monotonic(), message.note))
        if port is not None:
            port.send(message)

    received.clear()
    engine = LiveEngine(pipeline, LiveOptions(tempo_bpm=tempo, realtime=True), send)
    summary = engine.run(open_source(video)).summary()
    time.sleep(0.2)
    transit = _transit(sent, received) if port is not None else []
    return {**summary, "encoder_ms": baseline_ms, "transit_ms": 1000 * statistics.median(transit) if transit else None,
            "received": len(received)}


def _print(pair: str, result: dict[str, Any]) -> None:
    beat = result["beat_seconds"]
    median, worst = result["latency_median"], result["latency_max"]
    print(f"\n{pair}")
    if median is None:
        print("  no note was played")
        return
    print(f"  latency frame→note   median {median * 1000:7.1f} ms   max {worst * 1000:7.1f} ms   "
          f"(one beat {beat * 1000:.0f} ms: median/beat {median / beat:.2f}, max/beat {worst / beat:.2f})")
    print(f"  encoder alone        {result['encoder_ms']:7.1f} ms/frame   latency/encoder "
          f"{median * 1000 / max(result['encoder_ms'], 1e-3):.1f}x")
    transit = result["transit_ms"]
    print(f"  port transit (JACK)  {'-' if transit is None else f'{transit:.2f} ms'}   "
          f"notes sent {result['notes_sent']}, received {result['received']}")
    print(f"  frames               decoded {result['frames_decoded']}, sampled {result['frames_sampled']}, "
          f"encoded {result['frames_encoded']}, dropped {result['frames_dropped']}; late steps "
          f"{result['late_steps']}/{result['steps']}")
    for cut in result["cuts"]:
        print(f"  cut at {cut['stream_time']:.2f} s answered {cut['steps_after']:.2f} sixteenths after its frame "
              f"arrived ({(cut['answered'] - cut['arrived']) * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?")
    parser.add_argument("--pair", action="append", help="ENCODER:DECODER (repeatable)")
    parser.add_argument("--tempo", type=float, default=120.0)
    args = parser.parse_args()
    pairs = args.pair or ["color-stats:arpeggio", "efficientnet-lite0:musicvae"]
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        video = args.video
        if video is None:
            from score_core.media.synthetic import write_test_video

            video = str(write_test_video(folder / "bench.mp4", duration=12.0, cuts=(4.0, 8.0), size=(180, 320)))
        port, received = _open_port(stack)
        print(f"score live latency on {video} at {args.tempo:g} bpm, MIDI "
              f"{'through a virtual JACK port' if port is not None else 'to a list (no jackd here)'}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for pair in pairs:
            vision, music = pair.split(":")
            _print(pair, _measure(video, vision, music, args.tempo, port, received))


def _open_port(stack: ExitStack) -> tuple[Any, list[tuple[float, int]]]:
    """A virtual port on a dummy JACK server and a listener that notes when each note-on arrives."""
    from score_studio.jack import dummy_jack_server, jack_available

    received: list[tuple[float, int]] = []
    if jack_available():
        return None, received
    import mido

    from score_studio.live import open_port

    os.environ.update(stack.enter_context(dummy_jack_server(f"score-bench-{os.getpid()}")))
    port = stack.enter_context(open_port("score-bench", virtual=True, api="jack"))
    backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK")
    name = next(n for n in backend.get_input_names() if "score-bench" in n)

    def arrived(message: Any) -> None:
        if message.type == "note_on":
            received.append((time.monotonic(), message.note))

    stack.enter_context(backend.open_input(name, callback=arrived))
    return port, received


if __name__ == "__main__":
    main()
