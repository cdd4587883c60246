"""Training: the loss falls on a tiny overfit set, resume is exact, checkpoints load safely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from score_core.errors import ScoreError
from score_music.train import CHECKPOINT_NAME, TrainSettings, batch_indices, load_checkpoint, train


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread; two threads on two shared cores spin-wait badly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _windows(n: int, seed: int = 0) -> np.ndarray:
    """Melody-like windows: a few notes held with note-offs and rests."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 32), np.int64)
    for row in out:
        for start in range(0, 32, 4):
            row[start] = 2 + rng.integers(39, 60)
            row[start + 3] = 1
    return out


def test_the_loss_falls_on_a_tiny_overfit_set():
    data = _windows(8)
    seen = []
    report = train(TrainSettings(config="tiny", steps=100, batch_size=8, seed=0, scheduled_sampling="off",
                                 validate_every=100), data, data, progress=seen.append)
    assert len(seen) == 100 and seen[-1].step == 100
    first = np.mean([p.r_loss for p in seen[:5]])
    last = np.mean([p.r_loss for p in seen[-5:]])
    assert last < 0.5 * first, (first, last)
    # From chance (~1/90) to at least the rhythm (note-offs and rests are half of each window).
    assert seen[0].accuracy < 0.2 and seen[-1].accuracy >= 0.45
    assert report.validations and report.validations[-1].accuracy >= 0.45
    assert seen[-1].validation is report.validations[-1]


def test_resume_after_a_stop_is_bit_identical(tmp_path):
    data = _windows(40, seed=1)
    calls = []

    def augment(batch, rng):
        calls.append(batch.shape)
        shift = rng.integers(-2, 3)
        return np.where(batch >= 2, batch + shift, batch)

    common = dict(config="tiny", batch_size=16, seed=3, checkpoint_every=2, scheduled_sampling="exact")
    straight = train(TrainSettings(steps=6, checkpoint_dir=tmp_path / "a", **common), data, augment=augment)
    train(TrainSettings(steps=3, checkpoint_dir=tmp_path / "b", **common), data, augment=augment)
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)["step"] == 3
    resumed = train(TrainSettings(steps=6, checkpoint_dir=tmp_path / "b", resume=True, **common), data,
                    augment=augment)
    assert resumed.steps == 6 and len(calls) == 12
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    blob = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert blob["step"] == 6 and blob["config_name"] == "tiny" and "optimizer" in blob
    assert not [p for p in (tmp_path / "b").iterdir() if p.name != CHECKPOINT_NAME]  # no temp files left


def test_resume_refuses_another_config(tmp_path):
    data = _windows(16)
    train(TrainSettings(config="tiny", steps=1, batch_size=4, checkpoint_dir=tmp_path), data)
    with pytest.raises(ScoreError, match="checkpoint is config 'tiny'"):
        train(TrainSettings(config="tiny-hierdec", steps=2, batch_size=4, checkpoint_dir=tmp_path, resume=True), data)


def test_parallel_scheduled_sampling_runs_and_differs_from_teacher_forcing():
    data = _windows(16)
    late = dict(config="tiny", steps=2, batch_size=8, seed=0)
    off = train(TrainSettings(scheduled_sampling="off", **late), data)
    par = train(TrainSettings(scheduled_sampling="parallel", **late), data)
    assert off.last is not None and par.last is not None
    assert par.last.sampling_probability > 0
    assert off.last.loss != par.last.loss


def test_batches_walk_through_seeded_epochs():
    rows = np.concatenate([batch_indices(10, 4, seed=1, step=s) for s in range(5)])
    assert sorted(rows[:10].tolist()) == list(range(10))  # the first epoch covers every row once
    assert np.array_equal(batch_indices(10, 4, 1, 3), batch_indices(10, 4, 1, 3))


def test_bad_windows_are_refused():
    with pytest.raises(ScoreError, match="expected a non-empty"):
        train(TrainSettings(config="tiny", steps=1), np.zeros((4, 16), np.int64))


def test_a_run_from_weights_starts_from_them_at_their_step(tmp_path):
    from score_music.model.weights import save_weights
    from score_music.train import lr_at

    data = _windows(16)
    first = train(TrainSettings(config="tiny", steps=3, batch_size=4, seed=0), data)
    save_weights(first.model, first.model.config, tmp_path / "start.pt")
    settings = dict(config="tiny", batch_size=4, seed=5, init_weights=tmp_path / "start.pt", start_step=3)
    untouched = train(TrainSettings(steps=3, **settings), data)
    for (name, a), (_, b) in zip(first.model.state_dict().items(), untouched.model.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    seen = []
    report = train(TrainSettings(steps=5, **settings), data, progress=seen.append)
    assert [p.step for p in seen] == [4, 5] and report.steps == 5
    assert seen[0].lr == pytest.approx(lr_at(report.config, 3))  # the schedules go on from the start step
    with pytest.raises(ScoreError, match="expected 'tiny-drums'"):
        train(TrainSettings(config="tiny-drums", steps=1, batch_size=4, init_weights=tmp_path / "start.pt"),
              np.zeros((4, 32), np.int64))
