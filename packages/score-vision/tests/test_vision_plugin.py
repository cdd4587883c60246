"""The plugin module: light to import, discovered through its entry point, honest metadata."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from score_core.registry import load_registry
from score_vision.plugin import REGISTRATIONS


def test_importing_the_plugin_loads_no_torch() -> None:
    code = (
        "import json, sys, score_vision.plugin; "
        "print(json.dumps([m for m in ('torch', 'torchvision', 'efficientnet_lite_pytorch') if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_entry_point_registers_the_three_encoders() -> None:
    registry = load_registry(pinned="vision")
    assert not registry.failures
    assert {r.name for r in registry.encoders.all()} >= {"mobilenet", "inception", "efficientnet-lite0"}
    assert registry.encoders.get("mobilenet_v2").name == "mobilenet"
    assert registry.encoders.get("inception_v3").name == "inception"


@pytest.mark.parametrize(
    ("name", "feature_size", "input_size", "licence"),
    [
        ("mobilenet", 1280, (224, 224), "BSD-3-Clause"),
        ("inception", 2048, (299, 299), "BSD-3-Clause"),
        ("efficientnet-lite0", 1280, (224, 224), "Apache-2.0"),
    ],
)
def test_registration_metadata(name: str, feature_size: int, input_size: tuple[int, int], licence: str) -> None:
    registration = next(r for r in REGISTRATIONS if r.name == name)
    assert registration.spec.name == name
    assert registration.spec.feature_size == feature_size
    assert registration.spec.input_size == input_size
    assert registration.spec.resize == "crop"
    assert registration.weights is not None and registration.weights.license.startswith(licence)
    assert registration.default_fps == 2.0


def test_input_sizes_match_torchvision_weights_metadata() -> None:
    from torchvision import models

    for enum, name in (
        (models.MobileNet_V2_Weights.DEFAULT, "mobilenet"),
        (models.Inception_V3_Weights.DEFAULT, "inception"),
    ):
        registration = next(r for r in REGISTRATIONS if r.name == name)
        crop = enum.transforms().crop_size[0]
        assert registration.spec.input_size == (crop, crop)
        assert registration.weights is not None and enum.url in registration.weights.source
