"""`score run` with `--sync cuts` (the default) through the real CLI: phrases start on the cuts, the MIDI tempo
map puts each cut where its cue point says, nothing rings across a cut; no cuts and `--sync grid` still work."""

import io
from itertools import pairwise

import mido
import pytest
from score_e2e import run_score

from score_core.media.synthetic import write_test_video
from score_core.midi import TICKS_PER_BEAT, read_midi

CUTS = (2.3, 5.1, 8.65)
FAST = ("--vision", "color-stats", "--music", "musicvae", "--no-audio")
LIGHT = ("--vision", "color-stats", "--music", "arpeggio", "--no-audio")
GRID_TICKS = {"downbeat": 4 * TICKS_PER_BEAT, "beat": TICKS_PER_BEAT, "step": TICKS_PER_BEAT // 4}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    _needs_musicvae()
    folder = tmp_path_factory.mktemp("sync")
    video = write_test_video(folder / "cuts.mp4", duration=11.0, cuts=CUTS)
    result = run_score("run", video, *FAST, "-o", folder / "out")
    assert result.returncode == 0, result.stderr
    return folder / "out" / "cuts.mid"


def _needs_musicvae():
    pytest.importorskip("score_music", reason="score-music is not installed (the light tox environment)")


def _sixteenth(score, time):
    bpm = [c.bpm for c in score.tempo_map if c.time <= time + 1e-6][-1] if score.tempo_map else score.tempo_bpm
    return 60.0 / bpm / 4


def test_a_phrase_and_a_note_start_within_one_sixteenth_of_each_cut(scored):
    score = read_midi(scored)
    segments = [m.time for m in score.markers if m.text.startswith("segment")]
    onsets = [n.start for n in score.notes]
    for cut in CUTS:
        step = _sixteenth(score, cut)
        assert min(abs(t - cut) for t in segments) <= step, cut
        assert min(abs(t - cut) for t in onsets) <= step, cut
        assert not [n for n in score.notes if n.start < cut - step and n.end > cut + step], "a note rings over a cut"


def test_the_tempo_map_puts_each_cut_where_its_cue_point_promises(scored):
    midi = mido.MidiFile(file=io.BytesIO(scored.read_bytes()))
    assert midi.type == 1
    now, cue_ticks = 0, {}
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "cue_marker" and message.text.startswith("cut"):
            cue_ticks[message.text] = now
    score = read_midi(scored)
    assert len(score.tempo_map) >= 2 and 80.0 <= score.tempo_bpm <= 140.5
    assert all(abs(c.bpm / score.tempo_bpm - 1) <= 0.09 for c in score.tempo_map)  # ±4 % around the base
    cues = {cue.text: cue.time for cue in score.cues}
    assert len(cues) == len(CUTS)
    for (text, tick), cut in zip(sorted(cue_ticks.items(), key=lambda item: item[1]), CUTS, strict=True):
        _, detected, place = text.split()
        detected = float(detected.rstrip("s"))
        assert abs(detected - cut) <= 0.04 + 1e-6  # the first frame of the new shot at 25 fps
        if place == "snapped":
            assert abs(cues[text] - detected) <= _sixteenth(score, cut) / 2 + 2e-3
        else:
            assert tick % GRID_TICKS[place] == 0, text
            assert abs(cues[text] - detected) <= 2e-3, text  # the phrase starts exactly on the cut


def test_a_video_without_cuts_is_scored_with_one_tempo(tmp_path):
    _needs_musicvae()
    video = write_test_video(tmp_path / "still.mp4", duration=5.0)
    result = run_score("run", video, *FAST, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    score = read_midi(tmp_path / "out" / "still.mid")
    assert score.notes and score.tempo_map == () and score.cues == ()


def test_sync_grid_keeps_fixed_segments(tmp_path):
    video = write_test_video(tmp_path / "grid.mp4", duration=9.0, cuts=CUTS)
    result = run_score("run", video, *LIGHT, "--sync", "grid", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    score = read_midi(tmp_path / "out" / "grid.mid")
    assert score.tempo_bpm == pytest.approx(120.0) and score.tempo_map == ()
    assert [m.time for m in score.markers if m.text.startswith("segment")] == pytest.approx([0.0, 4.0, 8.0])


def test_bad_sync_options_are_one_line_errors(tmp_path):
    video = write_test_video(tmp_path / "v.mp4", duration=3.0)
    for option in (("--sync", "beats"), ("--tempo-range", "fast")):
        result = run_score("run", video, *LIGHT, *option, "-o", tmp_path / "out")
        assert result.returncode != 0 and result.stderr.startswith("score: error:"), result.stderr
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_default_run_stays_in_one_key_across_its_cuts(scored):
    from score_core.keys import Key

    score = read_midi(scored)
    # --key auto with its scale fit, cuts move by scale degrees: one diatonic scale holds every shot's notes.
    scales = [Key(tonic, "major").scale() for tonic in range(12)]
    holding = [scale for scale in scales if all(n.pitch % 12 in scale for n in score.notes)]
    assert holding, sorted({n.pitch % 12 for n in score.notes})
    shots = [0.0, *CUTS, score.duration]
    for start, end in pairwise(shots):
        assert any(n.start >= start and n.start < end for n in score.notes)  # every shot plays
