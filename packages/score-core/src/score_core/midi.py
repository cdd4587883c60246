"""Standard MIDI files: write a Score deterministically, read notes, tempo and markers back.

The writer produces a type-1 file at ``TICKS_PER_BEAT`` ticks per quarter note: a conductor track (tempo map,
time signature, markers and cue points, as DAWs import them) and one track per instrument. Seconds become ticks
through the score's tempo map (its constant tempo when it has none), rounded to the nearest tick. The same Score
always gives the same bytes, whatever the order of its notes.
"""

from __future__ import annotations

import io
import os
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mido

from score_core.contracts import Marker, Note, Score, TempoChange
from score_core.errors import ScoreError

__all__ = [
    "DRUM_CHANNEL",
    "TICKS_PER_BEAT",
    "midi_duration",
    "read_midi",
    "read_midi_notes",
    "score_to_midi_bytes",
    "write_midi",
]

TICKS_PER_BEAT = 480
"""Resolution of written files, ticks per quarter note."""

DRUM_CHANNEL = 9
"""0-based channel of General MIDI percussion (channel 10 to musicians)."""

_CHARSET = "utf-8"
_DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 bpm), the MIDI default
_MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)
_FAMILIES = (
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
    "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
)  # fmt: skip

MidiSource = str | os.PathLike[str] | bytes


# ---------------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True, order=True)
class _Span:
    """A note on the tick grid of one channel."""

    on: int
    off: int
    pitch: int
    velocity: int


class _TickClock:
    """Seconds to ticks through a tempo map: (start seconds, start tick, microseconds per quarter) pieces."""

    def __init__(self, score: Score) -> None:
        changes = [(c.time, mido.bpm2tempo(c.bpm)) for c in score.tempo_map] or [(0.0, mido.bpm2tempo(score.tempo_bpm))]
        self.pieces: list[tuple[float, float, int]] = []
        tick = 0.0
        for index, (time, tempo) in enumerate(changes):
            if index:
                previous_time, previous_tick, previous_tempo = self.pieces[-1]
                tick = previous_tick + (time - previous_time) * 1_000_000 * TICKS_PER_BEAT / previous_tempo
            self.pieces.append((time, tick, tempo))
        self._starts = [piece[0] for piece in self.pieces]

    def __call__(self, seconds: float) -> int:
        time, tick, tempo = self.pieces[max(bisect_right(self._starts, seconds + 1e-9) - 1, 0)]
        return round(tick + (seconds - time) * 1_000_000 * TICKS_PER_BEAT / tempo)

    def tempo_events(self) -> list[tuple[int, int]]:
        """(tick, microseconds per quarter) of every tempo change."""
        return [(round(tick), tempo) for _, tick, tempo in self.pieces]


def _time_signature(score: Score) -> tuple[int, int]:
    numerator, denominator = score.time_signature
    if not 1 <= numerator <= 255 or denominator < 1 or denominator & (denominator - 1) or denominator > 2**15:
        raise ScoreError("score", f"time signature {numerator}/{denominator} cannot be written to MIDI")
    return numerator, denominator


def _channel_spans(notes: Iterable[Note], clock: _TickClock) -> list[_Span]:
    """Notes of one channel on the tick grid, with no two notes of a pitch sounding at once."""
    spans = sorted(
        _Span(on, max(clock(n.end), on + 1), n.pitch, n.velocity)
        for n in notes
        for on in (clock(n.start),)
    )
    by_pitch: dict[int, list[_Span]] = {}
    for span in spans:
        by_pitch.setdefault(span.pitch, []).append(span)
    result: list[_Span] = []
    for pitch_spans in by_pitch.values():
        kept: list[_Span] = []
        for span in pitch_spans:
            if kept and kept[-1].on == span.on:  # same onset: one note, the longest and loudest
                last = kept.pop()
                span = _Span(span.on, max(span.off, last.off), span.pitch, max(span.velocity, last.velocity))
            elif kept and kept[-1].off > span.on:  # earlier note still sounding: cut it at this onset
                last = kept.pop()
                kept.append(_Span(last.on, span.on, last.pitch, last.velocity))
            kept.append(span)
        result.extend(kept)
    return sorted(result)


def _track(events: list[tuple[int, int, mido.Message | mido.MetaMessage]], end_tick: int) -> mido.MidiTrack:
    """A track from (absolute tick, order key, message) triples, sorted stably, ending at end_tick or later."""
    track = mido.MidiTrack()
    now = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end_tick - now, 0)))
    return track


def _instrument_track(name: str, channel: int, program: int, spans: list[_Span], end_tick: int) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("track_name", name=name)),
        (0, 1, mido.Message("program_change", channel=channel, program=program)),
    ]
    for span in spans:
        # At equal ticks: note_off (2) before note_on (3); then by pitch, so the order is total.
        events.append((span.off, 2 * 128 + span.pitch, mido.Message("note_off", channel=channel, note=span.pitch)))
        events.append(
            (
                span.on,
                3 * 128 + span.pitch,
                mido.Message("note_on", channel=channel, note=span.pitch, velocity=span.velocity),
            )
        )
    return _track(events, end_tick)


def _program_name(program: int) -> str:
    return f"{_FAMILIES[program // 8]} (program {program})"


def score_to_midi_bytes(score: Score, smpte_offset: mido.MetaMessage | None = None) -> bytes:
    """Encode a Score as a type-1 Standard MIDI File; equal Scores give identical bytes.

    Drums go to channel 9, one track per part (its program is the drum notes' program when they agree, else 0);
    melodic notes get one track and channel per part and program, named after the part (a band's melody, bass)
    or, for notes without a part, after the program. Raises ScoreError when more than 15 melodic programs
    are used or the time signature cannot be written. ``smpte_offset`` (an FF 54 event, see
    ``score_core.timecode``) goes at the start of the first track, so a DAW places the file at that timecode.
    """
    clock = _TickClock(score)
    numerator, denominator = _time_signature(score)
    melodic: dict[tuple[str, int], list[Note]] = {}
    drums: dict[str, list[Note]] = {}
    for note in score.notes:
        if note.is_drum:
            drums.setdefault(note.part, []).append(note)
        else:
            melodic.setdefault((note.part, note.program), []).append(note)
    if len(melodic) > len(_MELODIC_CHANNELS):
        raise ScoreError("score", f"{len(melodic)} melodic programs, but MIDI has {len(_MELODIC_CHANNELS)} channels")

    instruments: list[tuple[str, int, int, list[_Span]]] = []
    for channel, (part, program) in zip(_MELODIC_CHANNELS, sorted(melodic), strict=False):
        spans = _channel_spans(melodic[part, program], clock)
        instruments.append((part or _program_name(program), channel, program, spans))
    for part in sorted(drums):  # one track per drum part (a band's part names it), all on the GM drum channel
        programs = {note.program for note in drums[part]}
        drum_program = programs.pop() if len(programs) == 1 else 0
        instruments.append((part or "Drums", DRUM_CHANNEL, drum_program, _channel_spans(drums[part], clock)))

    end_tick = clock(score.duration)
    end_tick = max([end_tick] + [span.off for *_, spans in instruments for span in spans])

    conductor: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("track_name", name="score")),
        (0, 2, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)),
    ]
    if smpte_offset is not None:
        conductor.insert(1, (0, 0, smpte_offset))
    conductor += [(tick, 1, mido.MetaMessage("set_tempo", tempo=tempo)) for tick, tempo in clock.tempo_events()]
    markers = sorted((clock(m.time), m.text) for m in score.markers)
    conductor += [(tick, 3, mido.MetaMessage("marker", text=text)) for tick, text in markers]
    cues = sorted((clock(m.time), m.text) for m in score.cues)
    conductor += [(tick, 4, mido.MetaMessage("cue_marker", text=text)) for tick, text in cues]

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, charset=_CHARSET)
    midi.tracks.append(_track(conductor, end_tick))
    midi.tracks.extend(_instrument_track(*instrument, end_tick) for instrument in instruments)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def write_midi(
    score: Score, path: str | os.PathLike[str], smpte_offset: mido.MetaMessage | None = None
) -> Path:
    """Write the Score as a MIDI file at path (with an SMPTE offset event when given) and return the path."""
    target = Path(path)
    try:
        target.write_bytes(score_to_midi_bytes(score, smpte_offset))
    except OSError as error:
        raise ScoreError(str(target), f"cannot write MIDI file ({error.strerror or error})") from error
    return target


# ---------------------------------------------------------------------------------------------------- reading


class _TempoMap:
    """Converts absolute ticks to seconds through a list of tempo changes."""

    def __init__(self, ticks_per_beat: int, changes: list[tuple[int, int]]) -> None:
        self._tpb = ticks_per_beat
        self._ticks: list[int] = [0]
        self._tempos: list[int] = [_DEFAULT_TEMPO]
        self._seconds: list[float] = [0.0]
        for tick, tempo in sorted(changes, key=lambda change: change[0]):
            start = self.seconds(tick)
            if tick == self._ticks[-1]:
                self._tempos[-1] = tempo
            else:
                self._ticks.append(tick)
                self._tempos.append(tempo)
                self._seconds.append(start)

    def changes(self) -> list[TempoChange]:
        """The map as TempoChanges (seconds, bpm), equal neighbours merged."""
        result: list[TempoChange] = []
        for start, tempo in zip(self._seconds, self._tempos, strict=True):
            bpm = mido.tempo2bpm(tempo)
            if not result or abs(result[-1].bpm - bpm) > 1e-9:
                result.append(TempoChange(time=start, bpm=bpm))
        return result

    def seconds(self, tick: int) -> float:
        i = bisect_right(self._ticks, tick) - 1
        return self._seconds[i] + (tick - self._ticks[i]) * self._tempos[i] / (1_000_000 * self._tpb)


def _open(source: MidiSource) -> tuple[mido.MidiFile, str]:
    name = "MIDI data" if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            return mido.MidiFile(file=io.BytesIO(source), charset=_CHARSET), name
        return mido.MidiFile(os.fspath(source), charset=_CHARSET), name
    except OSError as error:
        raise ScoreError(name, f"cannot read MIDI file ({error.strerror or error})") from error
    except (ValueError, EOFError, KeyError, IndexError, UnicodeDecodeError) as error:
        raise ScoreError(name, f"not a valid MIDI file ({error})") from error


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message | mido.MetaMessage]]:
    now, out = 0, []
    for message in track:
        now += message.time
        out.append((now, message))
    return out


def _track_notes(
    events: list[tuple[int, mido.Message | mido.MetaMessage]], clock: _TempoMap, end_tick: int
) -> list[Note]:
    """Pair note_on/note_off events of one track (first on, first off) into Notes."""
    programs = [0] * 16
    sounding: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    notes: list[Note] = []

    def close(key: tuple[int, int], tick: int) -> None:
        on, velocity, program = sounding[key].pop(0)
        if not sounding[key]:
            del sounding[key]
        start, end = clock.seconds(on), clock.seconds(tick)
        if end > start:
            channel, pitch = key
            notes.append(
                Note(
                    pitch=pitch,
                    velocity=velocity,
                    start=start,
                    end=end,
                    program=program,
                    is_drum=channel == DRUM_CHANNEL,
                )
            )

    for tick, msg in events:
        if msg.type == "program_change":
            programs[msg.channel] = msg.program
        elif msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity, programs[msg.channel]))
        elif msg.type in ("note_on", "note_off") and (msg.channel, msg.note) in sounding:
            close((msg.channel, msg.note), tick)
    for key in sorted(sounding):  # notes still sounding end with the file
        while key in sounding:
            close(key, end_tick)
    return notes


@dataclass(frozen=True)
class _Parsed:
    notes: list[Note]
    tempo_bpm: float
    time_signature: tuple[int, int]
    markers: list[Marker]
    end: float
    tempo_map: list[TempoChange]
    cues: list[Marker]


def _parse(midi: mido.MidiFile, name: str) -> _Parsed:
    if midi.type == 2:
        raise ScoreError(name, "type-2 MIDI files (independent sequences) are not supported")
    tracks = [_absolute(track) for track in midi.tracks]
    tempos = [(tick, msg.tempo) for events in tracks for tick, msg in events if msg.type == "set_tempo"]
    clock = _TempoMap(midi.ticks_per_beat, tempos)
    signatures = sorted(
        (tick, (msg.numerator, msg.denominator))
        for events in tracks
        for tick, msg in events
        if msg.type == "time_signature"
    )
    markers = sorted((tick, msg.text) for events in tracks for tick, msg in events if msg.type == "marker" and msg.text)
    cues = sorted(
        (tick, msg.text) for events in tracks for tick, msg in events if msg.type == "cue_marker" and msg.text
    )
    end_tick = max((events[-1][0] for events in tracks if events), default=0)

    notes = [note for events in tracks for note in _track_notes(events, clock, end_tick)]
    notes.sort(key=lambda n: (n.start, n.pitch, n.program, n.is_drum, n.end, n.velocity))
    first_tempo = min(tempos, key=lambda change: change[0])[1] if tempos else _DEFAULT_TEMPO
    return _Parsed(
        notes=notes,
        tempo_bpm=mido.tempo2bpm(first_tempo),
        time_signature=signatures[0][1] if signatures else (4, 4),
        markers=[Marker(time=clock.seconds(tick), text=text) for tick, text in markers],
        end=max(clock.seconds(end_tick), max((n.end for n in notes), default=0.0)),
        tempo_map=clock.changes() if len(clock.changes()) > 1 else [],
        cues=[Marker(time=clock.seconds(tick), text=text) for tick, text in cues],
    )


def read_midi_notes(source: MidiSource) -> list[Note]:
    """All notes of a MIDI file (path or bytes), in seconds, sorted by onset; drums are channel-9 notes."""
    midi, name = _open(source)
    return _parse(midi, name).notes


def read_midi(source: MidiSource) -> Score:
    """Read a MIDI file (path or bytes) back into a Score.

    The Score's tempo and time signature are the first ones in the file (120 bpm and 4/4 when absent), its
    tempo_map every tempo change when there is more than one tempo; note, marker and cue-point times honour every
    tempo change; the duration is the end of the longest track.
    """
    midi, name = _open(source)
    parsed = _parse(midi, name)
    if parsed.end <= 0:
        raise ScoreError(name, "MIDI file is empty (zero length)")
    return Score(
        notes=tuple(parsed.notes),
        tempo_bpm=parsed.tempo_bpm,
        time_signature=parsed.time_signature,
        markers=tuple(parsed.markers),
        duration=parsed.end,
        tempo_map=tuple(parsed.tempo_map),
        cues=tuple(parsed.cues),
    )


def midi_duration(source: MidiSource) -> float:
    """Length of a MIDI file in seconds: the end of its longest track, honouring tempo changes."""
    midi, name = _open(source)
    return _parse(midi, name).end
