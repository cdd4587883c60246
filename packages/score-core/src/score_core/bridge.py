"""PCA whitening from image features to a decoder's latent space.

Features are centred, projected on their principal components and divided by each component's standard
deviation, so every latent dimension has unit variance over the fitted frames, as a standard-normal prior
expects. Components the data cannot support (fewer frames than dimensions, or zero variance) map to zero, the
prior's mean, instead of NaN. The strongest component goes to the decoder's most-used latent dimension.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from score_core.contracts import FeatureTrack, LatentSpec, LatentTrack
from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes

_VARIANCE_FLOOR = 1e-10


class PcaWhitening:
    """A fitted whitening map: ``(x - mean) @ components.T / std`` for the supported components."""

    def __init__(self, mean: np.ndarray, components: np.ndarray, std: np.ndarray, encoder: str) -> None:
        self.mean = mean.astype(np.float64)
        self.components = components.astype(np.float64)
        self.std = std.astype(np.float64)
        self.encoder = encoder

    @classmethod
    def fit(cls, features: np.ndarray, n_components: int, encoder: str) -> PcaWhitening:
        """Fit on a (T, D) matrix; works for any T >= 1, keeping at most min(T - 1, D) real components."""
        data = np.asarray(features, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] == 0:
            raise ValueError(f"cannot fit PCA on features of shape {data.shape}")
        mean = data.mean(axis=0)
        centred = data - mean
        _, singular_values, vt = np.linalg.svd(centred, full_matrices=False)
        std = singular_values / np.sqrt(max(data.shape[0] - 1, 1))
        kept = min(n_components, vt.shape[0])
        components = np.zeros((n_components, data.shape[1]))
        components[:kept] = vt[:kept]
        stds = np.zeros(n_components)
        stds[:kept] = std[:kept]
        stds[stds**2 < _VARIANCE_FLOOR] = 0.0
        _fix_signs(components)
        return cls(mean, components, stds, encoder)

    @property
    def input_size(self) -> int:
        return int(self.mean.shape[0])

    @property
    def output_size(self) -> int:
        return int(self.std.shape[0])

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Whitened coordinates (T, n_components); unsupported components are 0."""
        projected = (np.asarray(features, dtype=np.float64) - self.mean) @ self.components.T
        scale = np.divide(1.0, self.std, out=np.zeros_like(self.std), where=self.std > 0)
        return projected * scale

    def save(self, path: Path) -> None:
        """Save atomically as an .npz file (no pickle)."""
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean, components=self.components, std=self.std, encoder=np.array(self.encoder))
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> PcaWhitening:
        """A saved bridge, checked whole (shapes agree, values finite) before it is used on any video."""
        if Path(path).is_dir():
            raise ScoreError(str(path), "is a directory, not a saved PCA bridge")
        try:
            _refuse_oversized_members(Path(path))
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: np.asarray(data[key]) for key in ("mean", "components", "std", "encoder")}
        except FileNotFoundError:
            raise ScoreError(str(path), "no such file") from None
        except KeyError as error:
            raise ScoreError(str(path), f"not a saved PCA bridge (it lacks {error})") from None
        except Exception as error:  # zipfile, zlib and numpy report damage each in their own way
            cause = f"{type(error).__name__}: {error}"
            raise ScoreError(str(path), f"not a saved PCA bridge, or damaged ({cause})") from None
        problem = _whitening_problem(arrays)
        if problem:
            raise ScoreError(str(path), f"damaged PCA bridge: {problem}")
        return cls(arrays["mean"], arrays["components"], arrays["std"], str(arrays["encoder"]))

    def digest(self) -> str:
        hasher = hashlib.sha256()
        for array in (self.mean, self.components, self.std):
            hasher.update(np.ascontiguousarray(array).tobytes())
        return hasher.hexdigest()


MAX_BRIDGE_BYTES = 1 << 30
"""A saved bridge whose arrays would take more memory than this (1 GiB) is refused before they are read."""


def _refuse_oversized_members(path: Path) -> None:
    """Read only the .npy headers inside the .npz and refuse one that declares arrays over MAX_BRIDGE_BYTES (a
    compressed file of a few KB can declare gigabytes)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return  # np.load reports what it is
    declared = 0
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(stream)
            declared += int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    if declared > MAX_BRIDGE_BYTES:
        raise ScoreError(str(path), f"declares {declared / 2**30:.1f} GiB of arrays; a PCA bridge is far smaller")


def _whitening_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with the arrays of a saved bridge, or None."""
    mean, components, std = arrays["mean"], arrays["components"], arrays["std"]
    for name in ("mean", "components", "std"):
        if arrays[name].dtype.kind not in "fiu":
            return f"{name} holds {arrays[name].dtype} values, not numbers"
    if mean.ndim != 1 or std.ndim != 1 or components.ndim != 2 or mean.size == 0 or std.size == 0:
        return f"arrays of shapes mean {mean.shape}, components {components.shape}, std {std.shape}"
    if components.shape != (std.size, mean.size):
        return f"components are {components.shape}, expected ({std.size}, {mean.size}) from std and mean"
    for name in ("mean", "components", "std"):
        if not np.all(np.isfinite(arrays[name])):
            return f"{name} holds NaN or infinity"
    if np.any(std < 0):
        return "std holds negative values"
    if arrays["encoder"].dtype.kind != "U" or arrays["encoder"].ndim != 0:
        return "encoder is not a name"
    return None


def _fix_signs(components: np.ndarray) -> None:
    """Make each component's largest coefficient positive, so refits of similar data agree in sign."""
    for row in components:
        index = int(np.argmax(np.abs(row)))
        if row[index] < 0:
            row *= -1


def segment_means(features: FeatureTrack, values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of ``values`` rows whose times fall in each segment; a segment with no frame takes the nearest one."""
    times = features.times
    result = np.empty((len(starts), values.shape[1]))
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        inside = (times >= start) & (times < end)
        if inside.any():
            result[index] = values[inside].mean(axis=0)
        else:
            nearest = int(np.argmin(np.abs(times - (start + end) / 2)))
            result[index] = values[nearest]
    return result


class PcaBridge:
    """Bridge that whitens features with PCA: fitted on each video, or loaded from a corpus fit."""

    def __init__(self, whitening: PcaWhitening | None = None, source: str | None = None) -> None:
        self._whitening = whitening
        self._source = source
        self._last_fit: PcaWhitening | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> PcaBridge:
        return cls(PcaWhitening.load(Path(path)), source=str(path))

    def fit(self, features: np.ndarray, spec: LatentSpec, encoder: str) -> None:
        """Fit PCA whitening on a corpus's features; the bridge then maps every video with it."""
        self._whitening = PcaWhitening.fit(features, spec.size, encoder)
        self._source = None

    def save(self, path: Path) -> None:
        if self._whitening is None:
            raise ScoreError(str(path), "the PCA bridge is not fitted on a corpus; nothing to save")
        self._whitening.save(path)

    @property
    def input_size(self) -> int | None:
        return self._whitening.input_size if self._whitening else None

    @property
    def output_size(self) -> int | None:
        return self._whitening.output_size if self._whitening else None

    @property
    def fitted_encoder(self) -> str | None:
        return self._whitening.encoder if self._whitening else None

    def to_latents(
        self, features: FeatureTrack, spec: LatentSpec, starts: np.ndarray, ends: np.ndarray, tempo_bpm: float
    ) -> LatentTrack:
        whitening = self._whitening or PcaWhitening.fit(features.values, spec.size, features.encoder)
        self._last_fit = whitening
        if whitening.input_size != features.feature_size or whitening.output_size != spec.size:
            raise ScoreError(
                f"bridge {self._source or 'pca'}",
                f"fitted for {whitening.input_size}-d features to {whitening.output_size}-d latents, "
                f"got {features.feature_size}-d features for a {spec.size}-d decoder",
            )
        whitened = whitening.transform(features.values)
        per_segment = segment_means(features, whitened, starts, ends)
        latents = np.zeros_like(per_segment)
        latents[:, list(spec.ordered_dimensions())] = per_segment
        return LatentTrack(
            starts=starts, ends=ends, values=latents.astype(np.float32), spec=spec, tempo_bpm=tempo_bpm
        )

    def provenance(self) -> dict[str, Any]:
        fitted = self._whitening or self._last_fit
        return {
            "bridge": "pca",
            "fitted_on": self._source or "this video",
            "encoder": fitted.encoder if fitted else None,
            "sha256": fitted.digest() if fitted else None,
        }
