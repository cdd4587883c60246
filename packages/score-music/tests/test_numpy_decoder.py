"""The numpy decoder and weights reader that let `score run` decode MusicVAE without torch."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from score_core.contracts import LatentSpec, LatentTrack
from score_core.errors import ScoreError
from score_music.loading import load_decoder, load_drums_decoder
from score_music.model import MusicVAE, get_config, save_weights
from score_music.model.numpy_decoder import NumpyLstmDecoder, choose
from score_music.model.numpy_weights import read_numpy_weights
from score_music.shipped import shipped_weights


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    model = MusicVAE(get_config("tiny"))
    return save_weights(model, get_config("tiny"), tmp_path_factory.mktemp("w") / "tiny.pt")


def _torch_state(path: Path) -> dict[str, np.ndarray]:
    blob = torch.load(path, weights_only=True)
    return {k: v.float().numpy() for k, v in blob["state_dict"].items()}


@pytest.mark.parametrize("stem", [None, "musicvae-drums_2bar"])
def test_the_shipped_files_read_without_torch_as_torch_reads_them(stem):
    path = shipped_weights(stem).path
    read = read_numpy_weights(path)
    assert read is not None
    _, arrays = read
    reference = _torch_state(path)
    assert arrays.keys() == reference.keys()
    for key, value in reference.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def test_greedy_events_and_carried_state_match_the_torch_decoder(model_file):
    model = load_decoder(str(model_file)).model
    sampler = NumpyLstmDecoder(read_numpy_weights(model_file)[1])
    rng = np.random.default_rng(3)
    z_size = model.config.z_size
    first_path = rng.standard_normal((20, z_size)).astype(np.float32) * 2
    second_path = rng.standard_normal((12, z_size)).astype(np.float32) * 2
    events, state = sampler.sample(first_path, 0.0, rng)
    reference, torch_state = model.decode(torch.from_numpy(first_path)[None], steps=20, temperature=0.0)
    np.testing.assert_array_equal(events, reference[0].numpy())
    for (h, c), (th, tc) in zip(state, torch_state, strict=True):
        np.testing.assert_allclose(h, th[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(c, tc[0].numpy(), atol=1e-5)
    onsets = frozenset({0, 5})
    more, _ = sampler.sample(second_path, 0.0, rng, first_input=int(events[-1]), state=state, onset_steps=onsets)
    torch_more, _ = model.decode(torch.from_numpy(second_path)[None], steps=12, temperature=0.0,
                                 first_input=reference[:, -1], state=torch_state, onset_steps=onsets)
    np.testing.assert_array_equal(more, torch_more[0].numpy())
    assert all(more[t] >= 2 for t in onsets)  # only note-ons where an onset is asked for


def test_sampling_draws_each_event_with_its_softmax_probability():
    logits = np.array([2.0, 0.5, -1.0, 1.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    for temperature in (1.0, 0.5):
        draws = np.bincount([choose(logits, temperature, rng) for _ in range(40_000)], minlength=4) / 40_000
        expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
        np.testing.assert_allclose(draws, expected, atol=0.01)
    assert choose(logits, 0.0, rng) == 0


def _grid_track(spec: LatentSpec, steps: tuple[int, ...]) -> LatentTrack:
    total = sum(steps)
    rng = np.random.default_rng(5)
    starts = np.cumsum((0, *steps[:-1])).astype(np.float64) * 0.125
    ends = starts + np.asarray(steps) * 0.125
    return LatentTrack(
        starts=starts, ends=ends, values=rng.standard_normal((len(steps), spec.size)).astype(np.float32),
        spec=spec, tempo_bpm=120.0, step_times=np.arange(total + 1) * 0.125, segment_steps=steps,
        step_values=rng.standard_normal((total, spec.size)).astype(np.float32),
        segment_resets=(False, True, False),
    )


def test_the_default_decoder_writes_step_grids_without_loading_torch_model(model_file):
    decoder = load_decoder(str(model_file))
    track = _grid_track(decoder.latent_spec, (16, 24, 8))
    first = decoder.decode(track, temperature=1.0, seed=4)
    assert decoder._model is None  # decoded by the numpy sampler from the file alone
    assert decoder.decode(track, temperature=1.0, seed=4) == first
    assert decoder.decode(track, temperature=1.0, seed=5) != first
    assert load_drums_decoder(None)._sampler is not None


def test_score_music_imports_no_torch_to_decode_a_step_grid(model_file):
    code = (
        "import sys\n"
        "from score_music.loading import load_decoder\n"
        f"decoder = load_decoder({str(model_file)!r})\n"
        "assert decoder._sampler is not None\n"
        "print('torch' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def _pt_with_pickle(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w/data.pkl", payload)
        archive.writestr("w/byteorder", "little")
    return path


def test_a_file_that_is_not_plain_tensors_is_left_to_the_torch_loader_and_never_executed(tmp_path, model_file):
    marker = tmp_path / "pwned"

    class Touch:
        def __reduce__(self):
            return (Path.touch, (marker,))

    hostile = _pt_with_pickle(tmp_path / "hostile.pt", pickle.dumps({"format": "score-musicvae", "x": Touch()}))
    assert read_numpy_weights(hostile) is None and not marker.exists()
    with pytest.raises(ScoreError, match=r"hostile\.pt"):
        load_decoder(str(hostile))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(model_file.read_bytes()[:2000])
    assert read_numpy_weights(truncated) is None
    with pytest.raises(ScoreError, match=r"truncated\.pt"):
        load_decoder(str(truncated))


def test_non_finite_weights_are_refused_as_the_torch_loader_refuses_them(tmp_path):
    model = MusicVAE(get_config("tiny"))
    with torch.no_grad():
        model.decoder.output_projection.bias[0] = float("nan")
    path = save_weights(model, get_config("tiny"), tmp_path / "nan.pt")
    assert read_numpy_weights(path) is None
    with pytest.raises(ScoreError, match="NaN"):
        load_decoder(str(path))


def test_the_reader_rebuilds_strided_and_offset_tensors(tmp_path):
    base = torch.arange(24, dtype=torch.float16).reshape(4, 6)
    buffer = io.BytesIO()
    torch.save({"state_dict": {"t": base.t(), "s": base[1:, 2:]}}, buffer)
    path = tmp_path / "views.pt"
    path.write_bytes(buffer.getvalue())
    from score_music.model.numpy_weights import _read_pt

    blob = _read_pt(path)
    np.testing.assert_array_equal(blob["state_dict"]["t"], base.t().numpy())
    np.testing.assert_array_equal(blob["state_dict"]["s"], base[1:, 2:].numpy())
