"""`score evaluate` and `score run --evaluate`: the installed `score` command once, the rest in-process (the
same CLI code, without a second interpreter start per call)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from score_e2e import Completed, run_score

from score_cli.app import main
from score_core.contracts import Marker, Note, Score
from score_core.media.synthetic import write_test_video
from score_core.midi import write_midi

CUTS = (3.0, 7.0)  # the `clip` fixture's cuts
DURATION = 10.0


def _midi(path: Path, onsets: list[float]) -> Path:
    edges = [*onsets, DURATION]
    notes = [Note(pitch=60 + 7 * i, velocity=90, start=a, end=b) for i, (a, b) in enumerate(itertools.pairwise(edges))]
    markers = [Marker(time=t, text=f"segment {i + 1}") for i, t in enumerate(onsets)]
    return write_midi(Score(notes=tuple(notes), tempo_bpm=120, duration=DURATION, markers=tuple(markers)), path)


def _score(capsys, *args: object) -> Completed:
    """The CLI in this process: exit status, stdout and stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Completed(code, out, err)


def _refused(result, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("score: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_evaluate_json_scores_onsets_at_the_cuts(clip, tmp_path, capsys):
    at = _midi(tmp_path / "at.mid", [0.0, *CUTS])
    result = run_score("evaluate", clip, at, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["cuts"] == 2
    assert figures["onset_hits"]["0.07s"]["recall"] == 1.0
    assert figures["phrase_hits"]["0.07s"]["f1"] == pytest.approx(0.8)  # 2 of 3 phrase starts are cuts
    assert figures["musicality"]["notes_per_second"] == pytest.approx(0.3)

    between = _midi(tmp_path / "between.mid", [0.0, 5.0, 8.5])
    figures = json.loads(_score(capsys, "evaluate", clip, between, "--json").stdout)
    assert figures["onset_hits"]["0.07s"]["f1"] == 0.0


def test_evaluate_writes_the_timeline_plot(clip, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra (score-core[plot]) is not installed")
    from PIL import Image

    plot = tmp_path / "timeline.png"
    midi = _midi(tmp_path / "at.mid", [0.0, *CUTS])
    result = _score(capsys, "evaluate", clip, midi, "--plot", plot)
    assert result.returncode == 0, result.stderr
    assert f"timeline: {plot}" in result.stdout
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (1400, 900)
    _refused(_score(capsys, "evaluate", clip, midi, "--plot", plot), "timeline.png", "--overwrite")
    assert _score(capsys, "evaluate", clip, midi, "--plot", plot, "--overwrite").returncode == 0


def test_evaluate_refuses_bad_midi_and_bad_video(clip, tmp_path, capsys):
    bad_midi = tmp_path / "bad.mid"
    bad_midi.write_bytes(b"MThd but not really")
    plot = tmp_path / "plot.png"
    _refused(_score(capsys, "evaluate", clip, bad_midi, "--plot", plot), "bad.mid", "MIDI")
    assert not plot.exists()
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_text("no frames here\n" * 20)
    _refused(run_score("evaluate", bad_video, _midi(tmp_path / "ok.mid", [0.0])), "bad.mp4", "not a video")
    _refused(_score(capsys, "evaluate", tmp_path / "missing.mp4", tmp_path / "ok.mid"), "missing.mp4")


def test_evaluate_compares_with_the_decoders_prior_samples(clip, tmp_path, capsys):
    midi = _midi(tmp_path / "at.mid", [0.0, *CUTS])
    result = _score(capsys, "evaluate", clip, midi, "--json", "--music", "arpeggio")
    assert result.returncode == 0, result.stderr
    prior = json.loads(result.stdout)["prior"]
    assert prior["decoder"] == "arpeggio"
    assert prior["musicality"]["notes_per_second"] > 0
    _refused(_score(capsys, "evaluate", clip, midi, "--music", "no-such-decoder"), "no-such-decoder")


def test_run_evaluate_adds_the_figures_to_the_sidecar(tmp_path, capsys):
    video = write_test_video(tmp_path / "cuts.mp4", duration=12.0, cuts=(4.0, 8.0))
    out = tmp_path / "out"
    args = ("run", video, "--vision", "color-stats", "--music", "arpeggio", "--no-audio", "-o", out)
    result = _score(capsys, *args, "--evaluate")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((out / "cuts.json").read_text())
    evaluation = sidecar["evaluation"]
    assert evaluation["cuts"] == 2
    # the arpeggio decoder's 4 s segments start on the cuts at 4 s and 8 s: every cut is a phrase start
    assert evaluation["phrase_hits"]["0.07s"]["recall"] == 1.0
    assert set(evaluation["musicality"]) >= {"in_scale", "pitch_class_entropy", "mean_abs_interval"}
    assert evaluation["prior_musicality"]["notes_per_second"] > 0  # the decoder's own samples, for comparison
    plain = _score(capsys, *args, "--overwrite")
    assert plain.returncode == 0
    assert "evaluation" not in json.loads((out / "cuts.json").read_text())


def test_plot_without_matplotlib_is_a_one_line_error(clip, tmp_path, capsys, monkeypatch):
    # a None entry in sys.modules makes `import matplotlib` raise ImportError, as when it is not installed
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    plot = tmp_path / "timeline.png"
    result = _score(capsys, "evaluate", clip, _midi(tmp_path / "at.mid", [0.0]), "--plot", plot)
    _refused(result, "--plot", "pip install 'score-core[plot]'")
    assert not plot.exists()


def test_evaluate_takes_hand_labelled_cuts_and_refuses_a_bad_cut_file(clip, tmp_path, capsys):
    midi = _midi(tmp_path / "at.mid", [0.0, *CUTS])
    labels = tmp_path / "cuts.txt"
    labels.write_text("# one cut the detector would not know about\n5.0\n")
    figures = json.loads(_score(capsys, "evaluate", clip, midi, "--json", "--cuts", labels).stdout)
    assert figures["cuts"] == 1 and figures["cuts_source"] == "hand labels (cuts.txt)"
    assert figures["onset_hits"]["0.07s"]["f1"] == 0.0  # the notes start at 3 s and 7 s, not at 5 s
    detected = json.loads(_score(capsys, "evaluate", clip, midi, "--json").stdout)
    assert detected["cuts"] == 2 and "independent" in detected["cuts_source"]
    labels.write_text("5.0\nlater\n")
    _refused(_score(capsys, "evaluate", clip, midi, "--cuts", labels), "cuts.txt", "line 2")


def test_evaluate_grades_a_run_against_its_own_cuts_apart_and_against_a_grid_render(tmp_path, capsys):
    video = write_test_video(tmp_path / "cuts.mp4", duration=14.0, cuts=(4.5, 9.0))
    out = tmp_path / "out"
    run = _score(capsys, "run", video, "--vision", "color-stats", "--music", "arpeggio", "--no-audio", "-o", out)
    assert run.returncode == 0, run.stderr
    midi = out / "cuts.mid"
    result = _score(capsys, "evaluate", video, midi, "--json", "--grid-baseline")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    own, grid = figures["comparison"]["run_own_cuts"], figures["comparison"]["grid_render"]
    assert own["cuts"] == 2 and "own cuts" in own["cuts_source"]
    assert grid["cuts"] == figures["cuts"] and grid["cuts_source"] == figures["cuts_source"]
    assert figures["phrase_hits"]["0.07s"]["f1"] > grid["phrase_f1"]  # the grid does not start phrases on cuts
    summary = _score(capsys, "evaluate", video, midi, "--grid-baseline").stdout
    assert "run's own cuts" in summary and "--sync grid" in summary
    (out / "cuts.json").unlink()
    _refused(_score(capsys, "evaluate", video, midi, "--grid-baseline"), "cuts.json", "sidecar")
