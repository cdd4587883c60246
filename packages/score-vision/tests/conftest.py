"""Shared fixtures: encoders are built once per session because building Inception costs seconds."""

from __future__ import annotations

import pytest

from score_vision.encoder import TorchEncoder


@pytest.fixture(scope="session")
def lite0() -> TorchEncoder:
    from score_vision.efficientnet import efficientnet_lite0_encoder

    encoder = efficientnet_lite0_encoder(None)
    return getattr(encoder, "torch_encoder", encoder)  # the PyTorch model, whichever runtime is the default


@pytest.fixture(scope="session")
def mobilenet_random() -> TorchEncoder:
    from score_vision.torchvision_models import mobilenet_encoder

    return mobilenet_encoder("none")


@pytest.fixture(scope="session")
def inception_random() -> TorchEncoder:
    from score_vision.torchvision_models import inception_encoder

    return inception_encoder("none")
