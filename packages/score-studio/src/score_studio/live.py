"""`score live`: frames from a camera, stream or file become MIDI notes on a port as they arrive.

Three threads: a capture thread decodes the source and keeps only the newest sampled frame, so a slow encoder
makes frames drop, never queue (a file is paced to the clock, as if it were a camera, unless
``as_fast_as_possible``; a camera or live stream paces itself); an encoder thread
turns the newest frame into a latent; the scheduler plays on a sixteenth-note grid at the running tempo.
The encoder thread also decodes each latent into a two-bar phrase; at the next sixteenth the newest phrase
takes over from the same position (continuity within a shot); a cut restarts the phrase from its start at the
next sixteenth, with the new shot's first note at once.

Each part plays on its own MIDI channel, drums on channel 10, as the MIDI file writer assigns them, after a
program_change per part; whatever ends the run (the source's end, Ctrl-C, an error) every sounding note gets its
note_off and every channel used an All Notes Off (`score_studio.live_voices`).
"""

from __future__ import annotations

import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from score_core.contracts import FeatureTrack, LatentSpec, LatentTrack, Marker, Note, Score
from score_core.errors import PluginError, ScoreError
from score_core.pipeline import Pipeline
from score_core.protocols import MusicDecoder, VisionEncoder
from score_studio.live_voices import Voice, Voices

CUT_FLOOR = 0.08
CUT_RATIO = 3.0
_RECENT = 25


@dataclass(frozen=True)
class LiveOptions:
    """How to play: tempo, sampling, randomness, and how the source is read.

    A file is read at its own speed (paced to its frames' timestamps), as a camera would deliver it, unless
    ``as_fast_as_possible``; ``realtime`` paces any source, even one that looks live (a device or a stream).
    """

    tempo_bpm: float = 120.0
    temperature: float = 1.0
    seed: int = 0
    fps: float | None = None
    realtime: bool = False
    as_fast_as_possible: bool = False
    max_seconds: float | None = None
    velocity_scale: float = 1.0


@dataclass
class _Frame:
    rgb: np.ndarray
    stream_time: float
    arrived: float
    cut: bool


Phrase = list[tuple[int, int, int, int, Voice]]
"""(step, pitch, velocity, length in steps, voice) of each note of a decoded phrase, sorted by step."""


@dataclass
class _Latent:
    phrase: Phrase
    arrived: float
    stream_time: float
    cut: bool
    serial: int


@dataclass
class LiveReport:
    """What one live run did: frames seen, encoded and dropped, notes sent, cuts and latencies (seconds)."""

    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_encoded: int = 0
    frames_dropped: int = 0
    notes_sent: int = 0
    paced: bool = False
    channels: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    late_steps: int = 0
    beat_seconds: float = 0.5
    latencies: list[float] = field(default_factory=list)
    cuts: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        latency = sorted(self.latencies)
        return {
            "frames_decoded": self.frames_decoded,
            "frames_sampled": self.frames_sampled,
            "frames_encoded": self.frames_encoded,
            "frames_dropped": self.frames_dropped,
            "notes_sent": self.notes_sent,
            "paced": self.paced,
            "channels": self.channels,
            "steps": self.steps,
            "late_steps": self.late_steps,
            "beat_seconds": self.beat_seconds,
            "latency_median": statistics.median(latency) if latency else None,
            "latency_max": latency[-1] if latency else None,
            "latency_count": len(latency),
            "cuts": self.cuts,
        }


class OnlineWhitening:
    """Features to latents without seeing the whole video: running standardisation, then a fixed projection.

    Each feature is standardised by its running mean and variance (Welford), and a seeded random orthonormal
    map takes the D standardised features to the decoder's Z dimensions, so latents have about unit variance.
    """

    def __init__(self, feature_size: int, spec: LatentSpec, seed: int = 0) -> None:
        self.spec = spec
        rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(rng.standard_normal((max(feature_size, spec.size), spec.size)))
        self.projection = basis[:feature_size] * np.sqrt(max(feature_size, spec.size) / feature_size)
        self.count = 0
        self.mean = np.zeros(feature_size)
        self.m2 = np.zeros(feature_size)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)
        std = np.sqrt(self.m2 / max(self.count - 1, 1))
        standard = np.divide(x - self.mean, std, out=np.zeros_like(x), where=std > 1e-9)
        latent = np.zeros(self.spec.size)
        latent[list(self.spec.ordered_dimensions())] = np.clip(standard @ self.projection, -3.0, 3.0)
        return latent.astype(np.float32)


def open_source(source: str) -> Any:
    """Open a camera index (``0`` = /dev/video0), a stream URL or a file with PyAV."""
    import av

    try:
        if source.isdigit():
            return av.open(f"/dev/video{source}", format="v4l2")
        return av.open(source, timeout=10.0)
    except (OSError, av.FFmpegError) as error:
        raise ScoreError(source, f"cannot open as a video source ({error})") from None


_LIVE_SCHEMES = frozenset({"rtmp", "rtmps", "rtmpt", "rtp", "rtsp", "srt", "udp", "tcp", "rist", "zmq"})


def paces_itself(container: Any) -> bool:
    """Whether frames of this source come at their own speed: a capture device or a live network stream.

    Devices (and RTSP) are demuxers without a file; RTMP, SRT, UDP and the like are live by their protocol.
    A file, or an HTTP URL (a file or a playlist), is decoded as fast as the CPU allows, so it must be paced.
    """
    format_ = getattr(container, "format", None)
    if format_ is not None and getattr(format_, "no_file", False) and format_.name != "lavfi":
        return True
    return urllib.parse.urlsplit(str(getattr(container, "name", ""))).scheme.lower() in _LIVE_SCHEMES


class _Capture(threading.Thread):
    """Decodes the source and keeps the newest sampled frame (and whether a cut came since the last take)."""

    def __init__(self, container: Any, size: tuple[int, int], fps: float, options: LiveOptions,
                 report: LiveReport, stop: threading.Event, paced: bool) -> None:
        super().__init__(name="live-capture", daemon=True)
        self.container, self.size, self.interval = container, size, 1.0 / fps
        self.options, self.report, self.stop, self.paced = options, report, stop, paced
        self.ready = threading.Condition()
        self.latest: _Frame | None = None
        self.finished = False
        self.error: BaseException | None = None

    def take(self, timeout: float) -> _Frame | None:
        with self.ready:
            if self.latest is None and not self.finished:
                self.ready.wait(timeout)
            frame, self.latest = self.latest, None
            return frame

    def run(self) -> None:
        from score_core.media.change import ThumbnailDiffer

        differ = ThumbnailDiffer()
        recent: list[float] = []
        next_sample = 0.0
        started = time.monotonic()
        first: float | None = None
        pending_cut = False
        try:
            stream = self.container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in self.container.decode(stream):
                if self.stop.is_set():
                    break
                t = float(frame.time or 0.0)
                first = t if first is None else first
                t -= first
                if self.options.max_seconds is not None and t > self.options.max_seconds:
                    break
                if self.paced:
                    wait = started + t - time.monotonic()
                    if wait > 0:
                        self.stop.wait(wait)
                self.report.frames_decoded += 1
                change = differ(frame)
                cut = len(recent) >= 3 and change > max(CUT_FLOOR, CUT_RATIO * statistics.median(recent))
                recent = [*recent[-(_RECENT - 1):], change]
                pending_cut = pending_cut or cut
                if t + 1e-6 < next_sample and not cut:
                    continue
                next_sample = max(next_sample + self.interval, t + self.interval / 2)
                self._offer(_Frame(self._rgb(frame), t, time.monotonic(), pending_cut))
                pending_cut = False
        except BaseException as error:  # reported by the engine, which stops
            self.error = error
        finally:
            with self.ready:
                self.finished = True
                self.ready.notify_all()

    def _offer(self, frame: _Frame) -> None:
        self.report.frames_sampled += 1
        with self.ready:
            if self.latest is not None:
                self.report.frames_dropped += 1
                frame.cut = frame.cut or self.latest.cut
            self.latest = frame
            self.ready.notify_all()

    def _rgb(self, frame: Any) -> np.ndarray:
        height, width = self.size
        return frame.reformat(width=width, height=height, format="rgb24").to_ndarray()


class LiveEngine:
    """Plays a source into ``send`` (a callable taking mido messages) until the source ends or ``stop``.

    Each part goes to its own channel (``self.voices.channels``); when ``run`` returns or raises, nothing sounds.
    """

    def __init__(self, pipeline: Pipeline, options: LiveOptions, send: Callable[[Any], None],
                 bridge: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        pipeline.build_models()
        self.pipeline = pipeline
        self.options = options
        self.send = send
        self.encoder: VisionEncoder = pipeline._encoder  # type: ignore[assignment]
        self.decoder: MusicDecoder = pipeline._decoder  # type: ignore[assignment]
        self.spec = self.decoder.latent_spec
        self.bridge = bridge or _bridge_for(pipeline, self.spec, options.seed)
        self.step_seconds = 60.0 / options.tempo_bpm / 4 * (16 / self.spec.steps_per_bar) * (
            self.spec.beats_per_bar / 4)
        self.phrase_steps = self.spec.steps_per_bar * self.spec.bars_per_segment
        self.report = LiveReport(beat_seconds=60.0 / options.tempo_bpm)
        self.stop = threading.Event()
        self.played: list[Note] = []
        self.markers: list[Marker] = []
        self._latest: _Latent | None = None
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self.voices = Voices(self._send)

    def _send(self, message: Any) -> None:
        try:
            self.send(message)
        except ScoreError:
            raise
        except Exception as error:  # rtmidi reports a vanished JACK server or ALSA client this way
            raise ScoreError("MIDI port", f"cannot send ({error})") from error

    def run(self, container: Any) -> LiveReport:
        fps = self.options.fps or self.pipeline.default_fps()
        self.report.paced = self.options.realtime or not (self.options.as_fast_as_possible or paces_itself(container))
        capture = _Capture(container, self.encoder.spec.input_size, fps, self.options, self.report, self.stop,
                           self.report.paced)
        encoder = threading.Thread(target=self._encode_loop, args=(capture,), name="live-encoder", daemon=True)
        if self.encoder.spec.temporal:
            self.encoder.reset()  # type: ignore[attr-defined]
        self._warm_up()
        capture.start()
        encoder.start()
        try:
            self._schedule(capture, encoder)
        finally:
            self.stop.set()
            capture.join(timeout=5)
            encoder.join(timeout=5)
        if self.failure is not None:
            if isinstance(self.failure, ScoreError):
                raise self.failure
            raise PluginError(f"{self.pipeline.encoder_name} → {self.pipeline.decoder_name}",
                              f"failed while playing live: {self.failure!r}") from self.failure
        if capture.error is not None and not isinstance(capture.error, EOFError):
            import av

            if isinstance(capture.error, av.FFmpegError | OSError):
                raise ScoreError("source", f"stopped decoding: {capture.error}")
            raise capture.error
        return self.report

    def _warm_up(self) -> None:
        """Decode one phrase before the clock starts: a lazily loaded model does not delay the first note, and
        the parts it plays get their channels and program_change now, in the order the MIDI file writer uses."""
        try:
            phrase = self._decode(np.zeros(self.spec.size, dtype=np.float32), 0)
        except ScoreError:
            raise
        except Exception as error:
            raise PluginError(self.pipeline.decoder_name, f"failed to decode a first phrase: {error!r}") from error
        self.voices.prepare(event[4] for event in phrase)
        self._note_channels()

    def _note_channels(self) -> None:
        self.report.channels = self.voices.names()

    def _encode_loop(self, capture: _Capture) -> None:
        try:
            self._encode_frames(capture)
        except BaseException as error:  # the scheduler stops and run() reports it
            self.failure = error
            self.stop.set()

    def _encode_frames(self, capture: _Capture) -> None:
        """Newest frame → features → latent → phrase, off the scheduler's thread; each shot has its own seed."""
        serial = 0
        shot = 0
        while not self.stop.is_set():
            frame = capture.take(timeout=0.1)
            if frame is None:
                if capture.finished:
                    return
                continue
            features = np.asarray(self.encoder.encode(frame.rgb[None]))[0]
            shot += int(frame.cut and serial > 0)
            phrase = self._decode(self.bridge(features), shot)
            serial += 1
            self.report.frames_encoded += 1
            with self._lock:
                cut = serial > 1 and (frame.cut or (self._latest is not None and self._latest.cut))
                self._latest = _Latent(phrase, frame.arrived, frame.stream_time, cut, serial)

    def _take_latent(self) -> _Latent | None:
        with self._lock:
            latent = self._latest
            if latent is not None:
                self._latest = _Latent(latent.phrase, latent.arrived, latent.stream_time, False, latent.serial)
            return latent

    def _decode(self, latent: np.ndarray, shot: int) -> Phrase:
        """The phrase the decoder writes from one latent."""
        seconds = self.phrase_steps * self.step_seconds
        track = LatentTrack(starts=np.array([0.0]), ends=np.array([seconds]), values=latent[None],
                            spec=self.spec, tempo_bpm=self.options.tempo_bpm)
        score = self.decoder.decode(track, temperature=self.options.temperature, seed=self.options.seed + shot)
        scale = self.step_seconds * self.options.tempo_bpm / score.tempo_bpm
        events = []
        for note in score.notes:
            step = round(note.start / scale)
            if step < self.phrase_steps:
                length = max(1, round((note.end - note.start) / scale))
                events.append((step, note.pitch, note.velocity, length, (note.part, note.program, note.is_drum)))
        return sorted(events)

    def _schedule(self, capture: _Capture, encoder: threading.Thread) -> None:
        """Play until the source ends, then release every note; on Ctrl-C or any error, release them too."""
        ended = False
        try:
            self._play(capture, encoder)
            ended = self.failure is None and (capture.error is None or isinstance(capture.error, EOFError))
        finally:
            self.voices.silence(abort=not ended)

    def _play(self, capture: _Capture, encoder: threading.Thread) -> None:
        start = time.monotonic()
        step = 0
        position = 0
        phrase: Phrase = []
        beat = self.spec.steps_per_bar // self.spec.beats_per_bar
        used: _Latent | None = None
        first_note_pending: _Latent | None = None
        while not self.stop.is_set():
            due = start + step * self.step_seconds
            delay = due - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            elif delay < -self.step_seconds:
                self.report.late_steps += 1
            now = time.monotonic()
            self.voices.release_due(step)
            latent = self._take_latent()
            fresh = latent is not None and (used is None or latent.serial != used.serial)
            answer_now = False
            if latent is not None and latent.cut and used is not None:
                position = 0
                answer_now = True
                self.markers.append(Marker(time=now - start, text="cut"))
                self.report.cuts.append({"stream_time": latent.stream_time, "arrived": latent.arrived - start,
                                         "answered": now - start, "steps_after": (now - latent.arrived)
                                         / self.step_seconds})
            if latent is not None and (answer_now or fresh):
                phrase = latent.phrase
                used = latent
                first_note_pending = latent
            events = [e for e in phrase if e[0] == position]
            if answer_now and not events and phrase:
                events = [(position, *phrase[0][1:])]
            for _, pitch, velocity, length, voice in events:
                velocity = max(1, min(127, int(velocity * self.options.velocity_scale)))
                if voice not in self.voices.channels:
                    self.voices.prepare([voice])
                    self._note_channels()
                self.voices.note_on(voice, pitch, velocity, step, step + length)
                part, program, is_drum = voice
                self.played.append(Note(pitch=pitch, velocity=velocity, start=now - start,
                                        end=now - start + length * self.step_seconds, program=program,
                                        is_drum=is_drum, part=part))
                self.report.notes_sent += 1
                if first_note_pending is not None:
                    self.report.latencies.append(time.monotonic() - first_note_pending.arrived)
                    first_note_pending = None
            step += 1
            position = (position + 1) % self.phrase_steps
            self.report.steps = step
            if capture.finished and not encoder.is_alive() and used is not None and position % beat == 0:
                break
            if capture.finished and not encoder.is_alive() and used is None:
                break

    def recording(self) -> Score:
        """What was played, as a Score (times from the start of the run), with a marker at each cut."""
        end = max([n.end for n in self.played] + [m.time for m in self.markers] + [self.step_seconds])
        return Score(notes=tuple(self.played), tempo_bpm=self.options.tempo_bpm, markers=tuple(self.markers),
                     duration=end)


def _bridge_for(pipeline: Pipeline, spec: LatentSpec, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """A fitted bridge (``--bridge-weights``) applied frame by frame, else online whitening."""
    whitening = getattr(pipeline.bridge, "_whitening", None)
    if whitening is None:
        return OnlineWhitening(pipeline.encoder_spec.feature_size, spec, seed)

    def fitted(features: np.ndarray) -> np.ndarray:
        track = FeatureTrack(times=np.array([0.0]), values=features[None].astype(np.float32),
                             encoder=pipeline.encoder_name, encoder_version="live")
        ends = np.array([1.0])
        return pipeline.bridge.to_latents(track, spec, np.array([0.0]), ends, 120.0).values[0]

    return fitted


PORT_DRAIN_SECONDS = 0.3
"""How long a port stays open after the last message: JACK sends MIDI in its next process cycles, and a port
closed at once can drop what is still queued (the closing note-offs and All Notes Off, on a busy machine)."""


def close_port(port: Any) -> None:
    """Close ``port`` once what was sent through it has had time to leave."""
    time.sleep(PORT_DRAIN_SECONDS)
    port.close()


def open_port(name: str, virtual: bool, api: str | None) -> Any:
    """A mido output port through python-rtmidi: ALSA when /dev/snd/seq exists, else JACK (or ``api``)."""
    import mido

    chosen = api or ("alsa" if Path("/dev/snd/seq").exists() else "jack")
    apis = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
    if chosen not in apis:
        raise ScoreError("--midi-api", f"'{chosen}' is not one of {', '.join(apis)}")
    try:
        import rtmidi  # noqa: F401
    except ImportError as error:
        raise ScoreError("--midi-port", f"python-rtmidi cannot load ({error}); apt-get install libasound2") from None
    backend = mido.Backend("mido.backends.rtmidi", api=apis[chosen])
    try:
        if virtual:
            return backend.open_output(name, virtual=True)
        names = backend.get_output_names()
        match = [n for n in names if n == name] or [n for n in names if name in n]
        if not match:
            raise ScoreError(f"--midi-port {name}", f"no such {chosen} output; available: {', '.join(names) or 'none'}"
                             " (or pass --virtual-port to create it)")
        return backend.open_output(match[0])
    except ScoreError:
        raise
    except Exception as error:  # rtmidi reports a missing JACK server or ALSA sequencer this way
        raise ScoreError(f"--midi-port {name}", f"cannot open a {chosen} MIDI port ({error})") from None
