"""score_core's encoder conformance checks, for each encoder (random weights where no download is possible)."""

from __future__ import annotations

import numpy as np
import pytest

from score_core.protocols import VisionEncoder
from score_core.testing import check_encoder
from score_vision.encoder import TorchEncoder


def test_efficientnet_lite0_conforms(lite0: TorchEncoder) -> None:
    check_encoder(lite0)
    assert isinstance(lite0, VisionEncoder)
    assert lite0.provenance()["weights_sha256"].startswith("57934424")


def test_mobilenet_conforms(mobilenet_random: TorchEncoder) -> None:
    check_encoder(mobilenet_random)
    assert mobilenet_random.provenance()["weights"].startswith("random-init")


def test_inception_conforms(inception_random: TorchEncoder) -> None:
    check_encoder(inception_random)
    assert inception_random.spec.feature_size == 2048


@pytest.mark.parametrize(
    ("name", "layer", "size"), [("mobilenet", "features.7", 64), ("efficientnet-lite0", "_blocks.5", 80)]
)
def test_an_earlier_layer_conforms_and_is_recorded(name: str, layer: str, size: int) -> None:
    from score_vision.plugin import build_efficientnet_lite0, build_mobilenet

    build = build_mobilenet if name == "mobilenet" else build_efficientnet_lite0
    encoder = build("none", layer=layer)
    check_encoder(encoder)
    assert encoder.spec.feature_size == size
    assert encoder.provenance()["layer"] == layer


def test_unknown_layer_names_the_choices() -> None:
    from score_core.errors import ScoreError
    from score_vision.plugin import build_mobilenet

    with pytest.raises(ScoreError, match=r"features\.18"):
        build_mobilenet("none", layer="features.99")


def test_contiguous_layout_gives_the_same_features(lite0: TorchEncoder) -> None:
    frames = np.random.default_rng(3).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    expected = lite0.encode(frames)
    lite0.set_layout(channels_last=False)
    try:
        np.testing.assert_allclose(lite0.encode(frames), expected, rtol=1e-3, atol=1e-4)
    finally:
        lite0.set_layout(channels_last=True)


def test_wrong_frame_size_is_refused(lite0: TorchEncoder) -> None:
    with pytest.raises(ValueError, match="224, 224"):
        lite0.encode(np.zeros((1, 224, 244, 3), dtype=np.uint8))
