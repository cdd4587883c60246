"""The tempo map of a piece: where its beats and bars fall in seconds (MIDI ``set_tempo`` events)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import mido
import numpy as np

from score_core.contracts import Marker, Score
from score_core.errors import ScoreError


@dataclass(frozen=True)
class TempoMap:
    """Tempo changes as (seconds, quarter notes per minute), first at 0 s, and the metre's beats per bar."""

    changes: tuple[tuple[float, float], ...]
    beats_per_bar: int = 4

    @classmethod
    def constant(cls, bpm: float, beats_per_bar: int = 4) -> TempoMap:
        return cls(((0.0, float(bpm)),), beats_per_bar)

    @classmethod
    def of_score(cls, score: Score) -> TempoMap:
        """A score's tempo map: its tempo changes when it has any, else its constant tempo."""
        changes = getattr(score, "tempo_map", ())
        if changes:
            return cls(tuple((float(c.time), float(c.bpm)) for c in changes), score.time_signature[0])
        return cls.constant(score.tempo_bpm, score.time_signature[0])

    @classmethod
    def from_midi(cls, source: str | os.PathLike[str] | bytes) -> TempoMap:
        """Every ``set_tempo`` of a MIDI file (any track), with times in seconds; 120 bpm when there is none."""
        midi = _read(source)
        events: list[tuple[int, int]] = []
        numerator = 4
        signature_tick: int | None = None
        for track in midi.tracks:
            tick = 0
            for message in track:
                tick += message.time
                if message.type == "set_tempo":
                    events.append((tick, message.tempo))
                elif message.type == "time_signature" and (signature_tick is None or tick < signature_tick):
                    numerator, signature_tick = message.numerator, tick
        events.sort()
        if not events or events[0][0] > 0:
            events.insert(0, (0, 500_000))
        changes: list[tuple[float, float]] = []
        seconds, last_tick, last_tempo = 0.0, 0, events[0][1]
        for tick, tempo in events:
            seconds += (tick - last_tick) * last_tempo / (1_000_000 * midi.ticks_per_beat)
            if changes and abs(changes[-1][0] - seconds) < 1e-9:
                changes[-1] = (seconds, mido.tempo2bpm(tempo))
            else:
                changes.append((seconds, mido.tempo2bpm(tempo)))
            last_tick, last_tempo = tick, tempo
        return cls(tuple(changes), numerator)

    def beat_times(self, duration: float) -> np.ndarray:
        """Time of every beat from 0 up to ``duration`` (exclusive), following the tempo changes."""
        beats: list[float] = []
        position = 0.0  # in beats
        for index, (start, bpm) in enumerate(self.changes):
            end = self.changes[index + 1][0] if index + 1 < len(self.changes) else duration
            seconds_per_beat = 60.0 / bpm
            # the first beat at or after `start` (a change may fall between beats)
            offset = (np.ceil(position - 1e-9) - position) * seconds_per_beat
            t = start + offset
            while t < min(end, duration) - 1e-9:
                beats.append(t)
                t += seconds_per_beat
            position += (end - start) / seconds_per_beat
        return np.asarray(beats, dtype=np.float64)

    def bar_times(self, duration: float) -> np.ndarray:
        """Time of every downbeat from 0 up to ``duration`` (exclusive)."""
        return self.beat_times(duration)[:: self.beats_per_bar]

    def sixteenth_seconds(self) -> float:
        """Length of a sixteenth note at the first tempo."""
        return 15.0 / self.changes[0][1]


def read_cue_points(source: str | os.PathLike[str] | bytes) -> list[Marker]:
    """Every Cue Point meta event (FF 07) of a MIDI file, in seconds (honouring tempo changes), sorted."""
    midi = _read(source)
    tempos: list[tuple[int, int]] = []
    cues: list[tuple[int, str]] = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempos.append((tick, message.tempo))
            elif message.type == "cue_marker" and message.text.strip():
                cues.append((tick, message.text.strip()))
    tempos.sort()
    markers = []
    for cue_tick, text in sorted(cues):
        seconds, last_tick, tempo = 0.0, 0, 500_000
        for tick, new_tempo in tempos:
            if tick > cue_tick:
                break
            seconds += (tick - last_tick) * tempo / (1_000_000 * midi.ticks_per_beat)
            last_tick, tempo = tick, new_tempo
        seconds += (cue_tick - last_tick) * tempo / (1_000_000 * midi.ticks_per_beat)
        markers.append(Marker(time=seconds, text=text))
    return markers


def _read(source: str | os.PathLike[str] | bytes) -> mido.MidiFile:
    name = "MIDI data" if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            return mido.MidiFile(file=io.BytesIO(source))
        return mido.MidiFile(os.fspath(source))
    except OSError as error:
        raise ScoreError(name, f"cannot read MIDI file ({error.strerror or error})") from error
    except (ValueError, EOFError, KeyError, IndexError, UnicodeDecodeError) as error:
        raise ScoreError(name, f"not a valid MIDI file ({error})") from error
