"""Magenta checkpoint import: names, shapes, gate order, forget bias, full decodes against references."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from score_core.errors import ScoreError
from score_music.magenta import (
    convert_magenta,
    expected_variables,
    import_magenta,
    import_tensorflow,
    read_checkpoint,
    read_tfjs_manifest,
)
from score_music.model import MusicVAE, get_config
from score_music.model.lstm import magenta_cell_to_torch

try:
    tf = import_tensorflow()  # never a bare `import tensorflow`: see import_tensorflow
except ImportError:
    tf = None
needs_tf = pytest.mark.skipif(tf is None, reason="tensorflow not installed (optional extra score-music[magenta])")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread; two threads on two shared cores spin-wait badly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- An independent reference: TF's LSTMBlockCell as its documentation states it -------------------------------
#   xh = [x, h_prev]; [i, ci, f, o] = xh · w + b; f = f + forget_bias
#   i = σ(i); f = σ(f); ci = tanh(ci); o = σ(o); cs = ci ⊙ i + cs_prev ⊙ f; h = tanh(cs) ⊙ o


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def block_cell(x, h, c, kernel, bias, forget_bias=1.0):
    gates = np.concatenate([x, h], axis=1) @ kernel + bias
    i, ci, f, o = np.split(gates, 4, axis=1)
    cs = np.tanh(ci) * sigmoid(i) + c * sigmoid(f + forget_bias)
    return np.tanh(cs) * sigmoid(o), cs


def ref_initial(v, name, cond, sizes):
    flat = np.tanh(cond @ v[f"{name}/kernel"] + v[f"{name}/bias"])
    parts = np.split(flat, np.cumsum([s for size in sizes for s in (size, size)])[:-1], axis=1)
    return [(parts[2 * i + 1], parts[2 * i]) for i in range(len(sizes))]  # (h, c) from c0, h0, c1, h1, …


def ref_encode(v, config, events):
    x = np.eye(config.num_classes, dtype=np.float64)[events]
    finals = None
    for layer, size in enumerate(config.encoder_sizes):
        outs = {}
        for d in ("fw", "bw"):
            p = f"encoder/cell_{layer}/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell"
            h = c = np.zeros((x.shape[0], size))
            seq = [None] * x.shape[1]
            order = range(x.shape[1]) if d == "fw" else reversed(range(x.shape[1]))
            for t in order:
                h, c = block_cell(x[:, t], h, c, v[f"{p}/kernel"], v[f"{p}/bias"])
                seq[t] = h
            outs[d] = (np.stack(seq, axis=1), h)
        x = np.concatenate([outs["fw"][0], outs["bw"][0]], axis=2)
        finals = np.concatenate([outs["fw"][1], outs["bw"][1]], axis=1)
    return finals @ v["encoder/mu/kernel"] + v["encoder/mu/bias"]


def ref_core_decode(v, prefix, sizes, cond, steps, previous, num_classes):
    state = ref_initial(v, f"{prefix}/z_to_initial_state", cond, sizes)
    events, all_logits = [], []
    for _ in range(steps):
        x = np.concatenate([previous, cond], axis=1)
        for layer in range(len(sizes)):
            p = f"{prefix}/multi_rnn_cell/cell_{layer}/lstm_cell"
            h, c = block_cell(x, *state[layer], v[f"{p}/kernel"], v[f"{p}/bias"])
            state[layer] = (h, c)
            x = h
        logits = x @ v[f"{prefix}/output_projection/kernel"] + v[f"{prefix}/output_projection/bias"]
        chosen = logits.argmax(axis=1)
        events.append(chosen)
        all_logits.append(logits)
        previous = np.eye(num_classes)[chosen]
    return np.stack(events, axis=1), np.stack(all_logits, axis=1)


def ref_decode(v, config, z):
    batch = z.shape[0]
    if not config.hierarchical:
        return ref_core_decode(v, "decoder", config.decoder_sizes, z, config.seq_len,
                               np.zeros((batch, config.num_classes)), config.num_classes)
    level = "decoder/hierarchical_level_0"
    state = ref_initial(v, f"{level}/initial_state", z, config.conductor_sizes)
    previous = np.zeros((batch, config.num_classes))
    pieces, logits = [], []
    for _ in range(config.num_segments):
        x = np.zeros((batch, 1))
        for layer in range(len(config.conductor_sizes)):
            p = f"{level}/cell_{layer}/lstm_cell"
            state[layer] = block_cell(x, *state[layer], v[f"{p}/kernel"], v[f"{p}/bias"])
            x = state[layer][0]
        ev, lg = ref_core_decode(v, "core_decoder/decoder", config.decoder_sizes, x, config.segment_steps, previous,
                                 config.num_classes)
        pieces.append(ev)
        logits.append(lg)
        previous = np.eye(config.num_classes)[ev[:, -1]]
    return np.concatenate(pieces, axis=1), np.concatenate(logits, axis=1)


def random_checkpoint(config, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    out = {name: (rng.standard_normal(shape) * scale).astype(np.float32)
           for name, shape in expected_variables(config).items()}
    out["global_step"] = np.array(1234, np.int64)
    out["decoder/output_projection/kernel/Adam"] = np.zeros(1, np.float32)  # optimizer slots are ignored
    return out


# Every Magenta config's layer structure, with tiny sizes (names are exactly those of the real config).
SMALL_CONFIGS = [
    dataclasses.replace(get_config("cat-mel_2bar_small"), encoder_sizes=(7,), z_size=5, decoder_sizes=(6, 6)),
    dataclasses.replace(get_config("cat-mel_2bar_big"), encoder_sizes=(7,), z_size=5, decoder_sizes=(6, 6, 6)),
    dataclasses.replace(get_config("hierdec-mel_16bar"), encoder_sizes=(5, 5), z_size=4, decoder_sizes=(6, 6),
                        conductor_sizes=(5, 5), seq_len=64, num_segments=16),
]


def test_variable_names_and_shapes_of_the_real_configs():
    small = expected_variables("cat-mel_2bar_small")
    assert small["encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (90 + 512, 2048)
    assert small["encoder/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/bias"] == (2048,)
    assert small["encoder/mu/kernel"] == (1024, 256)
    assert small["encoder/sigma/bias"] == (256,)
    assert small["decoder/z_to_initial_state/kernel"] == (256, 4 * 256)
    assert small["decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (90 + 256 + 256, 1024)
    assert small["decoder/multi_rnn_cell/cell_1/lstm_cell/kernel"] == (512, 1024)
    assert small["decoder/output_projection/kernel"] == (256, 90)
    assert len(small) == 16
    big = expected_variables("cat-mel_2bar_big")
    assert big["decoder/multi_rnn_cell/cell_2/lstm_cell/kernel"] == (4096, 8192)
    assert big["decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (90 + 512 + 2048, 8192)
    hier = expected_variables("hierdec-mel_16bar")
    assert hier["encoder/cell_1/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (4096 + 2048, 8192)
    assert hier["decoder/hierarchical_level_0/initial_state/kernel"] == (512, 4 * 1024)
    assert hier["decoder/hierarchical_level_0/cell_0/lstm_cell/kernel"] == (1 + 1024, 4096)
    assert hier["core_decoder/decoder/z_to_initial_state/kernel"] == (1024, 4 * 1024)
    assert hier["core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (90 + 1024 + 1024, 4096)
    assert hier["core_decoder/decoder/output_projection/bias"] == (90,)
    assert not any(k.startswith("decoder/multi_rnn_cell") for k in hier)


def _torch_step(kernel, bias, x, h, c):
    parts = magenta_cell_to_torch(kernel, bias, x.shape[1])
    lstm = torch.nn.LSTM(x.shape[1], h.shape[1], batch_first=True)
    lstm.load_state_dict({f"{k}_l0": torch.from_numpy(v) for k, v in parts.items()})
    with torch.no_grad():
        _, (h1, c1) = lstm(torch.from_numpy(x[:, None]), (torch.from_numpy(h[None]), torch.from_numpy(c[None])))
    return h1[0].numpy(), c1[0].numpy()


def _random_cell(seed=1, n_in=5, hidden=4, batch=3):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return (rng.standard_normal((n_in + hidden, 4 * hidden)).astype(f32), rng.standard_normal(4 * hidden).astype(f32),
            rng.standard_normal((batch, n_in)).astype(f32), rng.standard_normal((batch, hidden)).astype(f32),
            rng.standard_normal((batch, hidden)).astype(f32))


def test_one_converted_lstm_step_equals_the_numpy_block_cell():
    kernel, bias, x, h, c = _random_cell()
    want_h, want_c = block_cell(x.astype(np.float64), h, c, kernel, bias)
    got_h, got_c = _torch_step(kernel, bias, x, h, c)
    np.testing.assert_allclose(got_h, want_h, atol=1e-5)
    np.testing.assert_allclose(got_c, want_c, atol=1e-5)


def test_the_reference_catches_a_missing_reorder_or_forget_bias():
    kernel, bias, x, h, c = _random_cell()
    want_h, _ = block_cell(x.astype(np.float64), h, c, kernel, bias)
    no_bias = block_cell(x.astype(np.float64), h, c, kernel, bias, forget_bias=0.0)[0]
    assert not np.allclose(no_bias, want_h, atol=1e-3)
    i, j, f, o = np.split(kernel, 4, axis=1)
    bi, bj, bf, bo = np.split(bias, 4)
    # A converter that forgot the reorder is equivalent to feeding torch the i, c, f, o layout as is.
    wrong = _torch_step(np.concatenate([i, f, j, o], 1), np.concatenate([bi, bf, bj, bo]), x, h, c)[0]
    assert not np.allclose(wrong, want_h, atol=1e-3)


@needs_tf
def test_one_converted_lstm_step_equals_tensorflow_lstm_block_cell():
    kernel, bias, x, h, c = _random_cell(seed=3, n_in=7, hidden=6, batch=2)
    zeros = tf.zeros(6)
    out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=c, h_prev=h, w=kernel, wci=zeros, wcf=zeros, wco=zeros, b=bias,
                                   forget_bias=1.0, cell_clip=-1.0, use_peephole=False)
    got_h, got_c = _torch_step(kernel, bias, x, h, c)
    np.testing.assert_allclose(got_h, out.h.numpy(), atol=1e-5)
    np.testing.assert_allclose(got_c, out.cs.numpy(), atol=1e-5)


@pytest.mark.parametrize("config", SMALL_CONFIGS, ids=lambda c: c.name)
def test_synthetic_checkpoint_round_trip_matches_the_numpy_reference(config):
    variables = random_checkpoint(config)
    model = MusicVAE(config)
    model.load_state_dict(convert_magenta(variables, config))
    events = np.random.default_rng(5).integers(0, 90, (3, config.seq_len))
    mu, _ = model.encode(torch.as_tensor(events))
    ref_mu = ref_encode(variables, config, events)
    np.testing.assert_allclose(mu.detach().numpy(), ref_mu, atol=1e-4)
    z = np.random.default_rng(6).standard_normal((3, config.z_size)).astype(np.float32)
    ref_events, ref_logits = ref_decode(variables, config, z)
    got, _ = model.decode(torch.from_numpy(z), temperature=0.0)
    np.testing.assert_array_equal(got.numpy(), ref_events)
    with torch.no_grad():
        logits = model.teacher_forced_logits(torch.as_tensor(ref_events), torch.from_numpy(z))
    np.testing.assert_allclose(logits.numpy(), ref_logits, atol=1e-4)


def test_mismatched_checkpoints_are_refused_naming_the_variable():
    config = SMALL_CONFIGS[0]
    variables = random_checkpoint(config)
    missing = dict(variables)
    del missing["decoder/multi_rnn_cell/cell_1/lstm_cell/bias"]
    with pytest.raises(ScoreError, match="missing variable decoder/multi_rnn_cell/cell_1/lstm_cell/bias"):
        convert_magenta(missing, config)
    extra = dict(variables, **{"decoder/multi_rnn_cell/cell_2/lstm_cell/kernel": np.zeros((12, 24), np.float32)})
    name = "decoder/multi_rnn_cell/cell_2/lstm_cell/kernel"
    with pytest.raises(ScoreError, match=rf"unexpected variable {name} \(12, 24\)"):
        convert_magenta(extra, config)
    bad = dict(variables, **{"encoder/mu/kernel": np.zeros((3, 3), np.float32)})
    with pytest.raises(ScoreError, match=r"encoder/mu/kernel has shape \(3, 3\), expected \(14, 5\)"):
        convert_magenta(bad, config)
    with pytest.raises(ScoreError, match="missing variable encoder/sigma"):
        convert_magenta({k: v for k, v in variables.items() if "sigma" not in k}, config)
    sigma_free = convert_magenta({k: v for k, v in variables.items() if "sigma" not in k}, config,
                                 allow_missing_sigma=True)
    assert float(torch.nn.functional.softplus(sigma_free["encoder.sigma.bias"]).max()) < 1e-6


def write_manifest(folder, variables, quantize=()):
    """A magenta.js checkpoint: weights_manifest.json + 2 shards, some weights uint8-quantized."""
    entries, blob = [], b""
    for name, value in variables.items():
        value = np.asarray(value, np.float32)
        entry = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        if name in quantize:
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / 255 or 1.0
            q = np.round((value - lo) / scale).astype(np.uint8)
            entry["quantization"] = {"min": lo, "scale": scale, "dtype": "uint8"}
            blob += q.tobytes()
        else:
            blob += value.astype("<f4").tobytes()
        entries.append(entry)
    half = len(blob) // 2
    (folder / "group1-shard1of2").write_bytes(blob[:half])
    (folder / "group1-shard2of2").write_bytes(blob[half:])
    manifest = [{"paths": ["group1-shard1of2", "group1-shard2of2"], "weights": entries}]
    (folder / "weights_manifest.json").write_text(json.dumps(manifest))


def test_magenta_js_manifest_imports_with_numpy_alone(tmp_path):
    config = get_config("tiny")
    variables = {k: v for k, v in random_checkpoint(config).items() if k in expected_variables(config)}
    write_manifest(tmp_path, variables, quantize={"decoder/output_projection/bias"})
    read = read_tfjs_manifest(tmp_path / "weights_manifest.json")
    assert set(read) == set(variables)
    np.testing.assert_array_equal(read["encoder/mu/kernel"], variables["encoder/mu/kernel"])
    q = variables["decoder/output_projection/bias"]
    np.testing.assert_allclose(read["decoder/output_projection/bias"], q, atol=(q.max() - q.min()) / 255)
    model = import_magenta(tmp_path, config)
    exact = dict(variables, **{"decoder/output_projection/bias": read["decoder/output_projection/bias"]})
    z = np.random.default_rng(2).standard_normal((2, config.z_size)).astype(np.float32)
    np.testing.assert_array_equal(model.decode(torch.from_numpy(z))[0].numpy(), ref_decode(exact, config, z)[0])


def test_a_truncated_manifest_is_refused(tmp_path):
    config = get_config("tiny")
    write_manifest(tmp_path, {k: v for k, v in random_checkpoint(config).items() if "/" in k and "Adam" not in k})
    (tmp_path / "group1-shard2of2").write_bytes(b"\0" * 10)
    with pytest.raises(ScoreError, match="runs past the end"):
        read_checkpoint(tmp_path)


def tf_decode(variables, config, z):
    """Greedy flat decode computed by TensorFlow's own LSTMBlockCell op."""
    zeros = lambda n: tf.zeros(n)  # noqa: E731
    sizes = config.decoder_sizes
    flat = tf.tanh(z @ variables["decoder/z_to_initial_state/kernel"] + variables["decoder/z_to_initial_state/bias"])
    parts = tf.split(flat, [s for size in sizes for s in (size, size)], axis=1)
    state = [(parts[2 * i + 1], parts[2 * i]) for i in range(len(sizes))]
    previous = tf.zeros((z.shape[0], config.num_classes))
    events = []
    for _ in range(config.seq_len):
        x = tf.concat([previous, z], axis=1)
        for layer, size in enumerate(sizes):
            p = f"decoder/multi_rnn_cell/cell_{layer}/lstm_cell"
            out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=state[layer][1], h_prev=state[layer][0],
                                           w=variables[f"{p}/kernel"], wci=zeros(size), wcf=zeros(size),
                                           wco=zeros(size), b=variables[f"{p}/bias"], forget_bias=1.0,
                                           cell_clip=-1.0, use_peephole=False)
            state[layer] = (out.h, out.cs)
            x = out.h
        logits = x @ variables["decoder/output_projection/kernel"] + variables["decoder/output_projection/bias"]
        chosen = tf.argmax(logits, axis=1)
        events.append(chosen.numpy())
        previous = tf.one_hot(chosen, config.num_classes)
    return np.stack(events, axis=1)


@needs_tf
@pytest.mark.parametrize("config", SMALL_CONFIGS[:2], ids=lambda c: c.name)
def test_tf_checkpoint_imports_and_decodes_like_tensorflow(tmp_path, config):
    variables = random_checkpoint(config, seed=9)
    graph = tf.Graph()
    with graph.as_default():
        for name, value in variables.items():
            tf.compat.v1.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(session, str(tmp_path / "model.ckpt"))
    model = import_magenta(prefix, config)
    z = np.random.default_rng(4).standard_normal((3, config.z_size)).astype(np.float32)
    got = model.decode(torch.from_numpy(z), temperature=0.0)[0].numpy()
    np.testing.assert_array_equal(got, tf_decode(variables, config, z))
    np.testing.assert_array_equal(got, ref_decode(variables, config, z)[0])


@needs_tf
def test_a_corrupted_tf_checkpoint_is_refused(tmp_path):
    (tmp_path / "model.ckpt.index").write_bytes(b"not a checkpoint")
    (tmp_path / "model.ckpt.data-00000-of-00001").write_bytes(b"junk")
    with pytest.raises(ScoreError, match="not a readable TensorFlow checkpoint"):
        read_checkpoint(tmp_path / "model.ckpt")
