"""Magenta's cat-drums_2bar_small and hierdec-trio_16bar checkpoints: names, shapes, and decodes against an
independent numpy reference of Magenta's graph (LSTMBlockCell math, drum-roll encoder input, split core
decoders). Synthetic checkpoints of the exact variable names; numpy only (no TensorFlow needed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from score_cli.app import main
from score_core.errors import ScoreError
from score_music.magenta import convert_magenta, expected_variables
from score_music.model import get_config
from score_music.model.weights import build_model, load_weights
from score_music.trio_decoder import load_trio_decoder


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def block_cell(x, h, c, kernel, bias):
    """TF's LSTMBlockCell: gates i, c, f, o from [x, h]; forget bias 1.0 added at run time."""
    i, ci, f, o = np.split(np.concatenate([x, h], axis=1) @ kernel + bias, 4, axis=1)
    cs = np.tanh(ci) * sigmoid(i) + c * sigmoid(f + 1.0)
    return np.tanh(cs) * sigmoid(o), cs


def initial_state(v, name, cond, sizes):
    flat = np.tanh(cond @ v[f"{name}/kernel"] + v[f"{name}/bias"])
    parts = np.split(flat, np.cumsum([s for size in sizes for s in (size, size)])[:-1], axis=1)
    return [(parts[2 * i + 1], parts[2 * i]) for i in range(len(sizes))]  # (h, c) from c0, h0, c1, h1, …


def encode(v, sizes, x):
    finals = None
    for layer, size in enumerate(sizes):
        outs = {}
        for d in ("fw", "bw"):
            p = f"encoder/cell_{layer}/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell"
            h = c = np.zeros((x.shape[0], size))
            seq = [None] * x.shape[1]
            for t in (range(x.shape[1]) if d == "fw" else reversed(range(x.shape[1]))):
                h, c = block_cell(x[:, t], h, c, v[f"{p}/kernel"], v[f"{p}/bias"])
                seq[t] = h
            outs[d] = (np.stack(seq, axis=1), h)
        x = np.concatenate([outs["fw"][0], outs["bw"][0]], axis=2)
        finals = np.concatenate([outs["fw"][1], outs["bw"][1]], axis=1)
    return finals @ v["encoder/mu/kernel"] + v["encoder/mu/bias"]


def core_decode(v, prefix, sizes, cond, steps, previous, classes):
    state = initial_state(v, f"{prefix}/z_to_initial_state", cond, sizes)
    events = []
    for _ in range(steps):
        x = np.concatenate([previous, cond], axis=1)
        for layer in range(len(sizes)):
            p = f"{prefix}/multi_rnn_cell/cell_{layer}/lstm_cell"
            state[layer] = block_cell(x, *state[layer], v[f"{p}/kernel"], v[f"{p}/bias"])
            x = state[layer][0]
        chosen = (x @ v[f"{prefix}/output_projection/kernel"] + v[f"{prefix}/output_projection/bias"]).argmax(1)
        events.append(chosen)
        previous = np.eye(classes)[chosen]
    return np.stack(events, axis=1)


def trio_decode(v, config, z):
    """Conductor over bars (zeros in), then per bar the three core decoders, each from its last event."""
    level = "decoder/hierarchical_level_0"
    state = initial_state(v, f"{level}/initial_state", z, config.conductor_sizes)
    previous = [np.zeros((z.shape[0], k)) for k in config.part_classes]
    bars = []
    for _ in range(config.num_segments):
        x = np.zeros((z.shape[0], 1))
        for layer in range(len(config.conductor_sizes)):
            p = f"{level}/cell_{layer}/lstm_cell"
            state[layer] = block_cell(x, *state[layer], v[f"{p}/kernel"], v[f"{p}/bias"])
            x = state[layer][0]
        parts = []
        for i, classes in enumerate(config.part_classes):
            ev = core_decode(v, f"core_decoder/core_decoder_{i}/decoder", config.decoder_sizes, x,
                             config.segment_steps, previous[i], classes)
            previous[i] = np.eye(classes)[ev[:, -1]]
            parts.append(ev)
        bars.append(np.stack(parts, axis=-1))
    return np.concatenate(bars, axis=1)


def random_checkpoint(config, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    out = {name: (rng.standard_normal(shape) * scale).astype(np.float32)
           for name, shape in expected_variables(config).items()}
    out["global_step"] = np.array(1234, np.int64)
    return out


DRUMS = dataclasses.replace(get_config("cat-drums_2bar_small"), encoder_sizes=(7,), z_size=5, decoder_sizes=(6, 6))
TRIO = dataclasses.replace(get_config("hierdec-trio_16bar"), encoder_sizes=(5, 4), z_size=4, decoder_sizes=(6, 5),
                           conductor_sizes=(5, 3), seq_len=48, num_segments=3)


def test_variable_names_and_shapes_of_the_real_drums_and_trio_configs():
    drums = expected_variables("cat-drums_2bar_small")
    assert len(drums) == 16
    assert drums["encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (10 + 512, 2048)
    assert drums["encoder/mu/kernel"] == (1024, 256)
    assert drums["decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (512 + 256 + 256, 1024)
    assert drums["decoder/output_projection/kernel"] == (256, 512)
    trio = expected_variables("hierdec-trio_16bar")
    assert len(trio) == 8 + 4 + 6 + 3 * 8
    assert trio["encoder/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (692 + 2048, 8192)
    assert trio["encoder/cell_1/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (4096 + 2048, 8192)
    assert trio["decoder/hierarchical_level_0/initial_state/kernel"] == (512, 4 * 1024)
    assert trio["decoder/hierarchical_level_0/cell_0/lstm_cell/kernel"] == (1 + 1024, 4096)
    for i, classes in enumerate((90, 90, 512)):
        core = f"core_decoder/core_decoder_{i}/decoder"
        assert trio[f"{core}/z_to_initial_state/kernel"] == (1024, 4 * 1024)
        assert trio[f"{core}/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (classes + 1024 + 1024, 4096)
        assert trio[f"{core}/output_projection/kernel"] == (1024, classes)
    assert not any(k.startswith("core_decoder/decoder/") for k in trio)


def test_synthetic_drums_checkpoint_encodes_the_roll_and_decodes_like_magenta():
    variables = random_checkpoint(DRUMS)
    model = build_model(DRUMS)
    model.load_state_dict(convert_magenta(variables, DRUMS))
    events = np.random.default_rng(5).integers(0, 512, (3, 32))
    bits = (events[..., None] >> np.arange(9)) & 1
    roll = np.concatenate([bits, (bits.sum(-1, keepdims=True) == 0)], axis=-1).astype(np.float64)
    mu, _ = model.encode(torch.as_tensor(events))
    np.testing.assert_allclose(mu.detach().numpy(), encode(variables, DRUMS.encoder_sizes, roll), atol=1e-4)
    z = np.random.default_rng(6).standard_normal((3, DRUMS.z_size)).astype(np.float32)
    want = core_decode(variables, "decoder", DRUMS.decoder_sizes, z, 32, np.zeros((3, 512)), 512)
    np.testing.assert_array_equal(model.decode(torch.from_numpy(z))[0].numpy(), want)


def test_synthetic_trio_checkpoint_encodes_and_decodes_like_magenta():
    variables = random_checkpoint(TRIO, seed=2)
    model = build_model(TRIO)
    model.load_state_dict(convert_magenta(variables, TRIO))
    rng = np.random.default_rng(7)
    events = np.stack([rng.integers(0, k, (2, TRIO.seq_len)) for k in TRIO.part_classes], axis=-1)
    one_hot = np.concatenate([np.eye(k)[events[..., i]] for i, k in enumerate(TRIO.part_classes)], axis=-1)
    mu, _ = model.encode(torch.as_tensor(events))
    np.testing.assert_allclose(mu.detach().numpy(), encode(variables, TRIO.encoder_sizes, one_hot), atol=1e-4)
    z = rng.standard_normal((2, TRIO.z_size)).astype(np.float32)
    got = model.decode(torch.from_numpy(z))[0].numpy()
    assert got.shape == (2, TRIO.seq_len, 3)
    np.testing.assert_array_equal(got, trio_decode(variables, TRIO, z))


def test_wrong_config_checkpoints_are_refused_naming_the_first_mismatch():
    drums = random_checkpoint(DRUMS)
    melody_config = dataclasses.replace(get_config("cat-mel_2bar_small"), encoder_sizes=(7,), z_size=5,
                                        decoder_sizes=(6, 6))
    name = "encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"
    with pytest.raises(ScoreError, match=rf"variable {name} has shape \(17, 28\), expected \(97, 28\)"):
        convert_magenta(drums, melody_config)
    trio = random_checkpoint(TRIO)
    as_melody = dataclasses.replace(get_config("hierdec-mel_16bar"), encoder_sizes=(5, 4), z_size=4,
                                    decoder_sizes=(6, 5), conductor_sizes=(5, 3), seq_len=48, num_segments=3)
    with pytest.raises(ScoreError, match=r"unexpected variable core_decoder/core_decoder_0/decoder/"):
        convert_magenta(trio, as_melody)
    missing = {k: v for k, v in trio.items() if not k.startswith("core_decoder/core_decoder_2/")}
    with pytest.raises(ScoreError, match="missing variable core_decoder/core_decoder_2/decoder/z_to_initial_state"):
        convert_magenta(missing, TRIO)


def _write_tfjs(folder, variables):
    import json

    entries, blob = [], b""
    for name, value in variables.items():
        if "/" not in name:
            continue
        value = np.asarray(value, "<f4")
        entries.append({"name": name, "shape": list(value.shape), "dtype": "float32"})
        blob += value.tobytes()
    (folder / "group1-shard1of1").write_bytes(blob)
    (folder / "weights_manifest.json").write_text(json.dumps([{"paths": ["group1-shard1of1"], "weights": entries}]))


def test_imported_drums_and_trio_checkpoints_run_from_the_cli(tmp_path, capsys):
    tiny_trio = get_config("tiny-trio")
    trio_dir = tmp_path / "trio"
    trio_dir.mkdir()
    _write_tfjs(trio_dir, random_checkpoint(tiny_trio, seed=3))
    out = tmp_path / "trio.pt"
    assert main(["music", "import-magenta", str(trio_dir), "-o", str(out), "--config", "tiny-trio"]) == 0
    _model, config = load_weights(out)
    assert config.part_classes == (90, 90, 512)
    decoder = load_trio_decoder(str(out))
    from score_core.testing import check_decoder

    check_decoder(decoder)
    score = decoder.decode(_track(decoder), temperature=1.0, seed=0)
    assert {n.program for n in score.notes if not n.is_drum} <= {0, 33}
    assert any(n.is_drum for n in score.notes)
    drums_dir = tmp_path / "drums"
    drums_dir.mkdir()
    _write_tfjs(drums_dir, random_checkpoint(get_config("tiny-drums"), seed=4))
    drums = tmp_path / "drums.pt"
    assert main(["music", "import-magenta", str(drums_dir), "-o", str(drums), "--config", "tiny-drums"]) == 0
    sample = tmp_path / "sample.mid"
    assert main(["music", "sample", "--model", "drums", "--weights", str(drums), "-o", str(sample)]) == 0
    assert main(["music", "import-magenta", str(trio_dir), "-o", str(tmp_path / "x.pt"), "--config",
                 "tiny-drums"]) == 2
    assert "unexpected variable" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_the_trio_decoder_needs_user_weights():
    with pytest.raises(ScoreError, match="no trio weights ship with score"):
        load_trio_decoder(None)


def _track(decoder):
    from score_core.contracts import LatentTrack

    spec = decoder.latent_spec
    seconds = spec.segment_seconds(120.0)
    values = np.random.default_rng(0).standard_normal((2, spec.size)).astype(np.float32)
    return LatentTrack(starts=[0.0, seconds], ends=[seconds, 2 * seconds], values=values, spec=spec, tempo_bpm=120)
