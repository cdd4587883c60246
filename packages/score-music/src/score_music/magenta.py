"""Import Magenta MusicVAE checkpoints (TensorFlow checkpoints or magenta.js weight manifests) into our model.

Variable names follow Magenta's `lstm_models.py` / `lstm_utils.py` (and magenta.js's loader): LSTM cells are
TF `LSTMBlockCell`s (kernel [input + hidden, 4·hidden], gates i, c, f, o, forget bias +1.0 added at run time),
dense layers are `{name}/kernel` [in, out] and `{name}/bias`.
"""

from __future__ import annotations

import contextlib
import json
import re
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from score_core.errors import ScoreError
from score_music.model.config import MusicVAEConfig, get_config
from score_music.model.lstm import magenta_cell_to_torch
from score_music.model.vae import MusicVAE
from score_music.model.weights import build_model

# Optimizer slots and counters a training checkpoint carries besides the model.
_IGNORED = re.compile(r"^(global_step|beta[12]_power(_\d+)?)$|/(Adam|Adam_1|ExponentialMovingAverage)(_\d+)?$")
_CELL = "lstm_cell"


def _lstm_specs(magenta: str, torch_prefix: str, input_size: int, hidden: int, suffix: str = "") -> list[tuple]:
    return [("lstm", f"{magenta}/{_CELL}", f"{torch_prefix}", input_size, hidden, suffix)]


def _layout(config: MusicVAEConfig) -> list[tuple]:
    """(kind, magenta prefix, torch prefix, in, out[, suffix]) for every converted unit of `config`."""
    units: list[tuple] = []
    inputs = config.encoder_input_size
    for layer, size in enumerate(config.encoder_sizes):
        for direction, suffix in (("fw", ""), ("bw", "_reverse")):
            units += _lstm_specs(f"encoder/cell_{layer}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0",
                                 f"encoder.layers.{layer}", inputs, size, suffix)
        inputs = 2 * size
    for name in ("mu", "sigma"):
        units.append(("dense", f"encoder/{name}", f"encoder.{name}", inputs, config.z_size))
    if config.hierarchical:
        level = "decoder/hierarchical_level_0"
        units.append(("dense", f"{level}/initial_state", "decoder.conductor_initial_state", config.z_size,
                      2 * sum(config.conductor_sizes)))
        inputs = 1  # the conductor reads a dummy zero (autoregression disabled)
        for layer, size in enumerate(config.conductor_sizes):
            units += _lstm_specs(f"{level}/cell_{layer}", f"decoder.conductor.layers.{layer}", inputs, size)
            inputs = size
        cond = config.conductor_sizes[-1]
        if config.part_classes:  # SplitMultiOutLstmDecoder: one core decoder per part
            cores = [(f"core_decoder/core_decoder_{i}/decoder", f"decoder.parts.{i}", classes)
                     for i, classes in enumerate(config.part_classes)]
        else:
            cores = [("core_decoder/decoder", "decoder.core", config.num_classes)]
    else:
        cond, cores = config.z_size, [("decoder", "decoder", config.num_classes)]
    for magenta_dec, torch_dec, classes in cores:
        units.append(("dense", f"{magenta_dec}/z_to_initial_state", f"{torch_dec}.z_to_initial_state", cond,
                      2 * sum(config.decoder_sizes)))
        inputs = classes + cond
        for layer, size in enumerate(config.decoder_sizes):
            units += _lstm_specs(f"{magenta_dec}/multi_rnn_cell/cell_{layer}", f"{torch_dec}.lstm.layers.{layer}",
                                 inputs, size)
            inputs = size
        units.append(("dense", f"{magenta_dec}/output_projection", f"{torch_dec}.output_projection",
                      config.decoder_sizes[-1], classes))
    return units


def expected_variables(config: MusicVAEConfig | str) -> dict[str, tuple[int, ...]]:
    """Magenta variable name → shape for every model variable of `config`."""
    config = get_config(config) if isinstance(config, str) else config
    names: dict[str, tuple[int, ...]] = {}
    for kind, prefix, _, n_in, n_out, *_ in _layout(config):
        if kind == "lstm":
            names[f"{prefix}/kernel"] = (n_in + n_out, 4 * n_out)
            names[f"{prefix}/bias"] = (4 * n_out,)
        else:
            names[f"{prefix}/kernel"] = (n_in, n_out)
            names[f"{prefix}/bias"] = (n_out,)
    return names


def convert_magenta(
    variables: Mapping[str, np.ndarray], config: MusicVAEConfig | str, allow_missing_sigma: bool = False
) -> dict[str, torch.Tensor]:
    """A state dict for `MusicVAE(config)` from Magenta variables (name → array).

    Gates are reordered (i, c, f, o → i, f, g, o) and the run-time forget bias of 1.0 is folded into the bias.
    Missing, unexpected or misshapen variables raise a ScoreError naming the first one. magenta.js checkpoints
    may omit `encoder/sigma`: with `allow_missing_sigma` it becomes ~0 (z is then the posterior mean)."""
    config = get_config(config) if isinstance(config, str) else config
    subject = f"Magenta checkpoint for {config.name}"
    expected = expected_variables(config)
    model_vars = {k: v for k, v in variables.items() if not _IGNORED.search(k)}
    unexpected = sorted(set(model_vars) - set(expected))
    if unexpected:
        name = unexpected[0]
        raise ScoreError(subject, f"unexpected variable {name} {tuple(np.shape(model_vars[name]))} "
                                  f"({len(unexpected)} unexpected in all)")
    sigma_names = {"encoder/sigma/kernel", "encoder/sigma/bias"}
    for name, shape in expected.items():
        if name not in model_vars:
            if allow_missing_sigma and name in sigma_names:
                continue
            raise ScoreError(subject, f"missing variable {name} {shape}")
        if tuple(np.shape(model_vars[name])) != shape:
            raise ScoreError(subject, f"variable {name} has shape {tuple(np.shape(model_vars[name]))}, "
                                      f"expected {shape}")
    state: dict[str, torch.Tensor] = {}
    for kind, prefix, torch_prefix, n_in, n_out, *rest in _layout(config):
        if kind == "lstm":
            suffix = rest[0]
            parts = magenta_cell_to_torch(np.asarray(model_vars[f"{prefix}/kernel"]),
                                          np.asarray(model_vars[f"{prefix}/bias"]), n_in)
            for key, value in parts.items():
                state[f"{torch_prefix}.{key}_l0{suffix}"] = torch.from_numpy(value.astype(np.float32))
        elif f"{prefix}/kernel" in model_vars:
            kernel = np.asarray(model_vars[f"{prefix}/kernel"], np.float32)
            state[f"{torch_prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.T))
            state[f"{torch_prefix}.bias"] = torch.from_numpy(np.asarray(model_vars[f"{prefix}/bias"], np.float32))
        else:  # a missing sigma, allowed: softplus(-30) ≈ 1e-13
            state[f"{torch_prefix}.weight"] = torch.zeros(n_out, n_in)
            state[f"{torch_prefix}.bias"] = torch.full((n_out,), -30.0)
    return state


def read_tfjs_manifest(path: str | Path) -> dict[str, np.ndarray]:
    """Variables of a magenta.js checkpoint (`weights_manifest.json` or its folder), read with numpy alone.

    The manifest is a list of groups {"paths": [shard files], "weights": [{"name", "shape", "dtype",
    "quantization"?}]}; each group's shards are concatenated and its weights follow one another in order,
    little-endian. Quantized weights hold uint8/uint16 values q with value = q·scale + min (or float16)."""
    path = Path(path)
    manifest_path = path / "weights_manifest.json" if path.is_dir() else path
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ScoreError(str(manifest_path), f"not a readable weights manifest ({exc})") from None
    if not isinstance(manifest, list):
        raise ScoreError(str(manifest_path), "weights manifest is not a list of weight groups")
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        try:
            data = b"".join((manifest_path.parent / p).read_bytes() for p in group["paths"])
        except (OSError, KeyError, TypeError) as exc:
            raise ScoreError(str(manifest_path), f"cannot read weight shard ({exc})") from None
        offset = 0
        for weight in group.get("weights", []):
            name, shape = weight["name"], tuple(int(d) for d in weight["shape"])
            quant = weight.get("quantization")
            stored = np.dtype(quant["dtype"] if quant else weight["dtype"]).newbyteorder("<")
            count = int(np.prod(shape, dtype=np.int64))
            if offset + count * stored.itemsize > len(data):
                raise ScoreError(str(manifest_path), f"weight {name} {shape} runs past the end of its shards")
            value = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            offset += count * stored.itemsize
            if quant and "scale" in quant:
                value = value.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
            out[name] = value.astype(np.float32) if value.dtype.kind == "f" or quant else value
    return out


def import_tensorflow() -> Any:
    """Import TensorFlow safely beside torch: torch loads triton lazily (at the first optimizer step), and loading
    triton after TensorFlow segfaults (torch 2.14 + tensorflow-cpu 2.21), so triton goes first."""
    with contextlib.suppress(Exception):
        import triton.knobs  # noqa: F401
    import tensorflow

    return tensorflow


def read_tf_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """Variables of a TensorFlow checkpoint (prefix, folder, or .tar/.tar.gz of one); needs `tensorflow`."""
    try:
        tf = import_tensorflow()
    except ImportError:
        why = "reading TensorFlow checkpoints needs the extra `score-music[magenta]` (tensorflow-cpu)"
        raise ScoreError(str(path), f"{why}; magenta.js manifests need numpy only") from None
    path = Path(path)
    if path.is_file() and tarfile.is_tarfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(path) as tar:
                tar.extractall(tmp, filter="data")
            index = sorted(Path(tmp).rglob("*.index"))
            if not index:
                raise ScoreError(str(path), "no TensorFlow checkpoint (*.index) inside the archive")
            return read_tf_checkpoint(index[0].with_suffix(""))
    prefix = str(path)
    if path.is_dir():
        found = tf.train.latest_checkpoint(prefix) or next((str(p.with_suffix("")) for p in path.glob("*.index")),
                                                           None)
        if found is None:
            raise ScoreError(str(path), "no TensorFlow checkpoint in this folder")
        prefix = found
    elif path.suffix in (".index", ".meta") or ".data-" in path.name:
        prefix = str(path.parent / path.name.split(".data-")[0].removesuffix(".index").removesuffix(".meta"))
    try:
        reader = tf.train.load_checkpoint(prefix)
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    except Exception as exc:  # TF raises many error types for a corrupted file
        raise ScoreError(str(path), f"not a readable TensorFlow checkpoint ({type(exc).__name__})") from None


def read_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """Variables of a magenta.js manifest (file or folder holding `weights_manifest.json`) or a TF checkpoint."""
    path = Path(path)
    if not path.exists() and not Path(f"{path}.index").exists():
        raise ScoreError(str(path), "no such checkpoint")
    if path.suffix == ".json" or (path.is_dir() and (path / "weights_manifest.json").is_file()):
        return read_tfjs_manifest(path)
    return read_tf_checkpoint(path)


def import_magenta(
    path: str | Path, config: MusicVAEConfig | str, allow_missing_sigma: bool | None = None
) -> MusicVAE | Any:
    """A MusicVAE (eval mode) with the weights of the Magenta checkpoint at `path`.

    `allow_missing_sigma` defaults to True for magenta.js manifests (which may drop `encoder/sigma`)."""
    config = get_config(config) if isinstance(config, str) else config
    variables = read_checkpoint(path)
    if allow_missing_sigma is None:
        allow_missing_sigma = Path(path).suffix == ".json" or (Path(path).is_dir() and (
            Path(path) / "weights_manifest.json").is_file())
    model = build_model(config)
    model.load_state_dict(convert_magenta(variables, config, allow_missing_sigma))
    return model.eval()
