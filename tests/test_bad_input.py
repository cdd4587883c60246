"""Every bad input: a one-line error naming the input and the cause, exit != 0, nothing partial in the output."""

import os

import numpy as np
import pytest
from score_e2e import install_plugin, run_score

from score_core.bridge import PcaWhitening
from score_core.media.synthetic import truncate_file, write_audio_only, write_empty_video, write_test_video

EXAMPLE = ("--vision", "color-stats", "--music", "arpeggio")


def assert_refused(result, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("score: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def assert_empty(directory) -> None:
    assert not directory.exists() or list(directory.iterdir()) == []


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    assert_refused(run_score("run", tmp_path / "nope.mp4", *EXAMPLE, "-o", out), "nope.mp4", "no such file")
    assert_empty(out)


def test_not_a_video(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are not frames\n" * 50)
    out = tmp_path / "out"
    assert_refused(run_score("run", text, *EXAMPLE, "-o", out), "notes.mp4", "not a video")
    assert_empty(out)


def test_truncated_video(clip, tmp_path):
    broken = truncate_file(clip, tmp_path / "broken.mp4", 0.5)
    out = tmp_path / "out"
    assert_refused(run_score("run", broken, *EXAMPLE, "-o", out), "broken.mp4")
    assert_empty(out)


def test_zero_video_frames(tmp_path):
    empty = write_empty_video(tmp_path / "empty.avi")
    out = tmp_path / "out"
    assert_refused(run_score("run", empty, *EXAMPLE, "-o", out), "empty.avi", "no video frames")
    assert_empty(out)


def test_audio_only_file(tmp_path):
    sound = write_audio_only(tmp_path / "song.m4a", duration=5.0)
    out = tmp_path / "out"
    assert_refused(run_score("run", sound, *EXAMPLE, "-o", out), "song.m4a", "no video stream")
    assert_empty(out)


def test_video_shorter_than_one_segment(tmp_path):
    # --sync grid needs one whole segment; --sync cuts (the default) scores a short video as a partial segment
    short = write_test_video(tmp_path / "short.mp4", duration=2.0)
    out = tmp_path / "out"
    assert_refused(run_score("run", short, *EXAMPLE, "--sync", "grid", "-o", out), "short.mp4",
                   "shorter than one 4 s music segment")
    assert_empty(out)


def test_huge_resolution(tmp_path):
    huge = write_test_video(tmp_path / "huge.mp4", duration=1.0, fps=5, size=(64, 8448))
    out = tmp_path / "out"
    assert_refused(run_score("run", huge, *EXAMPLE, "-o", out), "huge.mp4", "8448x64", "limit")
    assert_empty(out)


def test_unknown_plugin_name(clip, tmp_path):
    out = tmp_path / "out"
    result = run_score("run", clip, "--vision", "colr-stats", "-o", out)
    assert_refused(result, "colr-stats", "did you mean color-stats")
    assert_empty(out)


FAULTY_PLUGIN = """
import numpy as np
from score_core import hookimpl
from score_core.contracts import EncoderSpec, LatentSpec
from score_core.registrations import DecoderRegistration, EncoderRegistration

class Exploding:
    spec = EncoderSpec(name="exploding", feature_size=4, input_size=(32, 32))
    def encode(self, frames):
        raise RuntimeError("kaboom in encode")
    def provenance(self):
        return {}

class Failing:
    latent_spec = LatentSpec(size=8, bars_per_segment=2)
    def decode(self, latents, *, temperature, seed):
        raise ValueError("kaboom in decode")
    def provenance(self):
        return {}

class Uniform(Failing):
    latent_spec = LatentSpec(size=8, bars_per_segment=2, prior="uniform")

@hookimpl
def register_encoders(register):
    register(EncoderRegistration("exploding", "raises", Exploding.spec, lambda weights: Exploding()))

@hookimpl
def register_decoders(register):
    register(DecoderRegistration("failing", "raises", Failing.latent_spec, lambda weights: Failing()))
    register(DecoderRegistration("uniform", "wants uniform latents", Uniform.latent_spec, lambda weights: Uniform()))
"""


@pytest.fixture
def faulty_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    return install_plugin(site, "faulty-plugin", FAULTY_PLUGIN)


def test_plugin_raising_inside_encode(clip, tmp_path, faulty_env):
    out = tmp_path / "out"
    result = run_score("run", clip, "--vision", "exploding", "--music", "arpeggio", "-o", out, env=faulty_env)
    assert_refused(result, "encoder 'exploding'", "kaboom in encode")
    assert_empty(out)


def test_plugin_raising_inside_decode(clip, tmp_path, faulty_env):
    out = tmp_path / "out"
    result = run_score("run", clip, "--vision", "color-stats", "--music", "failing", "-o", out, env=faulty_env)
    assert_refused(result, "decoder 'failing'", "kaboom in decode")
    assert_empty(out)


def test_incompatible_prior_names_both_plugins(clip, tmp_path, faulty_env):
    out = tmp_path / "out"
    result = run_score("run", clip, "--vision", "color-stats", "--music", "uniform", "-o", out, env=faulty_env)
    assert_refused(result, "bridge 'pca'", "decoder 'uniform'", "uniform")
    assert_empty(out)


def test_bridge_fitted_for_another_encoder(clip, tmp_path):
    bridge = tmp_path / "wide.npz"
    PcaWhitening.fit(np.random.default_rng(0).standard_normal((50, 1280)), 8, "efficientnet-lite0").save(bridge)
    out = tmp_path / "out"
    result = run_score("run", clip, *EXAMPLE, "--bridge-weights", bridge, "-o", out)
    assert_refused(result, "encoder 'color-stats'", "wide.npz", "17-d", "1280-d")
    assert_empty(out)


def test_output_directory_not_writable(clip, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    assert_refused(run_score("run", clip, *EXAMPLE, "-o", blocker / "out"), "file/out", "not writable")
    if os.geteuid() != 0:  # root writes anywhere, so a read-only directory only stops other users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_refused(run_score("run", clip, *EXAMPLE, "-o", locked), "locked", "not writable")


def test_existing_outputs_are_kept_unless_overwrite(clip, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "clip.mid"
    mine.write_bytes(b"my own work")
    assert_refused(run_score("run", clip, *EXAMPLE, "-o", out), "clip.mid", "already exists", "--overwrite")
    assert mine.read_bytes() == b"my own work"
    assert sorted(p.name for p in out.iterdir()) == ["clip.mid"]
    result = run_score("run", clip, *EXAMPLE, "-o", out, "--overwrite", "--no-audio")
    assert result.returncode == 0, result.stderr
    assert mine.read_bytes().startswith(b"MThd")


def test_output_may_not_replace_the_input(tmp_path):
    video = write_test_video(tmp_path / "clip.mp4", duration=5.0)
    result = run_score("run", video, *EXAMPLE, "-o", tmp_path, "--overwrite")
    assert_refused(result, "clip.mp4", "replace the input video")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_failure_in_a_late_writer_leaves_no_earlier_output(clip, tmp_path):
    out = tmp_path / "out"
    result = run_score("run", clip, *EXAMPLE, "-o", out, "--soundfont", tmp_path / "missing.sf2")
    assert_refused(result, "missing.sf2")
    assert_empty(out)
