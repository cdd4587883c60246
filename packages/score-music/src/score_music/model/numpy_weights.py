"""Reading our MusicVAE weight files into numpy arrays without importing torch.

A `.pt` file from `save_weights` is a zip holding a pickle of plain containers and tensors whose bytes lie in
``data/N`` members. The unpickler here admits only the globals such a file uses (OrderedDict, torch's tensor
rebuild function and its storage types) and builds numpy arrays from the members, so loading stays as safe as
``torch.load(weights_only=True)``. Anything else in a file makes `read_numpy_weights` return None, and the
caller takes the torch path, which names what is wrong.
"""

from __future__ import annotations

import collections
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from score_music.model.config import CONFIGS, MusicVAEConfig

_STORAGE_DTYPES = {
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BFloat16Storage": None,  # numpy has no bfloat16: the torch path reads these
}


class _Unreadable(Exception):
    """The file holds something this reader does not handle."""


class _Storage:
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_rest: Any) -> np.ndarray:
    count = int(np.prod(size)) if size else 1
    if offset < 0 or (count and offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) >= storage.size):
        raise _Unreadable("tensor outside its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(st * storage.itemsize for st in stride))
    return np.array(view)


class _TorchZipUnpickler(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, prefix: str, data: bytes) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and _STORAGE_DTYPES.get(name) is not None:
            return _Storage(_STORAGE_DTYPES[name])
        raise _Unreadable(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)):
            raise _Unreadable("unknown persistent id")
        raw = self._archive.read(f"{self._prefix}data/{pid[2]}")
        storage = np.frombuffer(raw, dtype=np.dtype(pid[1].dtype).newbyteorder("<"))
        if storage.size != int(pid[4]):
            raise _Unreadable("storage size")
        return storage


def _read_pt(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if len(pickles) != 1:
            raise _Unreadable("no single data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise _Unreadable("big-endian tensors")
        blob = _TorchZipUnpickler(archive, prefix, archive.read(pickles[0])).load()
    if not isinstance(blob, dict) or not isinstance(blob.get("state_dict"), dict):
        raise _Unreadable("no state_dict")
    return blob


def read_numpy_weights(path: str | Path) -> tuple[MusicVAEConfig, dict[str, np.ndarray]] | None:
    """(config, float32 arrays by state-dict name) of a `.pt` file from `save_weights`, or None when the file
    is not one this reader can vouch for (wrong format or version, an unknown config, arrays that do not add up
    to the config's parameter count, non-finite values): the torch path then reads it or names the fault."""
    path = Path(path)
    if path.suffix != ".pt" or not path.is_file():
        return None
    try:
        blob = _read_pt(path)
        if blob.get("format") != "score-musicvae" or blob.get("format_version") != 1:
            return None
        config = MusicVAEConfig.from_dict(json.loads(blob["config"]))
    except (_Unreadable, zipfile.BadZipFile, pickle.UnpicklingError, OSError, KeyError, ValueError, TypeError,
            EOFError, AttributeError, IndexError):
        return None
    if config.name not in CONFIGS or config.architecture() != CONFIGS[config.name].architecture():
        return None
    tensors = blob["state_dict"]
    if not all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in tensors.items()):
        return None
    if sum(int(v.size) for v in tensors.values()) != config.parameter_count():
        return None
    arrays = {key: value.astype(np.float32) for key, value in tensors.items()}
    if not all(np.isfinite(value).all() for value in arrays.values()):
        return None
    return config, arrays
