"""`score run --lock SHOT=SEED`: one shot keeps a seed's music note for note while the rest changes."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from score_cli.app import main
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi


def _by_shot(midi) -> list[list[tuple]]:
    notes = read_midi(midi).notes
    cues = sorted(m.time for m in read_midi(midi).markers if m.text == "cut")
    bounds = [0.0, *cues, 1e9]
    return [sorted((n.start, n.end, n.pitch, n.velocity, n.program, n.is_drum) for n in notes if lo <= n.start < hi)
            for lo, hi in pairwise(bounds)]


@pytest.mark.parametrize("music", ["arpeggio", "musicvae"])
def test_a_locked_shot_keeps_its_notes_and_the_others_follow_the_new_seed(tmp_path, music):
    if music == "musicvae":
        pytest.importorskip("score_music", reason="the MusicVAE decoder is in score-music (full install)")
    video = write_test_video(tmp_path / "three.mp4", duration=12.0, cuts=(4.0, 8.0), looks=(0, 1, 2))
    args = ["run", str(video), "--no-audio", "--vision", "color-stats", "--music", music]
    for seed in (1, 2):
        assert main([*args, "--seed", str(seed), "-o", str(tmp_path / f"seed{seed}")]) == 0
    one, two = _by_shot(tmp_path / "seed1" / "three.mid"), _by_shot(tmp_path / "seed2" / "three.mid")
    assert one[1] != two[1]  # the seeds do give the middle shot different music

    assert main([*args, "--seed", "2", "--lock", "1=1", "-o", str(tmp_path / "locked")]) == 0
    locked = _by_shot(tmp_path / "locked" / "three.mid")
    assert locked[1] == one[1]  # seed 1's middle shot, note for note
    assert locked[0] == two[0] and locked[2] == two[2]  # the rest is seed 2's
    sidecar = json.loads((tmp_path / "locked" / "three.json").read_text())
    assert sidecar["parameters"]["locks"] == [[1, 1]]  # recorded, so the run can be reproduced

    assert main([*args, "--lock", "7=1", "-o", str(tmp_path / "bad")]) != 0
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())  # no partial output
    assert main([*args, "--lock", "one", "-o", str(tmp_path / "bad2")]) != 0
