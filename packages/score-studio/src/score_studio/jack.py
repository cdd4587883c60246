"""A JACK server with the dummy driver: a real MIDI transport on machines without a sound card or ALSA sequencer.

`score live --midi-api jack` and a DAW (or `mido` with rtmidi's JACK API) meet on it. Start one with
``jackd --no-realtime -n NAME -d dummy`` and set ``JACK_DEFAULT_SERVER=NAME`` for every client.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from score_core.errors import ScoreError


def jack_available() -> str | None:
    """Why a dummy JACK server cannot be used here, or None when it can."""
    if shutil.which("jackd") is None:
        return "jackd is not installed (apt-get install jackd2)"
    try:
        import rtmidi
    except ImportError as error:
        return f"python-rtmidi cannot load ({error})"
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return "this python-rtmidi was built without JACK"
    return None


@contextlib.contextmanager
def dummy_jack_server(name: str, log: Path | None = None) -> Iterator[dict[str, str]]:
    """Run ``jackd`` with the dummy driver under ``name``; yields the environment its clients need."""
    reason = jack_available()
    if reason:
        raise ScoreError("jack", reason)
    environment = {"JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}
    sink = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "1024"],
        stdout=sink, stderr=sink, env={**os.environ, **environment},
    )
    try:
        _wait_until_up(process, environment)
        yield environment
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            sink.close()  # type: ignore[union-attr]


def _wait_until_up(process: subprocess.Popen[bytes], environment: dict[str, str]) -> None:
    previous = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        import rtmidi

        for _ in range(100):
            if process.poll() is not None:
                raise ScoreError("jackd", f"exited with status {process.returncode}")
            try:
                probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="score-probe")
                probe.get_port_count()
                probe.delete()
                return
            except rtmidi.SystemError:
                time.sleep(0.1)
        raise ScoreError("jackd", "did not come up within 10 s")
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
