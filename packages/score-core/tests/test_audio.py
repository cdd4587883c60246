"""Audio rendering: numpy synthesiser, FluidSynth, WAV I/O, level and length fixes, error messages."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from score_core.audio import (
    RenderReport,
    find_fluidsynth,
    find_soundfont,
    fluidsynth,
    read_wav,
    render_score,
    synthesize,
    write_wav,
)
from score_core.audio.fluidsynth import SOUNDFONT_ENV
from score_core.audio.wav import TARGET_PEAK, fit_length, normalise_peak
from score_core.contracts import Note, Score
from score_core.errors import ScoreError

RATE = 22050


def _score(notes: list[Note], duration: float, tempo: float = 120.0) -> Score:
    return Score(notes=tuple(notes), tempo_bpm=tempo, duration=duration)


def _rms(samples: np.ndarray, start: float, end: float, rate: int = RATE) -> float:
    window = samples[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(np.square(window.astype(np.float64)))))


def _peak_frequency(mono: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.argmax(spectrum) * rate / mono.size)


def _dense_score(seconds: float = 60.0) -> Score:
    rng = np.random.default_rng(0)
    notes = []
    for _ in range(int(20 * seconds)):
        start = float(rng.uniform(0, seconds - 1))
        program = int(rng.choice([0, 24, 33, 40, 56, 73, 80, 89]))
        notes.append(
            Note(
                pitch=int(rng.integers(36, 96)),
                velocity=int(rng.integers(40, 127)),
                start=start,
                end=start + float(rng.uniform(0.1, 1.5)),
                program=program,
            )
        )
    for i in range(int(8 * seconds)):
        pitch = int(rng.choice([36, 38, 42, 46, 49, 51, 45, 39, 70]))
        notes.append(Note(pitch=pitch, velocity=100, start=i * 0.125, end=i * 0.125 + 0.1, is_drum=True))
    return _score(notes, seconds)


def _fluidsynth_ready() -> bool:
    try:
        return find_fluidsynth() is not None and find_soundfont() is not None
    except ScoreError:  # $SCORE_SOUNDFONT names a missing file
        return False


needs_fluidsynth = pytest.mark.skipif(
    not _fluidsynth_ready(),
    reason="fluidsynth program or GM SoundFont absent (apt-get install fluidsynth timgm6mb-soundfont)",
)


# ---------------------------------------------------------------------------------------------------- synth


@pytest.mark.parametrize("duration", [0.5, 1.2345, 3.0])
def test_synth_length_is_exact(duration: float) -> None:
    notes = [Note(pitch=60, velocity=100, start=0.0, end=duration + 2.0)]  # runs past the end
    audio = synthesize(_score(notes, duration), RATE)
    assert audio.shape == (round(duration * RATE), 2)
    assert audio.dtype == np.float32


def test_synth_sounds_where_notes_are_and_is_silent_elsewhere() -> None:
    notes = [
        Note(pitch=60, velocity=100, start=0.5, end=1.5, program=0),
        Note(pitch=64, velocity=90, start=0.5, end=1.5, program=48),
        Note(pitch=38, velocity=110, start=3.0, end=3.1, is_drum=True),
    ]
    audio = synthesize(_score(notes, 5.0), RATE)
    loud = _rms(audio, 0.6, 1.4)
    assert loud > 0.01
    assert _rms(audio, 0.0, 0.49) == 0.0
    assert _rms(audio, 2.0, 2.95) == 0.0  # releases (at most 0.4 s) are over
    assert _rms(audio, 3.0, 3.2) > 0.01
    assert _rms(audio, 4.0, 5.0) < 1e-4


@pytest.mark.parametrize("program", [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120])
def test_synth_pitch_of_a_sustained_a4(program: int) -> None:
    audio = synthesize(_score([Note(pitch=69, velocity=100, start=0.0, end=2.0, program=program)], 2.0), RATE)
    frequency = _peak_frequency(audio[int(0.3 * RATE) : int(1.8 * RATE), 0], RATE)
    assert frequency == pytest.approx(440.0, abs=2.0)


def test_synth_high_notes_stay_below_nyquist() -> None:
    audio = synthesize(_score([Note(pitch=120, velocity=100, start=0.0, end=1.0, program=16)], 1.0), RATE)
    frequency = _peak_frequency(audio[: RATE // 2, 0], RATE)
    assert frequency == pytest.approx(440.0 * 2 ** ((120 - 69) / 12), rel=0.01)
    spectrum = np.abs(np.fft.rfft(audio[: RATE // 2, 0]))
    freqs = np.fft.rfftfreq(RATE // 2, 1 / RATE)
    assert spectrum[freqs < frequency * 0.9].max() < 0.05 * spectrum.max()  # no aliased partials below


def test_synth_is_deterministic_and_stereo() -> None:
    score = _dense_score(4.0)
    first = synthesize(score, RATE)
    assert np.array_equal(first, synthesize(score, RATE))
    assert not np.array_equal(first[:, 0], first[:, 1])  # instruments are panned
    assert np.all(np.isfinite(first))


def test_synth_velocity_sets_loudness() -> None:
    def level(velocity: int) -> float:
        audio = synthesize(_score([Note(pitch=57, velocity=velocity, start=0.0, end=1.0, program=16)], 1.0), RATE)
        return _rms(audio, 0.2, 0.8)

    assert level(30) < level(70) < level(120)


def test_synth_renders_a_dense_minute_quickly() -> None:
    score = _dense_score(60.0)
    started = time.perf_counter()
    audio = synthesize(score, 44100)
    elapsed = time.perf_counter() - started
    assert audio.shape == (60 * 44100, 2)
    assert elapsed < 10.0, f"60 s of dense music took {elapsed:.2f} s"  # ~0.3 s on 2 shared cores


# ---------------------------------------------------------------------------------------------------- render_score


def test_render_score_with_the_synth(tmp_path: Path) -> None:
    score = _score([Note(pitch=69, velocity=100, start=0.1, end=0.9, program=16)], 1.5)
    report = render_score(score, tmp_path / "s.mid", tmp_path / "s.wav", sample_rate=RATE, renderer="synth")
    expected = RenderReport(renderer="numpy-synth", soundfont=None, sample_rate=RATE, duration=1.5, peak=report.peak)
    assert report == expected
    assert 10 ** (-12 / 20) <= report.peak <= TARGET_PEAK + 1e-4
    samples, rate = read_wav(tmp_path / "s.wav")
    assert rate == RATE and samples.shape == (round(1.5 * RATE), 2)
    assert (tmp_path / "s.mid").stat().st_size > 0
    assert float(np.max(np.abs(samples))) == pytest.approx(report.peak, abs=1e-4)


def test_auto_without_fluidsynth_falls_back_to_the_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth program anywhere on PATH
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    report = render_score(score, tmp_path / "a.mid", tmp_path / "a.wav", sample_rate=RATE)
    assert report.renderer == "numpy-synth"


def test_explicit_fluidsynth_without_the_program_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    with pytest.raises(ScoreError) as caught:
        render_score(score, tmp_path / "a.mid", tmp_path / "a.wav", renderer="fluidsynth")
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install fluidsynth timgm6mb-soundfont" in message


def test_explicit_fluidsynth_without_a_soundfont_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_fluidsynth(tmp_path, "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(fluidsynth, "SOUNDFONT_PATHS", ())
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    with pytest.raises(ScoreError) as caught:
        render_score(score, tmp_path / "a.mid", tmp_path / "a.wav", renderer="fluidsynth")
    message = str(caught.value)
    assert "\n" not in message
    assert "timgm6mb-soundfont" in message and "--soundfont PATH" in message and SOUNDFONT_ENV in message
    assert render_score(score, tmp_path / "a.mid", tmp_path / "a.wav").renderer == "numpy-synth"


def test_missing_soundfont_named_by_environment_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOUNDFONT_ENV, str(tmp_path / "nowhere.sf2"))
    with pytest.raises(ScoreError, match=r"nowhere\.sf2"):
        find_soundfont()
    mine = _header_only_soundfont(tmp_path / "mine.sf2")
    assert find_soundfont(mine) == mine  # an explicit path wins over the variable
    with pytest.raises(ScoreError, match=r"other\.sf2"):
        find_soundfont(tmp_path / "other.sf2")


def _fake_fluidsynth(folder: Path, script: str) -> None:
    program = folder / "fluidsynth"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


def _header_only_soundfont(path: Path) -> Path:
    path.write_bytes(b"RIFF\x04\x00\x00\x00sfbk")
    return path


def test_a_failing_fluidsynth_is_reported_with_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_fluidsynth(tmp_path, 'echo "fluidsynth: panic: out of cheese" >&2\necho "second line" >&2\nexit 3\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    font = _header_only_soundfont(tmp_path / "font.sf2")
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    with pytest.raises(ScoreError) as caught:
        render_score(score, tmp_path / "x.mid", tmp_path / "x.wav", soundfont=font, renderer="fluidsynth")
    message = str(caught.value)
    assert "x.mid" in message and "exit code 3" in message and "out of cheese" in message
    assert "second line" not in message


def test_a_fluidsynth_that_writes_nothing_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_fluidsynth(tmp_path, "exit 0\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    font = _header_only_soundfont(tmp_path / "font.sf2")
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    with pytest.raises(ScoreError, match="wrote no audio"):
        render_score(score, tmp_path / "x.mid", tmp_path / "x.wav", soundfont=font, renderer="auto")


# ---------------------------------------------------------------------------------------------------- fluidsynth


@needs_fluidsynth
def test_fluidsynth_renders_the_score_trimmed_to_its_duration(tmp_path: Path) -> None:
    notes = [
        Note(pitch=69, velocity=110, start=0.0, end=1.5, program=0),
        Note(pitch=36, velocity=120, start=2.0, end=2.1, is_drum=True),
        Note(pitch=60, velocity=100, start=2.5, end=3.0, program=40),  # its release would ring past the end
    ]
    score = _score(notes, 3.0)
    report = render_score(score, tmp_path / "f.mid", tmp_path / "f.wav", sample_rate=RATE, renderer="fluidsynth")
    assert report.renderer == "fluidsynth"
    assert report.soundfont is not None and Path(report.soundfont).is_file()
    assert report.sample_rate == RATE and report.duration == 3.0
    assert 10 ** (-12 / 20) - 1e-3 <= report.peak <= TARGET_PEAK + 1e-3
    samples, rate = read_wav(tmp_path / "f.wav")
    assert rate == RATE and samples.shape == (3 * RATE, 2)
    assert _rms(samples, 0.2, 1.2) > 0.01 and _rms(samples, 2.0, 2.3) > 0.005
    frequency = _peak_frequency(samples[int(0.1 * RATE) : int(1.4 * RATE)].mean(axis=1), RATE)
    assert frequency == pytest.approx(440.0, abs=5.0)


@needs_fluidsynth
def test_fluidsynth_is_auto_default_and_deterministic(tmp_path: Path) -> None:
    score = _dense_score(3.0)
    report = render_score(score, tmp_path / "a.mid", tmp_path / "a.wav", sample_rate=RATE)
    assert report.renderer == "fluidsynth"
    render_score(score, tmp_path / "b.mid", tmp_path / "b.wav", sample_rate=RATE)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


@needs_fluidsynth
def test_a_bad_soundfont_is_a_score_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"this is not a soundfont" * 10)
    score = _score([Note(pitch=60, velocity=100, start=0.0, end=0.5)], 1.0)
    with pytest.raises(ScoreError, match=r"junk\.sf2.*not a SoundFont"):
        render_score(score, tmp_path / "x.mid", tmp_path / "x.wav", soundfont=junk)
    corrupt = tmp_path / "corrupt.sf2"
    corrupt.write_bytes(b"RIFF\x40\x00\x00\x00sfbk" + b"\x00" * 64)  # right header, broken body
    with pytest.raises(ScoreError, match=r"x\.mid.*fluidsynth"):
        render_score(score, tmp_path / "x.mid", tmp_path / "x.wav", soundfont=corrupt, renderer="fluidsynth")


# ---------------------------------------------------------------------------------------------------- wav helpers


def test_wav_round_trip_stereo_and_mono(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stereo = rng.uniform(-1, 1, (1000, 2)).astype(np.float32)
    write_wav(tmp_path / "s.wav", stereo, 8000)
    back, rate = read_wav(tmp_path / "s.wav")
    assert rate == 8000 and back.shape == (1000, 2) and back.dtype == np.float32
    assert np.max(np.abs(back - stereo)) < 2 / 32767
    write_wav(tmp_path / "m.wav", np.array([0.0, 0.5, -0.5, 2.0]), 8000)
    mono, _ = read_wav(tmp_path / "m.wav")
    assert mono.shape == (4, 1)
    assert mono[3, 0] == pytest.approx(32767 / 32768)  # clipped, not wrapped


def test_read_wav_rejects_garbage(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"nope")
    with pytest.raises(ScoreError, match=r"bad\.wav"):
        read_wav(tmp_path / "bad.wav")


def test_fit_length_trims_and_pads() -> None:
    audio = np.ones((100, 2), dtype=np.float32)
    assert fit_length(audio, 60).shape == (60, 2)
    assert fit_length(audio, 60)[-1, 0] == 0.0  # faded out where it was cut
    padded = fit_length(audio, 150)
    assert padded.shape == (150, 2) and np.all(padded[100:] == 0) and np.all(padded[:100] == 1)


def test_normalise_peak_only_fixes_clipping_or_quiet_audio() -> None:
    loud = np.array([[1.7, -0.2]], dtype=np.float32)
    assert float(np.max(np.abs(normalise_peak(loud)))) == pytest.approx(TARGET_PEAK, rel=1e-5)
    quiet = np.array([[0.01, -0.02]], dtype=np.float32)
    assert float(np.max(np.abs(normalise_peak(quiet)))) == pytest.approx(TARGET_PEAK, rel=1e-5)
    fine = np.array([[0.5, -0.3]], dtype=np.float32)
    assert np.array_equal(normalise_peak(fine), fine)
    silent = np.zeros((10, 2), dtype=np.float32)
    assert np.array_equal(normalise_peak(silent), silent)


def test_a_long_track_is_written_in_pieces_exactly_as_one_would_be(tmp_path):
    from score_core.audio.wav import _WRITE_FRAMES, read_wav, write_wav

    samples = np.random.default_rng(0).uniform(-1.3, 1.3, size=(2 * _WRITE_FRAMES + 123, 2)).astype(np.float32)
    read, rate = read_wav(write_wav(tmp_path / "long.wav", samples, 22050))
    expected = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    assert rate == 22050 and read.shape == samples.shape
    np.testing.assert_array_equal(np.round(read * 32768.0).astype(np.int16), expected)


@needs_fluidsynth
def test_long_stems_rendered_piece_by_piece_add_up_to_the_whole_piece(tmp_path: Path) -> None:
    from score_core.audio import render_stems
    from score_core.audio.render import PARALLEL_SECONDS

    seconds = PARALLEL_SECONDS + 4.0  # long enough to be cut into spans, each part's spans in one pool
    melody = [Note(pitch=72 + (i % 5), velocity=90, start=0.5 * i, end=0.5 * i + 0.45, part="melody")
              for i in range(int(seconds * 2) - 1)]
    bass = [Note(pitch=40, velocity=100, start=t, end=t + 0.9, program=33, part="bass")
            for t in np.arange(seconds / 2 + 0.5, seconds - 1, 1.0)]  # the second half only
    drums = [Note(pitch=38, velocity=100, start=0.25 * i, end=0.25 * i + 0.1, is_drum=True, part="drums")
             for i in range(int(seconds * 4) - 2)]
    score = _score(melody + bass + drums, seconds)
    (tmp_path / "stems").mkdir()
    report, files = render_stems(score, tmp_path / "mix.wav", tmp_path / "stems", sample_rate=RATE)
    assert report.renderer == "fluidsynth" and set(files) == {"melody", "bass", "drums"}
    mix, _ = read_wav(tmp_path / "mix.wav")
    stems = {part: read_wav(path)[0] for part, path in files.items()}
    assert all(stem.shape == mix.shape == (round(seconds * RATE), 2) for stem in stems.values())
    assert np.abs(sum(stems.values()) - mix).max() <= 3.0 / 32767
    assert _rms(stems["bass"], 0.0, seconds / 2) == 0.0 and _rms(stems["bass"], seconds / 2 + 1, seconds - 1) > 0.01
    for part, stem in stems.items():  # each piece lands where its notes are, in both halves
        assert _rms(stem, 1.0, seconds / 2 - 1) > 0.01 or part == "bass"
        assert _rms(stem, seconds / 2 + 1, seconds - 1) > 0.01
