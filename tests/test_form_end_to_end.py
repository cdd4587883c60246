"""`score run --form`: a shot that returns brings back its music, with theme markers in the MIDI."""

from __future__ import annotations

import pytest

from score_cli.app import main
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi

CUTS = (4.0, 8.0)  # three shots of 4 s: the third shows the first one again


def _shot_notes(midi, start: float, end: float) -> list[tuple[float, int]]:
    return sorted((round(n.start - start, 3), n.pitch) for n in read_midi(midi).notes
                  if start <= n.start < end and not n.is_drum)


def _run(video, out, *extra) -> None:
    assert main(["run", str(video), "--no-audio", "-o", str(out), "--seed", "3", *extra]) == 0


@pytest.fixture(scope="module")
def returning(tmp_path_factory):
    return write_test_video(tmp_path_factory.mktemp("form") / "aba.mp4", duration=12.0, cuts=CUTS, looks=(0, 1, 0))


def test_theme_markers_name_each_shots_theme(returning, tmp_path):
    _run(returning, tmp_path / "auto", "--vision", "color-stats", "--music", "arpeggio")
    texts = [m.text for m in read_midi(tmp_path / "auto" / "aba.mid").markers if m.text.startswith("theme")]
    assert texts == ["theme A", "theme B", "theme A again"]
    _run(returning, tmp_path / "none", "--vision", "color-stats", "--music", "arpeggio", "--form", "none")
    assert not [m for m in read_midi(tmp_path / "none" / "aba.mid").markers if m.text.startswith("theme")]
    assert main(["run", str(returning), "-o", str(tmp_path / "bad"), "--form", "sonata"]) != 0


def test_the_melody_model_plays_a_returning_shots_music_again(returning, tmp_path):
    pytest.importorskip("score_music", reason="the MusicVAE decoder is in score-music (full install)")
    from score_core.midi import read_midi as read

    _run(returning, tmp_path / "auto", "--vision", "color-stats", "--music", "musicvae")
    midi = tmp_path / "auto" / "aba.mid"
    shots = [m.time for m in read(midi).markers if m.text.startswith("theme")]
    first, again = _shot_notes(midi, shots[0], shots[1]), _shot_notes(midi, shots[2], shots[2] + shots[1] - shots[0])
    assert first and again == first
    _run(returning, tmp_path / "none", "--vision", "color-stats", "--music", "musicvae", "--form", "none")
    plain = tmp_path / "none" / "aba.mid"
    assert _shot_notes(plain, shots[2], shots[2] + shots[1] - shots[0]) != _shot_notes(plain, shots[0], shots[1])
