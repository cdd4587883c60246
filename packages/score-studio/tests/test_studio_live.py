"""`score live` into a real MIDI port: a dummy JACK server, a virtual port, a mido listener reading it back."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mido
import numpy as np
import pytest

from score_core import hookimpl
from score_core.contracts import EncoderSpec, LatentSpec, Note, Score
from score_core.errors import PluginError, ScoreError
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi, score_to_midi_bytes
from score_core.pipeline import Pipeline, StageChoice
from score_core.registrations import EncoderRegistration
from score_core.registry import load_registry
from score_core.testing import run_score
from score_studio.jack import dummy_jack_server, jack_available
from score_studio.live import LiveEngine, LiveOptions, OnlineWhitening, open_source, paces_itself
from score_studio.live_voices import Voices

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


# ---------------------------------------------------------------------------------------- channels and note-offs

LISTENER = "score-live-listener"


@contextlib.contextmanager
def _listener(name: str = LISTENER) -> Iterator[list[mido.Message]]:
    """A virtual JACK MIDI input, open before `score live` starts, so it hears every message from the first."""
    backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK")
    received: list[mido.Message] = []
    port = backend.open_input(name, virtual=True, callback=received.append)
    try:
        yield received
    finally:
        time.sleep(0.2)  # what the last process cycle carried
        port.close()


def _live(clip: Path, *options: str) -> subprocess.Popen[str]:
    score = shutil.which("score", path=str(Path(sys.executable).parent)) or "score"
    return subprocess.Popen(
        [score, "live", str(clip), "--midi-port", LISTENER, "--midi-api", "jack", "--vision", "color-stats",
         "--json", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SCORE_PLUGINS": "example,studio,music"},
    )


def _unreleased(messages: list[mido.Message]) -> list[tuple[int, int]]:
    """(channel, pitch) of every note_on that no later note_off (or note_on at velocity 0) released."""
    sounding: dict[tuple[int, int], int] = {}
    for message in messages:
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.channel, message.note] = sounding.get((message.channel, message.note), 0) + 1
        elif message.type in ("note_on", "note_off") and sounding.get((message.channel, message.note)):
            sounding[message.channel, message.note] -= 1
    return sorted(key for key, count in sounding.items() for _ in range(count))


def _controls(messages: list[mido.Message], control: int) -> set[int]:
    return {m.channel for m in messages if m.type == "control_change" and m.control == control}


def test_band_parts_play_on_their_own_channels_drums_on_ten_as_the_recording_has_them(
        jack: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "stage.mp4", duration=4.0, cuts=(2.0,))
    record = tmp_path / "played.mid"
    with _listener() as received:
        process = _live(clip, "--music", "band", "--record", str(record))  # a file, without --realtime
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    report = json.loads(out)

    ons = [m for m in received if m.type == "note_on" and m.velocity > 0]
    assert len(ons) > 20 and report["paced"]  # the file was paced to the clock, not decoded in one go
    assert report["channels"] == {"bass": 1, "drums": 10, "melody": 2}  # musicians' numbering
    by_channel = {m.channel for m in ons}
    assert 9 in by_channel and len(by_channel) == 3  # drums on mido's channel 9, two other distinct ones
    assert all(m.note >= 27 for m in ons if m.channel == 9)  # General MIDI percussion keys
    programs = {m.channel: m.program for m in received if m.type == "program_change"}
    assert programs == {0: 33, 1: 0, 9: 0}  # bass is an electric bass, melody a piano
    first_note = next(i for i, m in enumerate(received) if m.type == "note_on")
    assert all(m.type == "program_change" for m in received[:first_note])  # programs before any note
    assert _unreleased(received) == [] and _controls(received, 123) == {0, 1, 9}
    assert _controls(received, 120) == set()  # a normal end needs no All Sound Off

    tracks = {}  # the recording's channel per part: the MIDI file writer's assignment agrees with live
    for track in mido.MidiFile(record).tracks[1:]:
        name = next(m.name for m in track if m.type == "track_name")
        tracks[name] = next(m.channel for m in track if m.type == "program_change") + 1
    assert tracks == report["channels"]


def test_ctrl_c_releases_every_sounding_note_and_sends_all_notes_off(jack: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "long.mp4", duration=60.0)  # long: a busy CI machine connects late
    with _listener() as received:
        process = _live(clip, "--music", "arpeggio")
        try:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and process.poll() is None:
                messages = list(received)
                if sum(m.type == "note_on" for m in messages) >= 4 and _unreleased(messages):
                    break
                time.sleep(0.005)
            assert _unreleased(list(received)), "no note was sounding to interrupt"
            process.send_signal(signal.SIGINT)  # while a note sounds
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert json.loads(out)["steps"] < 400  # stopped long before the 60 s clip's end (480 sixteenths)
    assert _unreleased(received) == []
    used = {m.channel for m in received if m.type == "note_on"}
    assert used and _controls(received, 123) >= used and _controls(received, 120) >= used
    assert received[-1].type == "control_change"  # nothing plays after the all-notes-off


class _FailingEncoder(_SlowEncoder):
    """An encoder that breaks after a few frames, while notes are sounding."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls > 6:
            raise RuntimeError("the encoder's GPU went away")
        time.sleep(0.1)
        return frames.reshape(len(frames), -1, 3).mean(axis=1).repeat(2, axis=1)[:, :4].astype(np.float32)


def test_an_encoder_error_stops_the_music_without_a_hanging_note(tmp_path: Path) -> None:
    plugin = SimpleNamespace(register_encoders=hookimpl(lambda register: register(EncoderRegistration(
        name="failing", description="breaks", spec=_SlowEncoder.spec, factory=lambda weights: _FailingEncoder(),
        default_fps=8.0))))
    registry = load_registry(pinned="example", extra_plugins=[("failing-plugin", plugin)])
    clip = write_test_video(tmp_path / "clip.mp4", duration=4.0)
    sent: list[mido.Message] = []
    engine = LiveEngine(Pipeline(registry, StageChoice(vision="failing", music="arpeggio")), LiveOptions(),
                        sent.append)
    with pytest.raises(PluginError, match="GPU went away"):
        engine.run(open_source(str(clip)))
    ons = [m for m in sent if m.type == "note_on"]
    assert ons and _unreleased(sent) == []
    used = {m.channel for m in ons}
    assert _controls(sent, 123) >= used and _controls(sent, 120) >= used


def test_a_port_error_is_reported_and_the_notes_are_still_released(tmp_path: Path, light_registry: Any) -> None:
    clip = write_test_video(tmp_path / "clip.mp4", duration=4.0)
    sent: list[mido.Message] = []
    failures = []

    def send(message: mido.Message) -> None:  # the port fails once, mid-performance (a JACK xrun, a replug)
        if message.type == "note_on" and len(sent) > 12 and not failures:
            failures.append(message)
            raise OSError("MIDI port went away")
        sent.append(message)

    engine = LiveEngine(Pipeline(light_registry, StageChoice(vision="color-stats", music="arpeggio")),
                        LiveOptions(), send)
    with pytest.raises(ScoreError, match=r"MIDI port.*went away"):
        engine.run(open_source(str(clip)))
    assert failures and _unreleased(sent) == [] and _controls(sent, 123) >= {m.channel for m in sent
                                                                             if m.type == "note_on"}


def test_a_file_without_realtime_is_paced_and_plays_all_along(clip: Path, light_registry: Any) -> None:
    sent: list[mido.Message] = []
    engine = LiveEngine(Pipeline(light_registry, StageChoice(vision="color-stats", music="arpeggio")),
                        LiveOptions(realtime=False), sent.append)
    started = time.monotonic()
    report = engine.run(open_source(str(clip)))
    assert report.paced and time.monotonic() - started > 4.0  # the 4.5 s clip took its own time ...
    assert report.notes_sent > 20 and report.frames_encoded > 12  # ... and was scored all along
    assert len(report.cuts) == 1


def test_only_files_are_paced(clip: Path) -> None:
    import av

    assert not paces_itself(open_source(str(clip)))
    assert paces_itself(SimpleNamespace(format=av.ContainerFormat("v4l2", "r"), name="/dev/video0"))
    assert paces_itself(SimpleNamespace(format=av.ContainerFormat("flv", "r"), name="rtmp://host/live/key"))
    assert not paces_itself(SimpleNamespace(format=av.ContainerFormat("mov", "r"), name="https://host/clip.mp4"))


def test_live_channels_are_the_midi_file_writers_and_a_retriggered_pitch_is_released_first() -> None:
    voices_played = [("zeta", 5, False), ("alpha", 40, False), ("", 0, False), ("drums", 0, True), ("alpha", 41, False)]
    notes = [Note(pitch=60 + i, velocity=90, start=0.0, end=1.0, part=part, program=program, is_drum=is_drum)
             for i, (part, program, is_drum) in enumerate(voices_played)]
    written = mido.MidiFile(file=io.BytesIO(score_to_midi_bytes(Score(notes=tuple(notes), tempo_bpm=120.0,
                                                                         duration=1.0))))
    writer = {}
    for track in written.tracks[1:]:
        [on] = [m for m in track if m.type == "note_on"]
        writer[on.note] = on.channel

    sent: list[mido.Message] = []
    voices = Voices(sent.append)
    voices.prepare(voices_played)
    assert {60 + i: voices.note_on(voice, 60 + i, 90, 0, 4) for i, voice in enumerate(voices_played)} == writer
    assert sorted(m.channel for m in sent if m.type == "program_change") == sorted(set(writer.values()))

    sent.clear()
    voices.note_on(voices_played[0], 60, 100, 0, 8)  # the same onset again: one note, the longer
    voices.note_on(voices_played[0], 60, 100, 2, 6)  # a new onset of a sounding pitch: released, then played
    voices.release_due(6)
    assert [(m.type, m.note) for m in sent] == [("note_off", 60), ("note_on", 60)] + [
        ("note_off", n) for n in sorted(range(60, 65), key=lambda n: (writer[n], n))]
    voices.silence(abort=False)
    assert _unreleased(sent) == [] and len(_controls(sent, 123)) == len(set(writer.values()))
