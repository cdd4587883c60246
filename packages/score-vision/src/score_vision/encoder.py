"""A vision encoder around a torch model: uint8 frames in, pooled float32 features out."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from score_core.contracts import EncoderSpec
from score_core.files import sha256_file
from score_vision.weights import WeightsChoice

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps a normalised float batch (B, 3, H, W) to pooled features (B, D)."""


def configure_threads() -> int:
    """Use one intra-op thread per CPU this process may run on, unless the user fixed it (OMP_NUM_THREADS)."""
    if "OMP_NUM_THREADS" not in os.environ:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if torch.get_num_threads() != available:
            torch.set_num_threads(available)
    return torch.get_num_threads()


@contextlib.contextmanager
def seeded(seed: int = 0) -> Iterator[None]:
    """Make a random initialisation reproducible without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def calibrate_batchnorm(model: nn.Module, input_size: tuple[int, int], seed: int = 0) -> None:
    """Give a randomly initialised model's batch norms the statistics of one random batch.

    Without this, eval-mode activations of a random net shrink layer after layer towards zero, and its
    features would be too small to tell frames apart.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: one batch sets the statistics exactly
    with seeded(seed), torch.no_grad():
        model.train()
        model(torch.randn(4, 3, *input_size))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.eval()


class _Stop(Exception):
    """Raised by a layer tap to skip the rest of the network."""


def tap_layer(model: nn.Module, layer: str, choices: Sequence[str]) -> FeatureFn:
    """Features from the output of ``model``'s sub-module ``layer``, averaged over space.

    The network stops right after that layer, so an earlier layer is also cheaper.
    """
    from score_core.errors import ScoreError

    modules = dict(model.named_modules())
    if layer not in modules or layer not in choices:
        raise ScoreError(f"layer '{layer}'", f"no such layer; choose one of {', '.join(choices)}")
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        captured.append(output)
        raise _Stop

    modules[layer].register_forward_hook(hook)

    def features(batch: torch.Tensor) -> torch.Tensor:
        captured.clear()
        with contextlib.suppress(_Stop):
            model(batch)
        return captured[0].mean(dim=(2, 3))

    return features


class TorchEncoder:
    """Implements score_core's VisionEncoder for any torch image model.

    Frames arrive already resized to ``spec.input_size``; this only converts dtype, scales with the
    weights' own mean and standard deviation (given in 0..255 units) and lays the batch out for the model.
    """

    def __init__(
        self,
        *,
        spec: EncoderSpec,
        model: nn.Module,
        features: FeatureFn,
        mean: Sequence[float],
        std: Sequence[float],
        weights: WeightsChoice,
        layer: str,
        head: nn.Module | None = None,
        channels_last: bool = True,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.channels_last = channels_last
        self.threads = configure_threads()
        self._model = model.eval()
        self.set_layout(channels_last)
        self._features = features
        self._head = head
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = 1.0 / torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self._weights = weights
        self._layer = layer
        self._details = details or {}
        self._sha256: str | None = None

    def set_layout(self, channels_last: bool) -> None:
        """Switch between channels_last (faster on CPU) and contiguous NCHW, for benchmarks and checks."""
        self.channels_last = channels_last
        layout = torch.channels_last if channels_last else torch.contiguous_format
        self._model = self._model.to(memory_format=layout)

    def _batch(self, frames: np.ndarray) -> torch.Tensor:
        height, width = self.spec.input_size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (height, width, 3):
            raise ValueError(
                f"{self.spec.name} expects uint8 frames (B, {height}, {width}, 3), got {frames.dtype} {frames.shape}"
            )
        # NHWC uint8 permuted to NCHW is already channels_last in memory: no copy until the float conversion.
        batch = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        batch = batch.sub_(self._mean).mul_(self._scale)
        return batch if self.channels_last else batch.contiguous()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Pooled features (B, feature_size) float32 of uint8 RGB frames (B, H, W, 3) at ``spec.input_size``."""
        if len(frames) == 0:
            return np.zeros((0, self.spec.feature_size), dtype=np.float32)
        with torch.inference_mode():
            features = self._features(self._batch(frames))
        return np.ascontiguousarray(features.float().numpy(), dtype=np.float32)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """ImageNet logits (B, 1000) from the model's own classifier (only for the default layer)."""
        if self._head is None:
            raise ValueError(f"{self.spec.name} at layer {self._layer} has no classifier head")
        with torch.inference_mode():
            logits = self._head(self._features(self._batch(frames)))
        return logits.float().numpy()

    def provenance(self) -> dict[str, Any]:
        """Weights name, file and SHA-256, the layer the features come from and the preprocessing."""
        path = self._weights.path
        if path is not None and self._sha256 is None:
            self._sha256 = sha256_file(path)
        return {
            "encoder": self.spec.name,
            "weights": self._weights.name,
            "weights_file": str(path) if path is not None else None,
            "weights_sha256": self._sha256,
            "layer": self._layer,
            "feature_size": self.spec.feature_size,
            "input_size": list(self.spec.input_size),
            "resize": self.spec.resize,
            "normalisation": {"mean": self._mean.flatten().tolist(), "std": (1 / self._scale).flatten().tolist()},
            "torch": torch.__version__,
            **self._details,
        }


def make_encoder(
    *,
    spec: EncoderSpec,
    model: nn.Module,
    weights: WeightsChoice,
    default_layer: str,
    layer: str | None,
    choices: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    head: nn.Module,
    default_features: FeatureFn | None = None,
    details: dict[str, Any] | None = None,
) -> TorchEncoder:
    """Wrap ``model`` as an encoder reading ``layer`` (None: the registered, last pooled layer).

    An earlier layer gets its own feature size (found with one dry run) and no classifier head.
    """
    model.eval()
    if layer is None or layer == default_layer:
        features = default_features or tap_layer(model, default_layer, [default_layer])
        return TorchEncoder(
            spec=spec,
            model=model,
            features=features,
            mean=mean,
            std=std,
            weights=weights,
            layer=default_layer,
            head=head,
            details=details,
        )
    features = tap_layer(model, layer, choices)
    with torch.inference_mode():
        size = features(torch.zeros(1, 3, *spec.input_size)).shape[1]
    spec = spec.model_copy(update={"feature_size": int(size)})
    return TorchEncoder(
        spec=spec,
        model=model,
        features=features,
        mean=mean,
        std=std,
        weights=weights,
        layer=layer,
        details=details,
    )
