"""Weight files of the stream model: plain tensors (float16 by default) and the config, loaded safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from score_core.errors import ScoreError
from score_core.files import atomic_path, atomic_write_bytes, sha256_file
from score_music.model.config import MAX_PARAMETERS
from score_music.stream.model import StreamConfig, StreamVAE

FORMAT = "score-musicvae-stream"
FORMAT_VERSION = 1


def save_stream_weights(model: StreamVAE, path: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write the model's tensors (as `dtype`) and its config to `path`, atomically."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": json.dumps(model.config.to_dict()),
            "state_dict": tensors}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        torch.save(blob, temporary)
    return path


def load_stream_weights(path: str | Path) -> StreamVAE:
    """The model saved by `save_stream_weights`, in float32 and eval mode; a ScoreError for any other file."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(str(path), "no such weights file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScoreError(str(path), f"not a readable weights file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ScoreError(str(path), f"not a {FORMAT} weights file")
    if blob.get("format_version") != FORMAT_VERSION:
        raise ScoreError(str(path), f"weights format version {blob.get('format_version')} is not {FORMAT_VERSION}")
    try:
        config = StreamConfig.from_dict(json.loads(blob["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ScoreError(str(path), f"unreadable config in weights file ({exc})") from None
    problem = config_problem(config)
    if problem:
        raise ScoreError(str(path), problem)
    model = StreamVAE(config)
    own = model.state_dict()
    tensors = blob.get("state_dict") or {}
    for key, value in own.items():
        if key not in tensors or tuple(tensors[key].shape) != tuple(value.shape):
            raise ScoreError(str(path), f"tensor {key} is missing or not of shape {tuple(value.shape)}")
        if not torch.isfinite(tensors[key].float()).all():
            raise ScoreError(str(path), f"tensor {key} holds NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in tensors.items() if k in own})
    return model.eval()


def config_problem(config: StreamConfig) -> str | None:
    """Why ``config`` cannot be a stream model (non-positive sizes, a parameter count over MAX_PARAMETERS, ...),
    judged before anything is allocated; None when it can."""
    sizes = {"z_size": config.z_size, "steps_per_latent": config.steps_per_latent,
             "encoder_size": config.encoder_size, "seq_len": config.seq_len, "num_classes": config.num_classes}
    sizes.update({f"decoder_sizes[{i}]": size for i, size in enumerate(config.decoder_sizes)})
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return f"config {name} must be a positive whole number, not {value!r}"
    if not config.decoder_sizes:
        return "config decoder_sizes is empty"
    if config.seq_len % config.steps_per_latent:
        return f"config seq_len {config.seq_len} is not a multiple of steps_per_latent {config.steps_per_latent}"
    if not 0.0 <= config.rho < 1.0:
        return f"config rho {config.rho!r} is outside [0, 1)"

    def lstm(inputs: int, hidden: int) -> int:
        return 4 * hidden * (inputs + hidden + 2)

    count = 2 * lstm(config.num_classes, config.encoder_size) + 4 * config.encoder_size * config.z_size
    inputs = config.num_classes + config.z_size
    for hidden in config.decoder_sizes:
        count += lstm(inputs, hidden)
        inputs = hidden
    count += inputs * config.num_classes + config.z_size * 2 * sum(config.decoder_sizes)
    if count > MAX_PARAMETERS:
        return f"config declares about {count:,} parameters, over the limit of {MAX_PARAMETERS:,}"
    return None


def latent_usage(model: StreamVAE, windows: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Mean KL (nats per beat) of each latent dimension against the AR(1) prior over `windows`."""
    from score_music.stream.model import ar1_kl

    totals = np.zeros(model.config.z_size)
    beats = 0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            events = torch.as_tensor(np.asarray(windows[start:start + batch_size]), dtype=torch.long)
            mu, sigma = model.encode(events)
            for dim in range(model.config.z_size):
                totals[dim] += ar1_kl(mu[..., dim:dim + 1], sigma[..., dim:dim + 1], model.config.rho).sum().item()
            beats += mu.shape[0] * mu.shape[1]
    return totals / max(beats, 1)


def export_stream(model: StreamVAE, path: str | Path, usage_windows: np.ndarray,
                  facts: dict[str, Any] | None = None) -> Path:
    """Write float16 weights and, beside them, the JSON card the plugin reads (dimension order, most used first)."""
    path = save_stream_weights(model, path)
    usage = latent_usage(model, usage_windows)
    card = {
        "config": model.config.name,
        "z_size": model.config.z_size,
        "steps_per_latent": model.config.steps_per_latent,
        "rho": model.config.rho,
        "dimension_order": [int(i) for i in np.argsort(-usage, kind="stable")],
        "kl_per_dimension_per_beat": [round(float(v), 5) for v in usage],
        "sha256": sha256_file(path),
        **(facts or {}),
    }
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
    return path
