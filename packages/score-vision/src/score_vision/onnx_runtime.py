"""Exporting encoders to ONNX Runtime: EfficientNet-Lite0 and MobileNet v2 were designed for such runtimes,
and on CPU it encodes several times faster than eager PyTorch (bench/pipeline.py).

The model is exported once (with the `onnx` package) into the user's cache, keyed by the weights' SHA-256,
and used only when its features match PyTorch's (cosine >= MIN_COSINE on a fixed probe batch); the check's
result, the PyTorch encoder's provenance and normalisation are stored beside the model, so later runs load it
without torch (score_vision.onnx_encoder). ``SCORE_VISION_RUNTIME`` chooses: ``auto`` (default: ONNX Runtime
when installed and matching, else PyTorch), ``torch``, or ``onnx`` (an error when it cannot be used).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from score_core.contracts import EncoderSpec
from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_vision.encoder import TorchEncoder
from score_vision.onnx_encoder import (
    MIN_COSINE,
    RUNTIME_VARIABLE,
    RUNTIMES,
    OnnxEncoder,
    model_path,
    read_record,
    session,
    wanted_runtime,
)


class _Features(torch.nn.Module):
    def __init__(self, encoder: TorchEncoder) -> None:
        super().__init__()
        self.model = encoder._model  # registered, so export sees the weights as parameters
        self._features = encoder._features

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._features(pixels)


def _probe_frames(spec: EncoderSpec) -> np.ndarray:
    height, width = spec.input_size
    return np.random.default_rng(0).integers(0, 256, size=(8, height, width, 3), dtype=np.uint8)


def _export(encoder: TorchEncoder, target: Path) -> None:
    for parameter in encoder._model.parameters():
        parameter.requires_grad_(False)
    sample = encoder._batch(_probe_frames(encoder.spec)[:2]).contiguous()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and shape-inference notes
            torch.onnx.export(_Features(encoder).eval(), (sample,), str(temporary), input_names=["pixels"],
                              output_names=["features"], dynamo=False,
                              dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}})
        os.replace(temporary, target)
    finally:
        encoder._model.eval()  # export restores the wrapper's training flag on every submodule
        temporary.unlink(missing_ok=True)


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)))


def onnx_encoder(encoder: TorchEncoder) -> OnnxEncoder:
    """The ONNX Runtime twin of ``encoder`` (exported and checked on first use); ScoreError when unusable."""
    subject = f"encoder '{encoder.spec.name}' on ONNX Runtime"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ScoreError(subject, "onnxruntime is not installed; pip install onnxruntime") from None
    weights_sha = encoder.provenance().get("weights_sha256")
    if not weights_sha:
        raise ScoreError(subject, "only encoders with a weights file can be exported (the cache is keyed on it)")
    model = model_path(encoder.spec.name, weights_sha)
    facts = read_record(model)
    if facts is None:
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ScoreError(subject, "exporting needs the onnx package; pip install onnx") from None
        print(f"score: exporting {encoder.spec.name} to ONNX Runtime once (cached in {model.parent})",
              file=sys.stderr)
        model.parent.mkdir(parents=True, exist_ok=True)
        _export(encoder, model)
        probe = _probe_frames(encoder.spec)
        exported = session(model, encoder.threads).run(None, {"pixels": encoder._batch(probe).contiguous().numpy()})
        facts = {"min_cosine": _min_cosine(exported[0], encoder.encode(probe)), "weights_sha256": weights_sha}
    if "provenance" not in facts:  # records from before the torch-free load
        facts = {**facts, "provenance": encoder.provenance()}
        atomic_write_bytes(model.with_suffix(".json"), json.dumps(facts).encode())
    cosine = float(facts["min_cosine"])
    if cosine < MIN_COSINE:
        raise ScoreError(subject, f"features differ from PyTorch's (cosine {cosine:.4f} < {MIN_COSINE})")
    return OnnxEncoder(encoder.spec, session(model, encoder.threads), cosine=cosine, model_path=model,
                       provenance=encoder.provenance(), torch_encoder=encoder)


def fastest_runtime(encoder: TorchEncoder, layer: str | None) -> TorchEncoder | OnnxEncoder:
    """``encoder`` on the runtime ``SCORE_VISION_RUNTIME`` asks for (auto: ONNX Runtime when it can be used)."""
    wanted = wanted_runtime()
    if wanted not in RUNTIMES:
        raise ScoreError(RUNTIME_VARIABLE, f"{wanted!r} is not one of {', '.join(RUNTIMES)}")
    if wanted == "torch" or layer is not None:
        return encoder
    try:
        return onnx_encoder(encoder)
    except ScoreError:
        if wanted == "onnx":
            raise
        return encoder
