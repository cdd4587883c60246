"""`score run --harmony`: a chord under each shot that changes at every cut, on its own program."""

from __future__ import annotations

from itertools import pairwise

from score_cli.app import main
from score_core.harmony import HARMONY_PROGRAM
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi


def _chord_onsets(midi, program=HARMONY_PROGRAM) -> dict[float, set[int]]:
    """Where each new chord enters (a busier shot re-strikes its chord on every beat: one entry)."""
    strikes: dict[float, set[int]] = {}
    for note in read_midi(midi).notes:
        if note.program == program and not note.is_drum:
            strikes.setdefault(round(note.start, 3), set()).add(note.pitch % 12)
    entries: dict[float, set[int]] = {}
    for time in sorted(strikes):
        if not entries or strikes[time] != entries[max(entries)]:
            entries[time] = strikes[time]
    return entries


def test_a_new_chord_comes_in_with_each_shot_and_none_asks_for_the_melody_only(tmp_path):
    video = write_test_video(tmp_path / "cuts.mp4", duration=9.0, cuts=(3.0, 6.0))
    args = ["run", str(video), "--no-audio", "--vision", "color-stats", "--music", "arpeggio", "--seed", "1"]
    assert main([*args, "-o", str(tmp_path / "chords")]) == 0
    midi = tmp_path / "chords" / "cuts.mid"
    cuts = sorted(m.time for m in read_midi(midi).markers if m.text == "cut")
    chords = _chord_onsets(midi)
    assert len(cuts) == 2 and len(chords) == 3
    for cut in cuts:  # each shot's chord enters within a beat of its cut
        assert min(abs(onset - cut) for onset in chords) < 0.5
    classes = [chords[t] for t in sorted(chords)]
    assert all(len(c) == 3 for c in classes)
    assert all(len(a & b) <= 1 for a, b in pairwise(classes))
    assert main([*args, "--programs", "harmony=89", "-o", str(tmp_path / "organ")]) == 0
    assert len(_chord_onsets(tmp_path / "organ" / "cuts.mid", 89)) == 3
    assert main([*args, "--harmony", "none", "-o", str(tmp_path / "none")]) == 0
    assert not _chord_onsets(tmp_path / "none" / "cuts.mid")
    assert main([*args, "--harmony", "jazz", "-o", str(tmp_path / "bad")]) != 0
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
