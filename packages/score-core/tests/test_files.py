import os
import stat

import pytest

from score_core.errors import ScoreError
from score_core.files import StagedOutputs, atomic_write_bytes, ensure_writable_directory


def test_staged_outputs_appear_together_with_ordinary_permissions(tmp_path):
    targets = {"a": tmp_path / "x.mid", "b": tmp_path / "x.wav"}
    staged = StagedOutputs(targets)
    for key in targets:
        staged.stage(key).write_text(key)
    assert not any(path.exists() for path in targets.values())
    staged.commit()
    mask = os.umask(0)
    os.umask(mask)
    for key, path in targets.items():
        assert path.read_text() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mid", "x.wav"]


def test_discarded_outputs_leave_nothing(tmp_path):
    staged = StagedOutputs({"a": tmp_path / "x.mid"})
    staged.stage("a").write_text("half")
    staged.discard()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "bridge.npz"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["bridge.npz"]


def test_output_directory_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ScoreError, match="not writable"):
        ensure_writable_directory(blocker / "out")
    with pytest.raises(ScoreError, match="not a directory"):
        ensure_writable_directory(blocker)
