"""MobileNet v2 and Inception v3 from torchvision, with torchvision's own weights, cache and preprocessing."""

from __future__ import annotations

from typing import Any

import torch
import torchvision
from torchvision import models

from score_core.contracts import EncoderSpec
from score_vision.encoder import TorchEncoder, calibrate_batchnorm, make_encoder, seeded
from score_vision.onnx_runtime import OnnxEncoder, fastest_runtime
from score_vision.specs import INCEPTION_SPEC, MOBILENET_SPEC
from score_vision.weights import WeightsChoice, load_into, load_state_dict, torch_cache_checkpoint, user_weights


def resolve_weights(weights: str | None, enum: Any, subject: str) -> WeightsChoice:
    """Default torchvision weights from the torch cache (downloaded once), or the user's choice."""
    if weights is None:
        return WeightsChoice(name=f"{type(enum).__name__}.{enum.name}", path=torch_cache_checkpoint(enum.url, subject))
    return user_weights(weights, subject)


def preprocessing(enum: Any, spec: EncoderSpec) -> tuple[list[float], list[float], dict[str, Any]]:
    """Mean and std in 0..255 units from the weights' transforms, after checking their crop is our input size."""
    transform = enum.transforms()
    crop = list(transform.crop_size)
    if crop * (2 // len(crop)) != list(spec.input_size):
        raise AssertionError(f"{spec.name}: torchvision crops to {crop}, registered input is {spec.input_size}")
    mean = [255.0 * m for m in transform.mean]
    std = [255.0 * s for s in transform.std]
    details = {
        "torchvision": torchvision.__version__,
        "reference_transform": f"resize shorter side to {transform.resize_size[0]}, centre crop {crop[0]}",
    }
    return mean, std, details


def mobilenet_encoder(weights: str | None, layer: str | None = None) -> TorchEncoder | OnnxEncoder:
    """MobileNet v2: features are the 1280-d global average of the last conv block (before the classifier)."""
    enum = models.MobileNet_V2_Weights.DEFAULT
    subject = "mobilenet weights"
    choice = resolve_weights(weights, enum, subject)
    with seeded():
        model = models.mobilenet_v2(weights=None)
    if choice.path is not None:
        load_into(model, load_state_dict(choice.path, subject), choice.path, subject)
    else:
        calibrate_batchnorm(model, MOBILENET_SPEC.input_size)
    mean, std, details = preprocessing(enum, MOBILENET_SPEC)
    choices = [f"features.{i}" for i in range(len(model.features))]
    encoder = make_encoder(
        spec=MOBILENET_SPEC,
        model=model,
        weights=choice,
        default_layer=choices[-1],
        layer=layer,
        choices=choices,
        mean=mean,
        std=std,
        head=model.classifier,
        details=details,
    )
    return fastest_runtime(encoder, layer if layer != choices[-1] else None)


def inception_encoder(weights: str | None, layer: str | None = None) -> TorchEncoder:
    """Inception v3: features are the 2048-d global average of Mixed_7c (before dropout and fc)."""
    enum = models.Inception_V3_Weights.DEFAULT
    subject = "inception weights"
    choice = resolve_weights(weights, enum, subject)
    # transform_input=True is what torchvision sets for these weights: the net re-maps ImageNet-normalised
    # input to the (x - 0.5) / 0.5 range Google trained with.
    with seeded():
        model = models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    if choice.path is not None:
        load_into(model, load_state_dict(choice.path, subject), choice.path, subject)
    else:
        calibrate_batchnorm(model, INCEPTION_SPEC.input_size)
    mean, std, details = preprocessing(enum, INCEPTION_SPEC)
    choices = [name for name, _ in model.named_children() if name.startswith(("Conv2d_", "Mixed_"))]
    head = torch.nn.Sequential(model.dropout, model.fc)
    return make_encoder(
        spec=INCEPTION_SPEC,
        model=model,
        weights=choice,
        default_layer="Mixed_7c",
        layer=layer,
        choices=choices,
        mean=mean,
        std=std,
        head=head,
        details=details,
    )
