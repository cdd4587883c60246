"""A cut between two shots that look alike (same grey levels, other picture) is kept as a cut marker but answered
inside one musical shot; a cut to a new look starts a new phrase and chord; given cuts are all answered."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from score_cli.app import main
from score_core.harmony import HARMONY_PROGRAM
from score_core.midi import read_midi

FPS = 25


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """9 s: a left-to-right ramp, its mirror image (a hard cut, the same grey levels), a brighter ramp."""
    ramp = np.linspace(0, 160, 96)[None, :, None] + np.random.default_rng(0).uniform(0, 8, (72, 96, 3))
    picture = ramp.astype(np.uint8)
    shots = [picture, picture[:, ::-1].copy(), (picture + 90).astype(np.uint8)]
    path = tmp_path_factory.mktemp("lookalike") / "lookalike.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.height, stream.width, stream.pix_fmt = 72, 96, "yuv420p"
        for index in range(9 * FPS):
            frame = av.VideoFrame.from_ndarray(shots[index // (3 * FPS)], format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _chord_entries(midi) -> list[float]:
    strikes: dict[float, frozenset[int]] = {}
    for note in read_midi(midi).notes:
        if note.program == HARMONY_PROGRAM:
            strikes[round(note.start, 3)] = strikes.get(round(note.start, 3), frozenset()) | {note.pitch % 12}
    entries: list[float] = []
    for time in sorted(strikes):
        if not entries or strikes[time] != strikes[entries[-1]]:
            entries.append(time)
    return entries


def test_a_cut_to_a_lookalike_shot_keeps_the_phrase_and_a_given_cut_does_not(video, tmp_path):
    args = ["run", str(video), "--no-audio", "--vision", "color-stats", "--music", "arpeggio", "--seed", "2"]
    assert main([*args, "-o", str(tmp_path / "auto")]) == 0
    sidecar = json.loads((tmp_path / "auto" / "lookalike.json").read_text())["provenance"]
    assert [round(c) for c in sidecar["cuts"]] == [3, 6]
    assert [round(c) for c in sidecar["cuts_inside_phrases"]] == [3]
    midi = tmp_path / "auto" / "lookalike.mid"
    assert [round(m.time) for m in read_midi(midi).markers if m.text == "cut"] == [3, 6]
    entries = _chord_entries(midi)
    assert not any(2.5 < t < 3.5 for t in entries) and any(5.5 < t < 6.5 for t in entries)
    assert [round(t) for t in _theme_starts(midi)] == [0, 6]  # two musical shots
    (tmp_path / "cuts.txt").write_text("3.0\n6.0\n")
    assert main([*args, "--cuts", str(tmp_path / "cuts.txt"), "-o", str(tmp_path / "given")]) == 0
    assert [round(t) for t in _theme_starts(tmp_path / "given" / "lookalike.mid")] == [0, 3, 6]


def _theme_starts(midi) -> list[float]:
    return [m.time for m in read_midi(midi).markers if m.text.startswith("theme")]
