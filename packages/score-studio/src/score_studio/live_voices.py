"""Channels, programs and sounding notes of `score live`: each part on its own channel, no note left hanging.

Channels follow `score_core.midi`'s writer, so a live run and the file it records agree: drums on the General
MIDI percussion channel (``DRUM_CHANNEL``, channel 10 to musicians), every other (part, program) on the lowest
free melodic channel, taken in sorted (part, program) order. ``Voices`` remembers what is sounding, and
``silence`` releases all of it: a note_off per sounding note, then All Notes Off (CC 123) on every channel used,
and on an abort (Ctrl-C, an encoder, decoder or port error) All Sound Off (CC 120) as well.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from score_core.errors import ScoreError
from score_core.midi import DRUM_CHANNEL

Voice = tuple[str, int, bool]
"""(part, General MIDI program, is drum) of a note: what decides its channel."""

MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)
"""0-based channels for pitched parts, in the order the MIDI file writer hands them out."""

ALL_NOTES_OFF = 123
ALL_SOUND_OFF = 120


class Voices:
    """Sends notes on their part's channel and keeps track of every note sounding, to release them all."""

    def __init__(self, send: Callable[[Any], None]) -> None:
        self.send = send
        self.channels: dict[Voice, int] = {}
        self.programs: dict[int, int] = {}  # channel → program sent
        self.sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) → (start step, end step)

    def prepare(self, voices: Iterable[Voice]) -> None:
        """Give each new voice a channel (in the writer's order) and send its program_change."""
        from mido import Message

        for voice in sorted(set(voices) - set(self.channels)):
            part, program, is_drum = voice
            if is_drum:
                channel = DRUM_CHANNEL
            else:
                free = [c for c in MELODIC_CHANNELS if c not in self.channels.values()]
                if not free:
                    raise ScoreError("live", f"more than {len(MELODIC_CHANNELS)} melodic parts and programs, but "
                                             f"MIDI has {len(MELODIC_CHANNELS)} channels (new: {part or program})")
                channel = free[0]
            self.channels[voice] = channel
            if channel not in self.programs:  # the first drum voice sets the drum channel's program
                self.programs[channel] = program
                self.send(Message("program_change", channel=channel, program=program))

    def note_on(self, voice: Voice, pitch: int, velocity: int, step: int, end: int) -> int:
        """Start a note (its voice prepared on first use) lasting until step ``end``; returns its channel.

        A pitch already sounding on the channel is released first, as the file writer cuts the earlier note at
        the new onset; two onsets of one pitch at one step are one note, the longer.
        """
        from mido import Message

        if voice not in self.channels:
            self.prepare([voice])
        channel = self.channels[voice]
        key = (channel, pitch)
        if key in self.sounding:
            start, previous_end = self.sounding[key]
            if start == step:
                self.sounding[key] = (start, max(end, previous_end))
                return channel
            self.send(Message("note_off", channel=channel, note=pitch, velocity=0))
        self.sounding[key] = (step, end)  # tracked before it is sent: an interrupt in between leaves none hanging
        self.send(Message("note_on", channel=channel, note=pitch, velocity=velocity))
        return channel

    def release_due(self, step: int) -> None:
        """note_off for every note whose end step has come."""
        from mido import Message

        for key, (_, end) in sorted(self.sounding.items()):
            if end <= step:
                self.send(Message("note_off", channel=key[0], note=key[1], velocity=0))
                del self.sounding[key]

    def silence(self, *, abort: bool) -> None:
        """Release every sounding note, then All Notes Off on every channel used (and All Sound Off on an abort).

        Every message is tried even when the port fails on one (it may be the port that broke), and Ctrl-C is
        held off meanwhile, so a second Ctrl-C cannot leave a note hanging. Reset All Controllers (CC 121) is not
        sent: live mode moves no controller, and it would undo the listener's own (a held sustain pedal).
        """
        from mido import Message

        with _sigint_held():
            messages = [Message("note_off", channel=c, note=p, velocity=0) for c, p in sorted(self.sounding)]
            for channel in sorted(set(self.channels.values())):
                messages.append(Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))
                if abort:
                    messages.append(Message("control_change", channel=channel, control=ALL_SOUND_OFF, value=0))
            for message in messages:
                with contextlib.suppress(Exception):
                    self.send(message)
            self.sounding.clear()

    def names(self) -> dict[str, int]:
        """Each voice's channel as musicians count them (1-16), named as the MIDI file writer names its track."""
        named: dict[str, int] = {}
        for (part, program, is_drum), channel in sorted(self.channels.items()):
            name = part or ("Drums" if is_drum else f"program {program}")
            if name in named and named[name] != channel + 1:
                name = f"{name} (program {program})"
            named[name] = channel + 1
        return named


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Ignore SIGINT for the block (on the main thread, the only one that may change signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
