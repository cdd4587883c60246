"""The evaluation's own cut detector (grey histograms) and hand-labelled cut files."""

from __future__ import annotations

import numpy as np
import pytest

from score_core.analysis.cuts import cuts_from_change, histogram_cuts, read_cut_file
from score_core.errors import ScoreError
from score_core.media.synthetic import write_test_video


def test_the_histogram_detector_finds_each_hard_cut_within_a_frame(tmp_path):
    cuts = (1.6, 4.0, 6.2)
    video = write_test_video(tmp_path / "cuts.mp4", duration=8.0, fps=25, size=(96, 128), cuts=cuts)
    found = histogram_cuts(video)
    assert len(found) == len(cuts)
    assert all(abs(f - c) <= 0.04 + 1e-6 for f, c in zip(found, cuts, strict=True))
    assert histogram_cuts(write_test_video(tmp_path / "plain.mp4", duration=5.0, size=(96, 128))) == []


def test_the_last_step_of_a_dissolve_into_a_still_shot_is_not_a_cut():
    # frame-to-frame histogram change at 25 fps: a still shot, a hard cut at 2.0 s, a one-second dissolve whose
    # changes grow to its last step at 6.0 s (as a mix into a shot with a peaked histogram does), a still shot
    times = np.arange(0, 8.0, 0.04)
    change = np.full(times.size, 0.005)
    change[50] = 0.6
    dissolve = (times > 5.0) & (times < 6.0)
    change[dissolve] = np.linspace(0.04, 0.12, int(dissolve.sum()))
    change[150] = 0.17
    assert cuts_from_change(times, change) == [2.0]


def test_cut_files_of_times_and_timecodes(tmp_path):
    plain = tmp_path / "cuts.txt"
    plain.write_text("# hand labels\n12.5\n\n1:02.25\n00:00:03:12\n3.5\n")
    assert read_cut_file(plain, frame_rate=25.0) == [3.48, 3.5, 12.5, 62.25]
    bad = tmp_path / "bad.txt"
    bad.write_text("1.0\nsoon\n")
    with pytest.raises(ScoreError, match=r"bad\.txt.*line 2"):
        read_cut_file(bad, frame_rate=25.0)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ScoreError, match="no cut times"):
        read_cut_file(empty, frame_rate=25.0)


def test_an_edl_gives_each_events_record_in_after_the_first(tmp_path):
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: montage\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:10:00 00:00:12:00 01:00:00:00 01:00:02:00\n"
        "* FROM CLIP NAME: a.mov\n"
        "002  AX       V     C        00:00:20:00 00:00:23:12 01:00:02:00 01:00:05:12\n"
        "003  BX       V     C        00:01:00:00 00:01:01:00 01:00:05:12 01:00:06:12\n"
    )
    assert read_cut_file(edl, frame_rate=25.0) == pytest.approx([2.0, 5.48])
