"""`score bridge fit --theme-book` and `score run --theme-book`: a subject shown in two videos gets the same theme
letter and the same melody in both, placed the same way whatever shot comes before it."""

from __future__ import annotations

import json

import pytest

from score_cli.app import main
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi

CUTS = (4.0, 8.0)
STAGES = ["--vision", "color-stats", "--music", "musicvae"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    pytest.importorskip("score_music", reason="the MusicVAE decoder is in score-music (full install)")
    root = tmp_path_factory.mktemp("themes")
    folder = root / "corpus"
    folder.mkdir()
    write_test_video(folder / "one.mp4", duration=12.0, cuts=CUTS, looks=(0, 1, 2))
    write_test_video(folder / "two.mp4", duration=12.0, cuts=CUTS, looks=(3, 0, 5))  # look 0 again, second shot
    assert main(["bridge", "fit", str(folder), "-o", str(root / "bridge.npz"), *STAGES,
                 "--theme-book", str(root / "themes.npz")]) == 0
    return root


def _score(corpus, name: str, out, *extra: str) -> None:
    """Both videos in one key, so the same tune is the same notes (`--key auto` would pick one per video)."""
    assert main(["run", str(corpus / "corpus" / f"{name}.mp4"), *STAGES, "--bridge-weights",
                 str(corpus / "bridge.npz"), "--no-audio", "-o", str(out), "--seed", "3", "--key", "C major",
                 *extra]) == 0


def _shot(out, name: str, start: float, end: float) -> tuple[str, frozenset[tuple[int, int]]]:
    midi = read_midi(out / f"{name}.mid")
    tempo = json.loads((out / f"{name}.json").read_text())["provenance"]["tempo_bpm"]
    label = next(m.text for m in midi.markers if m.text.startswith("theme") and abs(m.time - start) < 0.01)
    steps = frozenset((round((n.start - start) * tempo / 15), n.pitch) for n in midi.notes
                      if start <= n.start < end and not n.is_drum and n.program != 48)
    return label, steps


def _similarity(a: frozenset[tuple[int, int]], b: frozenset[tuple[int, int]]) -> float:
    """Note-event F1 of two shots at the best transposition."""
    return max(2 * len(a & {(s, p + k) for s, p in b}) / (len(a) + len(b)) for k in range(-12, 13))


def test_a_subject_in_two_videos_brings_back_its_book_theme(corpus, tmp_path):
    for name in ("one", "two"):
        _score(corpus, name, tmp_path / "book", "--theme-book", str(corpus / "themes.npz"))
        _score(corpus, name, tmp_path / "plain")
    first, again = _shot(tmp_path / "book", "one", 0.0, 4.0), _shot(tmp_path / "book", "two", 4.0, 8.0)
    assert first[0] == "theme A" and again[0] == "theme A"
    assert _shot(tmp_path / "book", "two", 8.0, 12.0)[0] not in ("theme A", "theme B", "theme C")
    with_book = _similarity(first[1], again[1])
    without = _similarity(_shot(tmp_path / "plain", "one", 0.0, 4.0)[1], _shot(tmp_path / "plain", "two", 4.0, 8.0)[1])
    assert with_book >= 0.9 and with_book > without + 0.2


def test_a_theme_book_needs_its_bridge_and_the_form(corpus, tmp_path, capsys):
    video = corpus / "corpus" / "one.mp4"
    book = str(corpus / "themes.npz")
    assert main(["run", str(video), *STAGES, "--no-audio", "-o", str(tmp_path), "--theme-book", book]) == 2
    assert "made with another bridge" in capsys.readouterr().err
    assert main(["run", str(video), *STAGES, "--no-audio", "-o", str(tmp_path), "--bridge-weights",
                 str(corpus / "bridge.npz"), "--theme-book", book, "--form", "none"]) == 2
    assert "--form auto" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
