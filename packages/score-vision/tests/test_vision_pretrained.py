"""Real checks of the pretrained EfficientNet-Lite0 that fail if weights or preprocessing are wrong."""

from __future__ import annotations

import numpy as np
import pytest
from vision_support import SHARED_VIDEO, cosine, cover_crop, frames_at

from score_vision.encoder import TorchEncoder

TEMPLE = {"palace", "monastery", "bell cote", "pagoda", "church", "castle", "dome", "stupa", "cinema", "boathouse"}
FLOWER = {"daisy", "pot", "bee", "hip", "cardoon", "sulphur butterfly", "vase"}


def test_sample_photographs_get_sensible_imagenet_classes(lite0: TorchEncoder) -> None:
    from sklearn.datasets import load_sample_images
    from torchvision.models import MobileNet_V2_Weights

    categories = MobileNet_V2_Weights.DEFAULT.meta["categories"]  # the ImageNet-1k order shared by both models
    temple, flower = (cover_crop(image, lite0.spec.input_size) for image in load_sample_images().images)
    logits = lite0.classify(np.stack([temple, flower]))
    top3 = [[categories[i] for i in np.argsort(-row)[:3]] for row in logits]
    assert top3[0][0] in TEMPLE and set(top3[0]) <= TEMPLE | {"lakeside"}, top3[0]
    assert top3[1][0] == "daisy", top3[1]


# bikes.mp4 has hard cuts near 1.2 s and 9.7 s: pairs on the same side of a cut, pairs across it.
CUTS = {
    1.2: ((0.6, 1.0), (1.8, 2.2)),
    9.7: ((9.2, 9.6), (9.8, 9.96)),
}


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_VIDEO / "skv_bikes.mp4").is_file(), reason=f"no shared test video in {SHARED_VIDEO}")
@pytest.mark.parametrize("cut", sorted(CUTS))
def test_features_separate_shots(lite0: TorchEncoder, cut: float) -> None:
    before, after = CUTS[cut]
    frames = frames_at(SHARED_VIDEO / "skv_bikes.mp4", [*before, *after], lite0.spec.input_size)
    similarity = cosine(lite0.encode(frames))
    within = min(similarity[0, 1], similarity[2, 3])
    across = max(similarity[i, j] for i in (0, 1) for j in (2, 3))
    assert within > across + 0.2, f"within a shot {within:.2f}, across the cut {across:.2f}"
