"""ONNX Runtime behind the same encoder plugins: EfficientNet-Lite0 and MobileNet v2 were designed for such
runtimes, and on CPU it encodes several times faster than eager PyTorch (bench/batch.py).

The model is exported once (needs the `onnx` package) into the user's cache, keyed by the weights' SHA-256,
and used only when its features match PyTorch's (cosine >= MIN_COSINE on a fixed probe batch); the check's
result is stored beside the model. ``SCORE_VISION_RUNTIME`` chooses: ``auto`` (default: ONNX Runtime when
installed and matching, else PyTorch), ``torch``, or ``onnx`` (an error when it cannot be used).
"""

from __future__ import annotations

import json
import os
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from score_core.contracts import EncoderSpec
from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_vision.encoder import TorchEncoder

MIN_COSINE = 0.99
RUNTIME_VARIABLE = "SCORE_VISION_RUNTIME"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "score" / "onnx"


class OnnxEncoder:
    """A VisionEncoder that runs the exported model in ONNX Runtime; preprocessing and the classifier head stay
    the PyTorch encoder's."""

    def __init__(self, torch_encoder: TorchEncoder, session: Any, cosine: float, model_path: Path) -> None:
        self.spec: EncoderSpec = torch_encoder.spec
        self._torch = torch_encoder
        self._session = session
        self._cosine = cosine
        self._model_path = model_path

    @property
    def torch_encoder(self) -> TorchEncoder:
        """The PyTorch encoder this one was exported from (and checked against)."""
        return self._torch

    def encode(self, frames: np.ndarray) -> np.ndarray:
        if len(frames) == 0:
            return np.zeros((0, self.spec.feature_size), dtype=np.float32)
        pixels = self._torch._batch(frames).contiguous().numpy()
        return np.ascontiguousarray(self._session.run(None, {"pixels": pixels})[0], dtype=np.float32)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        return self._torch.classify(frames)

    def provenance(self) -> dict[str, Any]:
        return {
            **self._torch.provenance(), "runtime": "onnxruntime", "onnxruntime": metadata.version("onnxruntime"),
            "onnx_model": str(self._model_path), "onnx_min_cosine_to_torch": round(self._cosine, 6),
        }


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


def _session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)))


def onnx_encoder(encoder: TorchEncoder) -> OnnxEncoder:
    """The ONNX Runtime twin of ``encoder`` (exported and checked on first use); ScoreError when unusable."""
    subject = f"encoder '{encoder.spec.name}' on ONNX Runtime"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ScoreError(subject, "onnxruntime is not installed; pip install 'score-vision[onnx]'") from None
    weights_sha = encoder.provenance().get("weights_sha256")
    if not weights_sha:
        raise ScoreError(subject, "only encoders with a weights file can be exported (the cache is keyed on it)")
    key = f"{encoder.spec.name}-{weights_sha[:16]}-torch{torch.__version__.split('+')[0]}"
    model = cache_dir() / f"{key}.onnx"
    record = model.with_suffix(".json")
    if not model.exists() or not record.exists():
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ScoreError(subject, "exporting needs the onnx package; pip install 'score-vision[onnx]'") from None
        model.parent.mkdir(parents=True, exist_ok=True)
        _export(encoder, model)
        probe = _probe_frames(encoder.spec)
        cosine = _min_cosine(_session(model, encoder.threads).run(None, {"pixels": encoder._batch(probe)
                                                                       .contiguous().numpy()})[0],
                             encoder.encode(probe))
        atomic_write_bytes(record, json.dumps({"min_cosine": cosine, "weights_sha256": weights_sha}).encode())
    cosine = float(json.loads(record.read_text())["min_cosine"])
    if cosine < MIN_COSINE:
        raise ScoreError(subject, f"features differ from PyTorch's (cosine {cosine:.4f} < {MIN_COSINE})")
    return OnnxEncoder(encoder, _session(model, encoder.threads), cosine, model)


def fastest_runtime(encoder: TorchEncoder, layer: str | None) -> TorchEncoder | OnnxEncoder:
    """``encoder`` on the runtime ``SCORE_VISION_RUNTIME`` asks for (auto: ONNX Runtime when it can be used)."""
    wanted = os.environ.get(RUNTIME_VARIABLE, "auto").strip().lower()
    if wanted not in ("auto", "torch", "onnx"):
        raise ScoreError(RUNTIME_VARIABLE, f"{wanted!r} is not one of auto, torch, onnx")
    if wanted == "torch" or layer is not None:
        return encoder
    try:
        return onnx_encoder(encoder)
    except ScoreError:
        if wanted == "onnx":
            raise
        return encoder
