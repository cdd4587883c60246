"""Weights: the offline message, safe loading, refusing a file of another architecture, hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from score_core.errors import ScoreError
from score_core.files import sha256_file
from score_vision.encoder import TorchEncoder
from score_vision.plugin import build_efficientnet_lite0, build_inception, build_mobilenet


@pytest.mark.parametrize(
    ("build", "filename"),
    [(build_mobilenet, "mobilenet_v2-7ebf99e0.pth"), (build_inception, "inception_v3_google-0cc3c7bd.pth")],
)
def test_offline_without_cache_is_one_line_naming_the_path(
    build: object, filename: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / filename
    # Whatever the network does, the download must not succeed into the test's cache: refuse it here.
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    with pytest.raises(ScoreError) as caught:
        build(None)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    assert str(expected) in message
    assert "--vision-weights PATH" in message
    assert not expected.exists()


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise OSError("[Errno -2] Name or service not known")


def test_cached_file_in_torch_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = tmp_path / "hub" / "checkpoints" / "mobilenet_v2-7ebf99e0.pth"
    cached.parent.mkdir(parents=True)
    torch.save(build_mobilenet("none")._model.state_dict(), cached)  # type: ignore[attr-defined]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    encoder = build_mobilenet(None)
    assert encoder.provenance()["weights"] == "MobileNet_V2_Weights.IMAGENET1K_V2"
    assert encoder.provenance()["weights_sha256"] == sha256_file(cached)


def test_a_local_state_dict_loads_and_is_hashed(mobilenet_random: TorchEncoder, tmp_path: Path) -> None:
    path = tmp_path / "mine.pth"
    torch.save(mobilenet_random._model.state_dict(), path)
    encoder = build_mobilenet(str(path))
    provenance = encoder.provenance()
    assert provenance["weights_file"] == str(path.resolve())
    assert provenance["weights_sha256"] == sha256_file(path)


def test_weights_of_another_architecture_are_refused(lite0: TorchEncoder) -> None:
    lite0_file = lite0.provenance()["weights_file"]
    with pytest.raises(ScoreError, match=r"missing keys \(e.g. features.0.0.weight.*unexpected keys \(e.g. _conv_stem"):
        build_mobilenet(lite0_file)


def test_a_tensor_of_the_wrong_shape_is_named(mobilenet_random: TorchEncoder, tmp_path: Path) -> None:
    state = dict(mobilenet_random._model.state_dict())
    state["classifier.1.weight"] = torch.zeros(10, 1280)
    path = tmp_path / "ten_classes.pth"
    torch.save(state, path)
    with pytest.raises(ScoreError, match=r"'classifier.1.weight' has shape \(10, 1280\), expected \(1000, 1280\)"):
        build_mobilenet(str(path))


def test_pickled_objects_are_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(ScoreError, match="weights-only"):
        build_efficientnet_lite0(str(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScoreError, match="does not exist"):
        build_efficientnet_lite0(str(tmp_path / "nope.pth"))
