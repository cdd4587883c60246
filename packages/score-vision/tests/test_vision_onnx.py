"""EfficientNet-Lite0 on ONNX Runtime: exported once into the cache, used only when it matches PyTorch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from score_core.errors import ScoreError
from score_core.media import sample_frames
from score_core.media.synthetic import write_test_video
from score_core.testing import check_encoder

from score_vision.efficientnet import efficientnet_lite0_encoder
from score_vision.encoder import TorchEncoder
from score_vision.onnx_runtime import OnnxEncoder


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        patch.setenv("SCORE_VISION_RUNTIME", "auto")
        yield folder / "score" / "onnx"


def _frames(tmp_path: Path) -> np.ndarray:
    clip = write_test_video(tmp_path / "shots.mp4", duration=6.0, size=(120, 160), cuts=(2.0, 4.0))
    return np.concatenate([b.frames for b in sample_frames(clip, fps=2.0, size=(224, 224))])


def test_onnx_runtime_is_the_default_and_matches_pytorch(cache: Path, tmp_path: Path) -> None:
    encoder = efficientnet_lite0_encoder(None)
    assert isinstance(encoder, OnnxEncoder)
    frames = _frames(tmp_path)
    fast, reference = encoder.encode(frames), encoder.torch_encoder.encode(frames)
    cosine = np.sum(fast * reference, 1) / (np.linalg.norm(fast, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosine.min() >= 0.99
    assert encoder.provenance()["runtime"] == "onnxruntime"
    check_encoder(encoder)
    model = next(cache.glob("*.onnx"))
    stamp = model.stat().st_mtime_ns
    again = efficientnet_lite0_encoder(None)
    assert isinstance(again, OnnxEncoder) and model.stat().st_mtime_ns == stamp  # the cached export is reused


def test_a_model_that_does_not_match_pytorch_is_not_used(cache: Path, monkeypatch) -> None:
    efficientnet_lite0_encoder(None)  # make sure the export and its record exist
    record = next(cache.glob("*.json"))
    kept = record.read_text()
    try:
        record.write_text(json.dumps({**json.loads(kept), "min_cosine": 0.5}))
        assert isinstance(efficientnet_lite0_encoder(None), TorchEncoder)
        monkeypatch.setenv("SCORE_VISION_RUNTIME", "onnx")
        with pytest.raises(ScoreError, match="differ from PyTorch"):
            efficientnet_lite0_encoder(None)
    finally:
        record.write_text(kept)


def test_runtime_variable_chooses_pytorch_or_is_refused(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCORE_VISION_RUNTIME", "torch")
    assert isinstance(efficientnet_lite0_encoder(None), TorchEncoder)
    assert isinstance(efficientnet_lite0_encoder(None, layer="_blocks.3"), TorchEncoder)
    monkeypatch.setenv("SCORE_VISION_RUNTIME", "tensorrt")
    with pytest.raises(ScoreError, match="not one of auto, torch, onnx"):
        efficientnet_lite0_encoder(None)
