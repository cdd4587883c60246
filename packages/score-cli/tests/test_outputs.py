"""Outputs are claimed and replaced all or nothing; inputs are files, never URLs; sidecars are strict JSON."""

import json
import subprocess
import sys

import pytest

from score_cli.app import main
from score_core.errors import ScoreError
from score_core.files import OutputClaim, StagedOutputs, atomic_path
from score_core.media.synthetic import write_test_video

EXAMPLE = ["--vision", "color-stats", "--music", "arpeggio", "--no-audio"]

HOLD_CLAIM = """
import sys
from pathlib import Path
from score_core.files import OutputClaim, temporary_beside
claim = OutputClaim(Path(sys.argv[1]), "clip").acquire()
temporary_beside(Path(sys.argv[1]) / "clip.mid").write_bytes(b"half a midi file")
print("claimed", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", duration=5.0)


def _one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_concurrent_run_into_the_same_folder_is_refused_and_a_killed_ones_leftovers_removed(clip, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CLAIM, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "claimed\n"
        assert main(["run", str(clip), *EXAMPLE, "-o", str(out)]) == 2
        error = _one_line_error(capsys)
        assert "another score run" in error and str(holder.pid) in error
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []
    finally:
        holder.kill()
        holder.wait()
    leftovers = [p.name for p in out.iterdir() if ".part" in p.name]
    assert len(leftovers) == 1  # what the killed run left behind
    assert main(["run", str(clip), *EXAMPLE, "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.mid"]


def test_the_claim_is_exclusive_and_released(tmp_path):
    with OutputClaim(tmp_path, "clip"):
        with pytest.raises(ScoreError, match="another score run"):
            OutputClaim(tmp_path, "clip").acquire()
        with OutputClaim(tmp_path, "clip.v2"):  # another video's outputs are not claimed
            pass
    with OutputClaim(tmp_path, "clip"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_other_outputs_are_kept(tmp_path):
    mine = tmp_path / ".clip.abcd_123.part.mid"
    other = tmp_path / ".clip.v2.abcd_123.part.mid"
    for path in (mine, other):
        path.write_bytes(b"x")
    with OutputClaim(tmp_path, "clip"):
        assert not mine.exists() and other.exists()


def test_overwrite_replaces_every_target_or_none(tmp_path):
    targets = {"a": tmp_path / "x.mid", "b": tmp_path / "x.json"}
    for path in targets.values():
        path.write_text("mine")
    staged = StagedOutputs(targets, overwrite=True)
    staged.stage("a").write_text("new a")
    staged.stage("b").unlink()  # b's output vanished: its rename fails after a's could have been done
    with pytest.raises(ScoreError):
        staged.commit()
    staged.discard()
    assert {key: path.read_text() for key, path in targets.items()} == {"a": "mine", "b": "mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.mid"]
    staged = StagedOutputs(targets, overwrite=True)
    for key in targets:
        staged.stage(key).write_text(f"new {key}")
    staged.commit()
    assert {key: path.read_text() for key, path in targets.items()} == {"a": "new a", "b": "new b"}


def test_without_overwrite_a_target_created_meanwhile_is_kept(tmp_path):
    target = tmp_path / "x.mid"
    with pytest.raises(ScoreError, match="already exists"), atomic_path(target, overwrite=False) as temporary:
        temporary.write_text("ours")
        target.write_text("theirs, created while we worked")
    assert target.read_text() == "theirs, created while we worked"
    assert [p.name for p in tmp_path.iterdir()] == ["x.mid"]


def test_an_output_that_is_a_directory_is_refused_before_work(clip, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "clip.json").mkdir(parents=True)
    assert main(["run", str(clip), *EXAMPLE, "-o", str(out), "--overwrite"]) == 2
    assert "clip.json: is a directory" in _one_line_error(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["clip.json"]


def test_an_input_path_is_a_file_never_a_url(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_test_video(tmp_path / "file:clip.mp4", duration=5.0)
    write_test_video(tmp_path / "clip.mp4", duration=9.0)  # what FFmpeg's file: protocol would read instead
    assert main(["run", "file:clip.mp4", *EXAMPLE, "-o", "out"]) == 0
    sidecar = json.loads((tmp_path / "out" / "file:clip.json").read_text())
    assert sidecar["video"]["duration"] == pytest.approx(5.0, abs=0.2)


@pytest.mark.parametrize("option", [["--temperature", "inf"], ["--fps", "inf"]])
def test_non_finite_numbers_are_refused(clip, tmp_path, capsys, option):
    assert main(["run", str(clip), *EXAMPLE, "-o", str(tmp_path / "out"), *option]) == 2
    assert _one_line_error(capsys) == f"score: error: {option[0]}: must be a finite number, not inf"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_the_sidecar_is_strict_json():
    from score_core.builtin import strict_json

    text = strict_json({"peak": float("inf"), "values": [1.5, float("nan")], "path": tmp_path_like()})
    assert json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON")) == {
        "peak": None, "values": [1.5, None], "path": "somewhere"}


class tmp_path_like:
    def __str__(self) -> str:
        return "somewhere"
