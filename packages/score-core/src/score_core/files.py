"""Writing outputs so that a failed run leaves nothing half-written and nothing a user made is overwritten."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


PART = ".part"
"""Marks the temporary files outputs are written to: ``.STEM.XXXXXXXX.part.SUFFIX`` beside the target."""


def temporary_beside(target: Path, suffix: str | None = None) -> Path:
    """A new empty temporary file beside ``target``, ending in ``suffix`` (by default the target's own, so tools
    that infer a format from it work)."""
    target = Path(target)
    ending = target.suffix if suffix is None else suffix
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f"{PART}{ending}", dir=target.parent)
    os.close(handle)
    return Path(temporary)


def is_temporary_of(name: str, stem: str) -> bool:
    """Whether file ``name`` is a temporary (``temporary_beside``) of a target whose stem is ``stem``."""
    return re.fullmatch(rf"\.{re.escape(stem)}\.[a-z0-9_]{{8}}{re.escape(PART)}(\..*)?", name) is not None


def publish(temporary: Path, target: Path, *, overwrite: bool = True) -> None:
    """Give a temporary file the permissions a plainly created file would have, then rename it onto target.

    Without ``overwrite`` an existing target (even one created a moment ago by another process) is refused.
    """
    if temporary.is_dir():  # a folder output (such as stems): renamed whole, replacing a folder only with overwrite
        os.chmod(temporary, 0o777 & ~_current_umask())
        if os.path.lexists(target) and not overwrite:
            raise ScoreError(str(target), "already exists; pass --overwrite to replace it")
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(temporary, target)
        return
    os.chmod(temporary, 0o666 & ~_current_umask())
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails if target exists, atomically
    except FileExistsError:
        raise ScoreError(str(target), "already exists; pass --overwrite to replace it") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise ScoreError(str(target), "already exists; pass --overwrite to replace it") from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


@contextmanager
def atomic_path(target: Path, *, overwrite: bool = True, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``target`` (ending in ``suffix``, by default the target's) to write to: renamed
    onto ``target`` when the block succeeds, removed when it fails, so ``target`` is never seen half-written."""
    target = Path(target)
    temporary = temporary_beside(target, suffix)
    try:
        yield temporary
        publish(temporary, target, overwrite=overwrite)
    finally:
        remove_path(temporary)


def remove_path(path: Path) -> None:
    """Remove a file or a folder, if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through ``atomic_path``."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)


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
    """Temporary files that become the final outputs together, or are all removed on failure.

    With ``overwrite`` the existing targets are moved aside first and put back if any rename fails, so either
    every target is replaced or none is. Without it an existing target refuses the whole commit.
    """

    def __init__(self, targets: dict[str, Path], overwrite: bool = False) -> None:
        self.targets = dict(targets)
        self.overwrite = overwrite
        self.staged: dict[str, Path] = {}

    def stage(self, key: str) -> Path:
        """A fresh temporary path in the target's directory for output ``key``."""
        self.staged[key] = temporary_beside(self.targets[key])
        return self.staged[key]

    def commit(self) -> dict[str, Path]:
        """Rename every staged file onto its target: all of them, or none."""
        backups: dict[Path, Path] = {}
        published: list[Path] = []
        try:
            if self.overwrite:
                for key in self.staged:
                    target = self.targets[key]
                    if os.path.lexists(target):
                        if target.is_dir() and not self.staged[key].is_dir():
                            raise ScoreError(str(target), "is a directory; it cannot be replaced by an output")
                        backup = temporary_beside(target)
                        if target.is_dir():
                            backup.unlink()
                        os.replace(target, backup)
                        backups[target] = backup
            for key, temporary in self.staged.items():
                publish(temporary, self.targets[key], overwrite=self.overwrite)
                published.append(self.targets[key])
        except BaseException as error:
            for target in published:
                remove_path(target)
            for target, backup in backups.items():
                os.replace(backup, target)
            if isinstance(error, OSError):
                raise ScoreError(str(error.filename or "outputs"), f"cannot be replaced ({error.strerror})") from None
            raise
        for backup in backups.values():
            remove_path(backup)
        committed = {key: self.targets[key] for key in self.staged}
        self.staged.clear()
        return committed

    def discard(self) -> None:
        for temporary in self.staged.values():
            remove_path(temporary)
        self.staged.clear()


class OutputClaim:
    """An exclusive claim on the outputs named ``STEM.*`` in a directory, held by one run at a time.

    A lock file ``.STEM.score-lock`` is locked (``flock``) while the run lives; the operating system releases
    it if the run is killed. Whoever takes the claim removes the temporary files a killed run left behind.
    """

    def __init__(self, directory: Path, stem: str) -> None:
        self.directory = Path(directory)
        self.stem = stem
        self.path = self.directory / f".{stem}.score-lock"
        self._handle: int | None = None

    def acquire(self) -> OutputClaim:
        import fcntl

        while True:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(handle, 64).decode(errors="replace").strip() or "unknown"
                os.close(handle)
                raise ScoreError(
                    str(self.directory / self.stem),
                    f"another score run (process {holder}) is writing these outputs; wait for it or use another -o",
                ) from None
            try:
                same = os.fstat(handle).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(handle)  # the previous holder removed the file as we opened it: try again
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        self._handle = handle
        self.remove_stale_temporaries()
        return self

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove temporaries of this claim's outputs (left by a run that was killed); returns them."""
        stale = [p for p in self.directory.iterdir() if is_temporary_of(p.name, self.stem)]
        for path in stale:
            remove_path(path)
        return stale

    def release(self) -> None:
        if self._handle is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._handle)
        self._handle = None

    def __enter__(self) -> OutputClaim:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
