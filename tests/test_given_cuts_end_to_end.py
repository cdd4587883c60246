"""`score run --cuts FILE`: the shots start at hand-placed cuts, not at the detector's."""

from __future__ import annotations

from score_cli.app import main
from score_core.analysis.report import phrase_starts
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi


def _cuts(midi) -> list[float]:
    return sorted(m.time for m in read_midi(midi).markers if m.text == "cut")


def test_a_missed_cut_added_by_hand_starts_a_phrase_and_a_wrong_one_can_be_left_out(tmp_path):
    video = write_test_video(tmp_path / "two.mp4", duration=9.0, cuts=(4.0,))
    args = ["run", str(video), "--no-audio", "--vision", "color-stats", "--music", "arpeggio", "--seed", "2"]
    assert main([*args, "-o", str(tmp_path / "detected")]) == 0
    assert [round(t, 1) for t in _cuts(tmp_path / "detected" / "two.mid")] == [4.0]

    labels = tmp_path / "cuts.txt"
    labels.write_text("# a cut the detector cannot see, and the real one\n2.5\n0:04.0\n")
    assert main([*args, "--cuts", str(labels), "-o", str(tmp_path / "given")]) == 0
    midi = tmp_path / "given" / "two.mid"
    assert [round(t, 2) for t in _cuts(midi)] == [2.5, 4.0]
    starts = phrase_starts(read_midi(midi).markers)
    assert min(abs(s - 2.5) for s in starts) < 0.2  # a phrase starts on the added cut

    only = tmp_path / "only.txt"
    only.write_text("6.0\n")
    assert main([*args, "--cuts", str(only), "-o", str(tmp_path / "moved")]) == 0
    assert [round(t, 2) for t in _cuts(tmp_path / "moved" / "two.mid")] == [6.0]

    missing = tmp_path / "nowhere.txt"
    assert main([*args, "--cuts", str(missing), "-o", str(tmp_path / "bad")]) != 0
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
