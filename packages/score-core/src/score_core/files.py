"""Writing outputs so that a failed run leaves nothing half-written and nothing a user made is overwritten."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from score_core.errors import ScoreError


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (weight hashes in the run's sidecar)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(temporary: Path, target: Path) -> None:
    """Give a temporary file (or folder) the permissions a plainly created one would have, then rename it onto
    target; a folder replaces an existing folder of that name."""
    if temporary.is_dir():
        os.chmod(temporary, 0o777 & ~_current_umask())
        if target.is_dir():
            shutil.rmtree(target)
    else:
        os.chmod(temporary, 0o666 & ~_current_umask())
    os.replace(temporary, target)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        publish(Path(temporary), path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ensure_writable_directory(directory: Path) -> Path:
    """Create ``directory`` if needed and check that files can be created in it."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ScoreError(str(directory), "output path exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".score-write-test-", dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ScoreError(str(directory), f"output directory is not writable ({error.strerror or error})") from None
    return directory


class StagedOutputs:
    """Temporary files that become the final outputs together, or are all removed on failure."""

    def __init__(self, targets: dict[str, Path]) -> None:
        self.targets = dict(targets)
        self.staged: dict[str, Path] = {}

    def stage(self, key: str) -> Path:
        """A fresh temporary path in the target's directory for output ``key``."""
        target = self.targets[key]
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent
        )
        os.close(handle)
        self.staged[key] = Path(temporary)
        return self.staged[key]

    def commit(self) -> dict[str, Path]:
        """Rename every staged file onto its target."""
        for key, temporary in self.staged.items():
            publish(temporary, self.targets[key])
        committed = {key: self.targets[key] for key in self.staged}
        self.staged.clear()
        return committed

    def discard(self) -> None:
        for temporary in self.staged.values():
            if temporary.is_dir():
                shutil.rmtree(temporary, ignore_errors=True)
            else:
                temporary.unlink(missing_ok=True)
        self.staged.clear()
