"""Finding, checking and hashing weight files; every failure is a one-line ScoreError.

Weights are chosen by a string: None for the encoder's default weights, "none" for a seeded random
initialisation (tests only), anything else is the path of a local ``.pth`` state dict.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from score_core.errors import ScoreError

if TYPE_CHECKING:
    import torch

RANDOM_INIT = "none"
DOWNLOAD_TIMEOUT_S = 20.0
WEIGHTS_OPTION = "--vision-weights PATH (a local .pth state dict)"


@dataclass(frozen=True)
class WeightsChoice:
    """Which weights an encoder runs with: a name for the sidecar and the file, if any."""

    name: str
    path: Path | None

    @property
    def is_random(self) -> bool:
        return self.path is None


def user_weights(weights: str, subject: str) -> WeightsChoice:
    """The weights for a non-default ``weights`` argument: "none" (random) or an existing file."""
    if weights == RANDOM_INIT:
        return WeightsChoice(name="random-init (seed 0, for tests)", path=None)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ScoreError(subject, f"weights file {path} does not exist")
    return WeightsChoice(name=f"file:{path.name}", path=path.resolve())


def cached_checkpoint_missing(url: str) -> str | None:
    """Why ``url``'s file cannot be loaded offline (it is not in torch's hub cache), found without importing
    torch; None when it is cached."""
    home = os.environ.get("TORCH_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                                                / "torch")
    target = Path(home) / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    return None if target.is_file() else f"weights not downloaded (no {target}); a run with internet fetches them"


def torch_cache_checkpoint(url: str, subject: str) -> Path:
    """Path of ``url``'s file in torch's hub cache, downloading it there (hash checked) when absent.

    Offline with no cached file, raises a one-line ScoreError naming the file, where it is expected and
    the ``--vision-weights`` alternative.
    """
    import torch.hub

    filename = url.rsplit("/", 1)[-1]
    target = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if target.is_file():
        return target
    previous = socket.getdefaulttimeout()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        prefix = filename.rsplit("-", 1)[-1].split(".")[0]
        torch.hub.download_url_to_file(url, str(target), hash_prefix=prefix, progress=False)
    except (Exception, KeyboardInterrupt) as error:
        reason = _one_line(error)
        raise ScoreError(
            subject,
            f"weights file {filename} is not cached at {target} and downloading {url} failed ({reason}); "
            f"put the file there (or set TORCH_HOME) or pass {WEIGHTS_OPTION}",
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
    return target


def load_state_dict(path: Path, subject: str) -> dict[str, torch.Tensor]:
    """Read a state dict safely (``weights_only=True``); refuses pickled objects and non-dict files."""
    import torch

    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ScoreError(subject, f"cannot read {path} as a weights-only state dict ({_one_line(error)})") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ScoreError(subject, f"{path} is not a state dict of tensors")
    return state


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, subject: str) -> None:
    """Load ``state`` into ``model`` strictly, refusing a file of another architecture with the mismatch named."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise ScoreError(subject, f"{path} is not a checkpoint of this architecture: {'; '.join(parts)}")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ScoreError(
                subject,
                f"{path} does not fit this architecture: '{key}' has shape {tuple(state[key].shape)}, "
                f"expected {tuple(tensor.shape)}",
            )
    model.load_state_dict(state, strict=True)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
