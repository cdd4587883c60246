"""`score live` into a real MIDI port: a dummy JACK server, a virtual port, a mido listener reading it back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mido
import numpy as np
import pytest

from score_core import hookimpl
from score_core.contracts import EncoderSpec, LatentSpec
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi
from score_core.pipeline import Pipeline, StageChoice
from score_core.registrations import EncoderRegistration
from score_core.registry import load_registry
from score_core.testing import run_score
from score_studio.jack import dummy_jack_server, jack_available
from score_studio.live import LiveEngine, LiveOptions, OnlineWhitening, open_source

PORT = "score-live-test"


@pytest.fixture
def jack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    reason = jack_available()
    if reason:
        pytest.skip(f"no JACK MIDI transport: {reason} (.ci/run installs jackd2)")
    with dummy_jack_server(f"score-test-{os.getpid()}", log=tmp_path / "jackd.log") as environment:
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        yield environment


def test_live_notes_arrive_on_a_virtual_port_and_cuts_are_answered_within_a_beat(jack: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "stage.mp4", duration=6.0, cuts=(3.0,))
    record = tmp_path / "played.mid"
    score = shutil.which("score", path=str(Path(sys.executable).parent)) or "score"
    process = subprocess.Popen(
        [score, "live", str(clip), "--midi-port", PORT, "--virtual-port", "--midi-api", "jack", "--realtime",
         "--vision", "color-stats", "--music", "arpeggio", "--record", str(record), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SCORE_PLUGINS": "example,studio"},
    )
    backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK")
    received: list[mido.Message] = []
    listener = None
    try:
        for _ in range(200):
            names = [n for n in backend.get_input_names() if PORT in n]
            if names:
                listener = backend.open_input(names[0], callback=received.append)
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        assert listener is not None, "the virtual port never appeared"
        out, err = process.communicate(timeout=60)
    finally:
        if listener is not None:
            listener.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    report = json.loads(out)

    ons = [m for m in received if m.type == "note_on" and m.velocity > 0]
    assert len(ons) > 10 and len(ons) <= report["notes_sent"]
    offs = [m for m in received if m.type == "note_off"]
    assert len(offs) >= len(ons) - 1  # every note is released, the last maybe after the listener closed

    [cut] = report["cuts"]
    assert cut["stream_time"] == pytest.approx(3.0, abs=0.3)
    assert cut["steps_after"] <= 4  # answered within one beat (four sixteenths) of the cut frame's arrival
    assert report["latency_count"] > 0 and report["frames_encoded"] > 0

    played = read_midi(record)
    assert len(played.notes) == report["notes_sent"]
    assert {n.pitch for n in played.notes} >= {m.note for m in ons}
    cut_marker = [m.time for m in played.markers if m.text == "cut"]
    assert cut_marker == [pytest.approx(cut["answered"], abs=0.01)]
    assert any(abs(n.start - cut_marker[0]) < 0.01 for n in played.notes)  # a new note sounds at the cut


def test_live_refuses_a_port_that_does_not_exist(jack: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "stage.mp4", duration=1.0)
    done = run_score("live", clip, "--midi-port", "no-such-port", "--midi-api", "jack",
                     env={"SCORE_PLUGINS": "example,studio"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("score: error: --midi-port no-such-port: no such jack")


def test_live_refuses_to_overwrite_a_recording(tmp_path: Path) -> None:
    record = tmp_path / "played.mid"
    record.write_bytes(b"mine")
    done = run_score("live", tmp_path / "x.mp4", "--midi-port", "p", "--record", record,
                     env={"SCORE_PLUGINS": "example,studio"})
    assert done.returncode == 2 and "already exists; pass --overwrite" in done.stderr
    assert record.read_bytes() == b"mine"


class _SlowEncoder:
    """Stands in for an encoder slower than the picture (a big model on a small machine)."""

    spec = EncoderSpec(name="slow", feature_size=4, input_size=(16, 16), resize="stretch", batch_size=1)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        time.sleep(0.4)
        return frames.reshape(len(frames), -1, 3).mean(axis=1).repeat(2, axis=1)[:, :4].astype(np.float32)

    def provenance(self) -> dict[str, Any]:
        return {}


def test_frames_are_dropped_not_queued_when_the_encoder_is_slower(tmp_path: Path) -> None:
    plugin = SimpleNamespace(register_encoders=hookimpl(lambda register: register(EncoderRegistration(
        name="slow", description="sleeps", spec=_SlowEncoder.spec, factory=lambda weights: _SlowEncoder(),
        default_fps=8.0))))
    registry = load_registry(pinned="example", extra_plugins=[("slow-plugin", plugin)])
    clip = write_test_video(tmp_path / "fast.mp4", duration=3.0, cuts=(1.5,))
    sent: list[mido.Message] = []
    engine = LiveEngine(Pipeline(registry, StageChoice(vision="slow", music="arpeggio")),
                        LiveOptions(realtime=True), sent.append)
    report = engine.run(open_source(str(clip)))
    assert report.frames_sampled == pytest.approx(24, abs=2)  # 8 a second were offered ...
    assert report.frames_dropped > report.frames_encoded  # ... most were dropped for newer ones ...
    assert report.frames_encoded + report.frames_dropped in (report.frames_sampled, report.frames_sampled - 1)
    assert any(m.type == "note_on" for m in sent)  # ... and the music still played


def test_online_whitening_gives_finite_latents_of_about_unit_spread() -> None:
    spec = LatentSpec(size=8, bars_per_segment=2)
    whitening = OnlineWhitening(feature_size=17, spec=spec, seed=0)
    rng = np.random.default_rng(1)
    scales = rng.uniform(0.01, 100.0, 17)  # features on wildly different scales
    latents = np.array([whitening(rng.standard_normal(17) * scales + 5.0) for _ in range(400)])
    assert np.isfinite(latents).all() and np.all(latents[0] == 0.0)
    spread = latents[100:].std(axis=0)
    assert np.all((spread > 0.5) & (spread < 1.6)), spread
