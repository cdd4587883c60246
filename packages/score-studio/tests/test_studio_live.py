"""`score live` into a real MIDI port: a dummy JACK server, a virtual port, a mido listener reading it back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mido
import pytest

from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi
from score_core.testing import run_score
from score_studio.jack import dummy_jack_server, jack_available

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
