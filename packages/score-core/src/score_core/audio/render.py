"""Render a Score to MIDI and WAV, with FluidSynth when it is installed and the numpy synthesiser otherwise."""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from score_core.audio import fluidsynth
from score_core.audio.synth import synthesize
from score_core.audio.wav import fit_length, normalise_peak, peak, to_stereo, write_wav
from score_core.contracts import Score
from score_core.errors import ScoreError
from score_core.midi import write_midi

__all__ = ["RenderReport", "Renderer", "render_parts", "render_score", "render_stems"]

Renderer = Literal["auto", "fluidsynth", "synth"]


@dataclass(frozen=True)
class RenderReport:
    """What render_score did: which renderer and SoundFont, and the WAV's rate, length and peak."""

    renderer: str
    """"fluidsynth" or "numpy-synth"."""
    soundfont: str | None
    """SoundFont used by FluidSynth; None for the numpy synthesiser."""
    sample_rate: int
    duration: float
    """Length of the written WAV in seconds (the score's duration, to the nearest frame)."""
    peak: float
    """Largest absolute sample of the written WAV, 0..1."""


def _fluidsynth_timeout(duration: float) -> float:
    return 60.0 + 2.0 * duration


def render_score(
    score: Score,
    midi_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str],
    *,
    sample_rate: int = 44100,
    soundfont: str | os.PathLike[str] | None = None,
    renderer: Renderer = "auto",
) -> RenderReport:
    """Render the Score as 16-bit stereo WAV at wav_path, exactly score.duration long.

    midi_path holds the Score as MIDI (fluidsynth plays it); it is written first when no file is there yet.

    renderer "auto" uses FluidSynth when the program and a SoundFont are found (see `find_soundfont`), else the
    numpy synthesiser; "fluidsynth" fails with a ScoreError saying what to install when either is missing;
    "synth" always uses the numpy synthesiser. Audio that clips or is very quiet is scaled to -1 dBFS.
    """
    if renderer not in ("auto", "fluidsynth", "synth"):
        raise ValueError(f"unknown renderer {renderer!r}; choose auto, fluidsynth or synth")
    if not 8000 <= sample_rate <= 192000:
        raise ScoreError(str(wav_path), f"sample rate {sample_rate} Hz is outside 8000..192000")
    midi_file = Path(midi_path)
    if not midi_file.exists():
        write_midi(score, midi_file)
    frames = round(score.duration * sample_rate)

    binary, font = _renderer_tools(renderer, soundfont)
    samples, used, font_name = _render_samples(score, midi_file, sample_rate, binary, font)
    audio = fit_length(to_stereo(samples), frames)
    del samples  # a long track is hundreds of MB: keep one copy at a time
    audio = normalise_peak(audio, in_place=True)
    write_wav(wav_path, audio, sample_rate)
    level = round(min(peak(audio), 1.0) * 32767) / 32767  # as written in 16 bits
    return RenderReport(
        renderer=used, soundfont=font_name, sample_rate=sample_rate, duration=frames / sample_rate, peak=level
    )


def _renderer_tools(renderer: Renderer, soundfont: str | os.PathLike[str] | None) -> tuple[str | None, Path | None]:
    binary = font = None
    if renderer != "synth":
        binary = fluidsynth.find_fluidsynth()
        font = fluidsynth.find_soundfont(soundfont)
        if renderer == "fluidsynth" and binary is None:
            raise ScoreError("fluidsynth", f"program not found on PATH; {fluidsynth.INSTALL_HINT}")
        if renderer == "fluidsynth" and font is None:
            raise ScoreError("fluidsynth", f"no General MIDI SoundFont found; {fluidsynth.SOUNDFONT_HINT}")
    return binary, font


#: A piece at least this long (seconds) is rendered by FluidSynth in parallel spans, one per CPU (at most 4).
PARALLEL_SECONDS = 20.0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _render_samples(
    score: Score, midi_file: Path, sample_rate: int, binary: str | None, font: Path | None
) -> tuple[np.ndarray, str, str | None]:
    if binary is not None and font is not None:
        spans = min(4, _cpus())
        if spans > 1 and score.duration >= PARALLEL_SECONDS and score.notes:
            return _render_in_spans(score, sample_rate, binary, font, spans), "fluidsynth", str(font)
        samples = fluidsynth.render_midi(
            midi_file, font, sample_rate, binary=binary, timeout=_fluidsynth_timeout(score.duration)
        )
        return samples, "fluidsynth", str(font)
    return synthesize(score, sample_rate), "numpy-synth", None


def _render_in_spans(score: Score, sample_rate: int, binary: str, font: Path, spans: int) -> np.ndarray:
    """FluidSynth on ``spans`` pieces of the score at once (see `_span_pieces`), the pieces' audio summed at their
    offsets: voices and effects add up, so the sum is the whole render (to rounding), in about 1/``spans`` of
    the time."""
    from concurrent.futures import ThreadPoolExecutor

    pieces = _span_pieces(score, spans)
    with tempfile.TemporaryDirectory(prefix="score-spans-") as folder, ThreadPoolExecutor(len(pieces)) as pool:
        files = [write_midi(piece, Path(folder) / f"span{i}.mid") for i, (_, piece) in enumerate(pieces)]
        rendered = list(pool.map(lambda f: fluidsynth.render_midi(
            f, font, sample_rate, binary=binary, timeout=_fluidsynth_timeout(score.duration)), files))
    offsets = [round(low * sample_rate) for low, _ in pieces]
    total = max(offset + len(audio) for offset, audio in zip(offsets, rendered, strict=True))
    mix = np.zeros((total, 2), dtype=np.float32)
    for offset, audio in zip(offsets, rendered, strict=True):
        mix[offset : offset + len(audio)] += audio
    return mix


def _span_pieces(score: Score, spans: int) -> list[tuple[float, Score]]:
    """The score cut into ``spans`` equal stretches of time, each note in the stretch where it starts (to be
    rendered to its end and release): (start second, the stretch's notes from 0 s), stretches with notes only."""
    bounds = [score.duration * k / spans for k in range(spans + 1)]
    bounds[-1] = np.inf
    pieces = []
    for low, high in itertools.pairwise(bounds):
        notes = tuple(n.model_copy(update={"start": n.start - low, "end": n.end - low})
                      for n in score.notes if low <= n.start < high)
        if notes:
            length = max(n.end for n in notes)
            pieces.append((low, score.model_copy(update={"notes": notes, "tempo_map": (), "duration": length,
                                                         "markers": (), "cues": ()})))
    return pieces


def render_parts(
    score: Score,
    wav_path: str | os.PathLike[str],
    *,
    sample_rate: int = 44100,
    soundfont: str | os.PathLike[str] | None = None,
    renderer: Renderer = "auto",
) -> tuple[RenderReport, dict[str, np.ndarray]]:
    """Render each part of the Score on its own, write their sum as the mix at wav_path, and return the stems.

    Every stem gets the gain the mix got (see `render_score`), so the stems (frames, 2) sum to the mix exactly
    before 16-bit rounding. Parts are named by `Note.part` ("" for notes without one). `render_stems` writes
    them as files instead, for tracks too long to hold every part in memory.
    """
    with tempfile.TemporaryDirectory(prefix="score-stems-") as scratch:
        report, unscaled, gain = _render_unscaled_parts(score, wav_path, sample_rate, soundfont, renderer,
                                                        Path(scratch))
        stems = {part: np.fromfile(raw, dtype=np.float32).reshape(-1, 2) * np.float32(gain)
                 for part, raw in unscaled.items()}
    return report, stems


def render_stems(
    score: Score,
    wav_path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    sample_rate: int = 44100,
    soundfont: str | os.PathLike[str] | None = None,
    renderer: Renderer = "auto",
) -> tuple[RenderReport, dict[str, Path]]:
    """`render_parts` to files: the mix at wav_path and one 16-bit WAV per part in ``folder`` (PART.wav,
    "music.wav" for notes without a part), which sum to the mix. Memory holds the mix and one part at a time."""
    with tempfile.TemporaryDirectory(prefix="score-stems-") as scratch:
        report, unscaled, gain = _render_unscaled_parts(score, wav_path, sample_rate, soundfont, renderer,
                                                        Path(scratch))
        files = {}
        for part, raw in unscaled.items():
            samples = (np.memmap(raw, dtype=np.float32, mode="r") if raw.stat().st_size
                       else np.zeros(0, dtype=np.float32)).reshape(-1, 2)
            files[part] = write_wav(Path(folder) / f"{part or 'music'}.wav", samples, sample_rate, gain=gain)
            del samples
    return report, files


def _render_unscaled_parts(
    score: Score,
    wav_path: str | os.PathLike[str],
    sample_rate: int,
    soundfont: str | os.PathLike[str] | None,
    renderer: Renderer,
    scratch: Path,
) -> tuple[RenderReport, dict[str, Path], float]:
    """Each part rendered alone to a raw float32 stereo file in ``scratch``, their sum scaled and written as
    the mix at wav_path: the report, the raw file of each part, and the gain the mix got."""
    if not 8000 <= sample_rate <= 192000:
        raise ScoreError(str(wav_path), f"sample rate {sample_rate} Hz is outside 8000..192000")
    binary, font = _renderer_tools(renderer, soundfont)
    frames = round(score.duration * sample_rate)
    parts = sorted({note.part for note in score.notes})
    unscaled = {part: scratch / f"part{index}.f32" for index, part in enumerate(parts)}
    if binary is not None and font is not None:
        _fluidsynth_parts(score, parts, unscaled, sample_rate, binary, font, frames)
        used, font_name = "fluidsynth", str(font)
    else:
        for part in parts:
            alone = score.model_copy(update={"notes": tuple(n for n in score.notes if n.part == part)})
            fit_length(to_stereo(synthesize(alone, sample_rate)), frames).tofile(unscaled[part])
        used, font_name = "numpy-synth", None
    mix = np.zeros((frames, 2), dtype=np.float32)
    for raw in unscaled.values():
        if frames:
            mix += np.memmap(raw, dtype=np.float32, mode="r", shape=(frames, 2))
    level = peak(mix)
    mix = normalise_peak(mix, in_place=True)
    gain = peak(mix) / level if level else 1.0
    write_wav(wav_path, mix, sample_rate)
    written = round(min(peak(mix), 1.0) * 32767) / 32767
    report = RenderReport(
        renderer=used, soundfont=font_name, sample_rate=sample_rate, duration=frames / sample_rate, peak=written
    )
    return report, unscaled, gain


def _fluidsynth_parts(score: Score, parts: list[str], files: dict[str, Path], sample_rate: int, binary: str,
                      font: Path, frames: int) -> None:
    """Every part rendered alone by FluidSynth into its raw float32 stereo file, ``frames`` long (cut as
    `fit_length` cuts a render). All (part, span) pieces share one pool of FluidSynth processes, one per CPU,
    the costliest first, so no CPU waits for another part's last span; a piece's audio is added into its part's
    file as soon as it is done."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    spans = min(4, _cpus()) if score.duration >= PARALLEL_SECONDS else 1
    jobs: list[tuple[str, int, Score]] = []
    for part in parts:
        alone = score.model_copy(update={"notes": tuple(n for n in score.notes if n.part == part)})
        for low, piece in _span_pieces(alone, spans) if spans > 1 else [(0.0, alone)]:
            jobs.append((part, round(low * sample_rate), piece))
    jobs.sort(key=lambda job: -_render_cost(job[2]))
    for raw in files.values():  # silence, each part's pieces added into it; mapped only while one is added
        with raw.open("wb") as empty:
            empty.truncate(frames * 2 * 4)
    if not jobs or frames == 0:
        return
    overran: set[str] = set()
    folder = files[parts[0]].parent
    with ThreadPoolExecutor(min(_cpus(), len(jobs))) as pool:
        pending = {}
        for index, (part, offset, piece) in enumerate(jobs):
            midi_file = write_midi(piece, folder / f"piece{index}.mid")
            pending[pool.submit(fluidsynth.render_midi, midi_file, font, sample_rate, binary=binary,
                                timeout=_fluidsynth_timeout(score.duration))] = (part, offset)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                part, offset = pending.pop(future)
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()  # type: ignore[misc]
                samples = future.result()
                end = min(offset + len(samples), frames)
                if end > offset:
                    _add_into(files[part], offset, samples[: end - offset])
                if offset + len(samples) > frames:
                    overran.add(part)
    for part in overran:
        _fade_out_end(files[part], frames)


def _add_into(raw: Path, offset: int, samples: np.ndarray) -> None:
    """Add ``samples`` (frames, 2) into the raw float32 stereo file from frame ``offset``, mapping only that
    stretch of the file (so a long part never sits whole in memory)."""
    target = np.memmap(raw, dtype=np.float32, mode="r+", offset=offset * 8, shape=samples.shape)
    target += samples
    del target  # unmapped; the pages stay in the file (no msync: nothing outlives the scratch folder)


def _fade_out_end(raw: Path, frames: int) -> None:
    """The last 256 frames of the file faded out, as `fit_length` fades a render it cuts short."""
    fade = min(frames, 256)
    target = np.memmap(raw, dtype=np.float32, mode="r+", offset=(frames - fade) * 8, shape=(fade, 2))
    target *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    del target


def _render_cost(piece: Score) -> float:
    """A guess at FluidSynth's time for a piece: its length plus the seconds its notes sound."""
    return piece.duration + sum(note.end - note.start for note in piece.notes)
