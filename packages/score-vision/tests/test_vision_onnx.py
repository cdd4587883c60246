"""EfficientNet-Lite0 on ONNX Runtime: exported once into the cache, used only when it matches PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from score_vision.onnx_encoder import OnnxEncoder


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


def test_the_default_install_selects_onnx_runtime_and_later_runs_load_it_without_torch(cache: Path, tmp_path):
    from importlib import metadata

    assert any(r.startswith("onnxruntime") for r in metadata.requires("score-vision") or [])
    efficientnet_lite0_encoder(None)  # the first run exports and checks (kept in the cache)
    frames = _frames(tmp_path)
    np.save(tmp_path / "frames.npy", frames)
    code = (
        "import sys, json, numpy as np\n"
        "from score_core.registry import load_registry\n"
        "registration = load_registry().encoders.get('efficientnet-lite0')\n"
        "encoder = registration.factory(None, None)\n"
        f"features = encoder.encode(np.load({str(tmp_path / 'frames.npy')!r}))\n"
        f"np.save({str(tmp_path / 'fast.npy')!r}, features)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'runtime': encoder.provenance()['runtime']}))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parent.parent)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts == {"torch": False, "runtime": "onnxruntime"}
    fast, reference = np.load(tmp_path / "fast.npy"), _torch().encode(frames)
    cosine = np.sum(fast * reference, 1) / (np.linalg.norm(fast, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosine.min() >= 0.99


def _torch() -> TorchEncoder:
    encoder = efficientnet_lite0_encoder(None)
    return encoder.torch_encoder if isinstance(encoder, OnnxEncoder) else encoder


def test_the_torch_free_encoder_builds_its_pytorch_twin_only_when_asked(cache: Path, tmp_path):
    from score_vision.plugin import build_efficientnet_lite0

    efficientnet_lite0_encoder(None)
    fast = build_efficientnet_lite0()
    assert isinstance(fast, OnnxEncoder) and fast._torch is None
    frames = _frames(tmp_path)[:2]
    assert fast.classify(frames).shape == (2, 1000)  # the classifier head is PyTorch's
    assert isinstance(fast.torch_encoder, TorchEncoder)
    np.testing.assert_allclose(fast.pixels(frames), fast.torch_encoder._batch(frames).numpy(), rtol=0, atol=0)
