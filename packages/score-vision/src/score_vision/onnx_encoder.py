"""Encoders on ONNX Runtime, loaded without torch once an export has been checked against PyTorch.

An exported model lives in the user's cache beside a JSON record of its check (the minimum cosine to the
PyTorch features), the PyTorch encoder's provenance and its normalisation. With both present, a run builds the
encoder from them alone: no torch import (about 1.5 s and 0.8 GB on these machines), numpy preprocessing that
does the PyTorch encoder's arithmetic, and the PyTorch encoder built only if something asks for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from score_core.contracts import EncoderSpec
from score_core.files import sha256_file

MIN_COSINE = 0.99
RUNTIME_VARIABLE = "SCORE_VISION_RUNTIME"
RUNTIMES = ("auto", "torch", "onnx")
SESSION_BATCH = 8
"""Frames per ONNX Runtime call: as fast per frame as 32 on 2 cores, with a peak of about 200 MB, not 450."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "score" / "onnx"


def wanted_runtime() -> str:
    """``SCORE_VISION_RUNTIME`` lower-cased (auto when unset); the caller refuses values not in RUNTIMES."""
    return os.environ.get(RUNTIME_VARIABLE, "auto").strip().lower()


def torch_version() -> str:
    """The installed torch's version without its local build tag, read without importing torch."""
    return metadata.version("torch").split("+")[0]


def model_path(encoder_name: str, weights_sha256: str) -> Path:
    """Where the export of ``encoder_name`` with these weights is cached (its record: the same name, .json)."""
    return cache_dir() / f"{encoder_name}-{weights_sha256[:16]}-torch{torch_version()}.onnx"


def cpu_threads() -> int:
    """Intra-op threads: OMP_NUM_THREADS when set, else every CPU this process may run on but one, which the
    decoding thread that feeds the encoder keeps (on 2 cores: 2.70 s against 2.88 s for a 60 s 720p clip)."""
    fixed = os.environ.get("OMP_NUM_THREADS", "").strip()
    if fixed.isdigit() and int(fixed) > 0:
        return int(fixed)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus - 1)


def session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """A VisionEncoder running an exported model in ONNX Runtime.

    Frames are normalised in numpy exactly as the PyTorch encoder does it ((x − mean) · (1 / std), float32,
    NCHW). ``torch_encoder`` (the model it was exported from and checked against) is built on first use.
    """

    def __init__(
        self,
        spec: EncoderSpec,
        session: Any,
        *,
        cosine: float,
        model_path: Path,
        provenance: dict[str, Any],
        torch_encoder: Callable[[], Any] | Any,
    ) -> None:
        self.spec = spec
        self._session = session
        self._cosine = cosine
        self._model_path = model_path
        self._provenance = provenance
        normalisation = provenance["normalisation"]
        self._mean = np.asarray(normalisation["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
        self._scale = (np.float32(1.0) / np.asarray(normalisation["std"], dtype=np.float32)).reshape(1, 3, 1, 1)
        self._torch: Any = None if callable(torch_encoder) else torch_encoder
        self._build_torch = torch_encoder if callable(torch_encoder) else None

    @property
    def torch_encoder(self) -> Any:
        """The PyTorch encoder this one was exported from (and checked against)."""
        if self._torch is None:
            assert self._build_torch is not None
            self._torch = self._build_torch()
        return self._torch

    def pixels(self, frames: np.ndarray) -> np.ndarray:
        """The model's input for uint8 frames (B, H, W, 3): normalised float32 (B, 3, H, W)."""
        height, width = self.spec.input_size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (height, width, 3):
            raise ValueError(
                f"{self.spec.name} expects uint8 frames (B, {height}, {width}, 3), got {frames.dtype} {frames.shape}"
            )
        batch = frames.transpose(0, 3, 1, 2).astype(np.float32)
        batch -= self._mean
        batch *= self._scale
        return batch

    def encode(self, frames: np.ndarray) -> np.ndarray:
        if len(frames) == 0:
            return np.zeros((0, self.spec.feature_size), dtype=np.float32)
        chunks = [
            self._session.run(None, {"pixels": self.pixels(frames[start : start + SESSION_BATCH])})[0]
            for start in range(0, len(frames), SESSION_BATCH)
        ]
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        return np.asarray(self.torch_encoder.classify(frames))

    def provenance(self) -> dict[str, Any]:
        return {
            **self._provenance, "runtime": "onnxruntime", "onnxruntime": metadata.version("onnxruntime"),
            "onnx_model": str(self._model_path), "onnx_min_cosine_to_torch": round(self._cosine, 6),
        }


def read_record(model: Path) -> dict[str, Any] | None:
    """The check record beside an exported model, or None when either file is missing or unreadable."""
    record = model.with_suffix(".json")
    if not model.is_file() or not record.is_file():
        return None
    try:
        facts = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) and "min_cosine" in facts else None


def cached_encoder(spec: EncoderSpec, weights_file: Path, build_torch: Callable[[], Any]) -> OnnxEncoder | None:
    """The checked export of ``spec``'s encoder with ``weights_file`` from the cache, built without torch;
    None when the runtime is not wanted, not installed, not exported yet, or failed its check."""
    if wanted_runtime() not in ("auto", "onnx"):
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    weights_sha = sha256_file(weights_file)
    model = model_path(spec.name, weights_sha)
    facts = read_record(model)
    if facts is None or "provenance" not in facts or float(facts["min_cosine"]) < MIN_COSINE:
        return None
    provenance = dict(facts["provenance"])
    if provenance.get("weights_sha256") != weights_sha:
        return None
    return OnnxEncoder(spec, session(model, cpu_threads()), cosine=float(facts["min_cosine"]), model_path=model,
                       provenance=provenance, torch_encoder=build_torch)
