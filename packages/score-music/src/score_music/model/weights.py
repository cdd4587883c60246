"""Our own MusicVAE weight files: safetensors when installed (else a torch.save of plain tensors), with the
config stored beside the tensors so a file always rebuilds the model it came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from score_core.errors import ScoreError
from score_core.files import atomic_path
from score_music.model.config import CONFIGS, MusicVAEConfig, get_config
from score_music.model.vae import MusicVAE

FORMAT = "score-musicvae"
FORMAT_VERSION = 1


def _have_safetensors() -> bool:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        write(str(temporary))


def save_weights(
    model: Any, config: MusicVAEConfig, path: str | Path, dtype: torch.dtype = torch.float32
) -> Path:
    """Write the model's weights (optionally as float16) and config; `.safetensors` needs safetensors."""
    path = Path(path)
    if model.config.architecture() != config.architecture():
        raise ScoreError(str(path), f"model is {model.config.name!r}, not config {config.name!r}")
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    config_json = json.dumps(config.to_dict(), sort_keys=True)
    if path.suffix == ".safetensors":
        if not _have_safetensors():
            raise ScoreError(str(path), "writing .safetensors needs the `safetensors` package (or use a .pt path)")
        from safetensors.torch import save_file

        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": config_json}
        _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    else:
        blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config_json, "state_dict": tensors}
        _atomic_write(path, lambda tmp: torch.save(blob, tmp))
    return path


def build_model(config: MusicVAEConfig) -> Any:
    """An untrained model of `config`: a TrioVAE for multi-part configs, else a MusicVAE."""
    if config.part_classes:
        from score_music.model.trio import TrioVAE

        return TrioVAE(config)
    return MusicVAE(config)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise ScoreError(str(path), "no such weights file")
    if path.suffix == ".safetensors":
        if not _have_safetensors():
            raise ScoreError(str(path), "reading .safetensors needs the `safetensors` package")
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as exc:
            raise ScoreError(str(path), f"not a readable safetensors file ({exc})") from None
        return meta, tensors
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ScoreError(str(path), f"not a readable weights file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("state_dict"), dict):
        raise ScoreError(str(path), "not a score MusicVAE weights file (no state_dict)")
    return {k: v for k, v in blob.items() if k != "state_dict"}, blob["state_dict"]


def load_weights(
    path: str | Path, expected: str | MusicVAEConfig | None = None
) -> tuple[Any, MusicVAEConfig]:
    """Rebuild the model saved by `save_weights` (float32, eval mode).

    A file of another format, another model type, a config other than `expected`, or tensors that do not fit
    the stored config is a ScoreError naming the first mismatch."""
    path = Path(path)
    meta, tensors = _read(path)
    if meta.get("format") != FORMAT:
        raise ScoreError(str(path), f"not a {FORMAT} weights file (format {meta.get('format')!r})")
    if int(meta.get("format_version", -1)) != FORMAT_VERSION:
        raise ScoreError(str(path), f"weights format version {meta.get('format_version')} is not {FORMAT_VERSION}")
    try:
        config = MusicVAEConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ScoreError(str(path), f"unreadable config in weights file ({exc})") from None
    if config.name not in CONFIGS:
        raise ScoreError(str(path), f"weights declare an unknown config {config.name!r}; known: {', '.join(CONFIGS)}")
    if config.architecture() != CONFIGS[config.name].architecture():
        raise ScoreError(str(path), f"weights declare config {config.name!r} with other layer sizes than it has")
    if expected is not None:
        want = get_config(expected) if isinstance(expected, str) else expected
        for key, value in want.architecture().items():
            if getattr(config, key) != value:
                raise ScoreError(str(path), f"weights are config {config.name!r} ({key}={getattr(config, key)}), "
                                            f"expected {want.name!r} ({key}={value})")
    model = build_model(config)
    own = model.state_dict()
    for key, value in own.items():
        if key not in tensors:
            raise ScoreError(str(path), f"missing tensor {key} {tuple(value.shape)} for config {config.name!r}")
        if tuple(tensors[key].shape) != tuple(value.shape):
            raise ScoreError(str(path), f"tensor {key} has shape {tuple(tensors[key].shape)}, config "
                                        f"{config.name!r} needs {tuple(value.shape)}")
    extra = sorted(set(tensors) - set(own))
    if extra:
        raise ScoreError(str(path), f"unexpected tensor {extra[0]} for config {config.name!r}")
    for key in own:
        if not tensors[key].is_floating_point() or not bool(torch.isfinite(tensors[key]).all()):
            raise ScoreError(str(path), f"tensor {key} holds NaN, infinity or non-float values")
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval(), config
