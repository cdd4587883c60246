"""The studio's work folder, its uploads and takes, and the worker that runs one take at a time.

Everything lives under one folder: ``uploads/<id>/`` holds a probed video and its description,
``takes/<id>/`` a take's outputs and its ``job.json`` state. Clients only ever name things by id.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_core.registry import Registry

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
FINISHED = ("done", "failed")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def new_id() -> str:
    return uuid.uuid4().hex


def check_id(value: str, kind: str) -> str:
    """``value`` when it is a well-formed id, else a ScoreError (ids never carry paths)."""
    if not ID_PATTERN.fullmatch(value):
        raise ScoreError(f"{kind} id", f"'{value[:40]}' is not an id")
    return value


def display_name(name: str) -> str:
    """A client-supplied file name reduced to something safe to show (it is never used as a path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _SAFE_NAME.sub("_", base).strip(" .")[:80] or "video"


@dataclass(frozen=True)
class StudioSettings:
    """How a studio was started: its folder, limits and what it lets a client choose."""

    work: Path
    max_upload_bytes: int = 200 * 1024 * 1024
    allow_local_weights: bool = False
    max_queued: int = 8


@dataclass(frozen=True)
class TakeRequest:
    """What a client asked for: an uploaded video and the plugins and options to score it with."""

    upload: str
    vision: str
    music: str
    bridge: str = "pca"
    seed: int = 0
    temperature: float = 1.0
    tempo_bpm: float | None = None
    """None: the tempo map chooses the tempo so cuts land on beats."""
    fps: float | None = None
    key: str | None = None
    """As `score run --key`: None or "auto" for the key from the picture's colour, "none", or e.g. "D minor"."""
    harmony: str = "chords"
    programs: str | None = None
    """As `score run --programs`: "melody=73,bass=33" (a band's parts, and "harmony" for the chords)."""
    cuts: list[float] | None = None
    locks: list[list[int]] | None = None
    """[shot, seed] pairs, as `score run --lock SHOT=SEED`: the page's lock and re-roll."""
    """Where the shots start (seconds), as `score run --cuts`: the page's cut editor; None: the detector's."""
    vision_weights: str | None = None
    music_weights: str | None = None
    bridge_weights: str | None = None


class Workspace:
    """The studio's folder; every path handed out is checked to lie inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / "uploads").mkdir(parents=True, exist_ok=True)
        (self.root / "takes").mkdir(parents=True, exist_ok=True)

    def upload_dir(self, upload_id: str) -> Path:
        return self.inside(self.root / "uploads" / check_id(upload_id, "upload"))

    def take_dir(self, take_id: str) -> Path:
        return self.inside(self.root / "takes" / check_id(take_id, "take"))

    def inside(self, path: Path) -> Path:
        """``path`` resolved, or a ScoreError when it (or a link in it) leads outside the work folder."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise ScoreError(str(path.name), "is outside the studio's work folder")
        return resolved

    def upload(self, upload_id: str) -> dict[str, Any]:
        """The description of an upload, or a ScoreError when there is none."""
        folder = self.upload_dir(upload_id)
        record = folder / "upload.json"
        if not record.is_file():
            raise ScoreError(f"upload {upload_id}", "no such upload")
        return json.loads(record.read_text())

    def uploaded_video(self, upload_id: str) -> Path:
        return self.inside(self.upload_dir(upload_id) / self.upload(upload_id)["file"])

    def file_of_take(self, take_id: str, output: str) -> Path:
        """The file a finished take wrote for ``output`` (a writer's name such as "midi")."""
        state = self.read_take(take_id)
        name = state.get("outputs", {}).get(output)
        if not name:
            raise ScoreError(f"take {take_id}", f"has no output '{output[:40]}'")
        path = self.inside(self.take_dir(take_id) / name)
        if path.is_dir():  # a folder output (the band's stems) is served as one ZIP, made once
            return self.zipped(path)
        if not path.is_file():
            raise ScoreError(f"take {take_id}", f"output '{output}' is missing")
        return path

    def zipped(self, folder: Path) -> Path:
        """``folder``'s files in ``folder``.zip beside it (stored, not compressed: WAVs barely shrink)."""
        import zipfile

        target = folder.with_name(folder.name + ".zip")
        if not target.is_file():
            partial = target.with_name(target.name + ".partial")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
                for file in sorted(p for p in folder.iterdir() if p.is_file()):
                    archive.write(file, file.name)
            partial.replace(target)
        return target

    def read_take(self, take_id: str) -> dict[str, Any]:
        record = self.take_dir(take_id) / "job.json"
        if not record.is_file():
            raise ScoreError(f"take {take_id}", "no such take")
        return json.loads(record.read_text())

    def write_take(self, state: dict[str, Any]) -> None:
        folder = self.take_dir(state["id"])
        folder.mkdir(exist_ok=True)
        atomic_write_bytes(folder / "job.json", json.dumps(state, indent=1, sort_keys=True).encode())

    def takes(self) -> list[dict[str, Any]]:
        states = []
        for folder in (self.root / "takes").iterdir():
            if ID_PATTERN.fullmatch(folder.name) and (folder / "job.json").is_file():
                states.append(json.loads((folder / "job.json").read_text()))
        return sorted(states, key=lambda s: (s["created"], s["id"]))


class JobQueue:
    """Takes waiting and running: one worker thread runs them one after another, state goes to disk."""

    def __init__(self, workspace: Workspace, registry: Registry, settings: StudioSettings) -> None:
        self.workspace = workspace
        self.registry = registry
        self.settings = settings
        self._pending: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cancelled: set[str] = set()
        self._recover()

    def _recover(self) -> None:
        """After a restart: queued takes queue again; a take that was running is marked failed."""
        for state in self.workspace.takes():
            if state["status"] == "running":
                state.update(status="failed", error="studio: interrupted (the studio stopped during the run)")
                self.workspace.write_take(state)
            self._states[state["id"]] = state
            if state["status"] == "queued":
                self._pending.put(state["id"])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="studio-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def submit(self, request: TakeRequest) -> dict[str, Any]:
        """Queue a take; the same request while an identical one waits or runs (a double click) returns that
        take. Takes are numbered per video name, across uploads. Raises QueueFull when as many takes as allowed
        are already waiting."""
        video = str(self.workspace.upload(request.upload)["name"])
        with self._lock:
            for existing in self._states.values():
                if existing["request"] == request.__dict__ and existing["status"] in ("queued", "running"):
                    return dict(existing)
            waiting = sum(1 for s in self._states.values() if s["status"] == "queued")
            if waiting >= self.settings.max_queued:
                raise QueueFull("studio", f"{waiting} takes are already waiting; try again when one has finished")
            number = 1 + max((s["take"] for s in self._states.values() if s.get("video") == video), default=0)
            state: dict[str, Any] = {
                "id": new_id(), "request": request.__dict__, "take": number, "video": video, "name": None,
                "status": "queued", "stage": "queued",
                "progress": 0.0, "error": None, "outputs": {}, "figures": {}, "created": time.time(),
                "started": None, "finished": None, "version": 0,
            }
            self._states[state["id"]] = state
            self.workspace.write_take(state)
        self._pending.put(state["id"])
        return dict(state)

    def delete(self, take_id: str) -> None:
        """Remove a take and its files; a queued take is dropped from the queue, a running one is refused."""
        check_id(take_id, "take")
        with self._lock:
            state = self._states.get(take_id)
            if state is None:
                raise ScoreError(f"take {take_id}", "no such take")
            if state["status"] == "running":
                raise ScoreError(f"take {take_id}", "is running; delete it when it has finished")
            del self._states[take_id]
            shutil.rmtree(self.workspace.take_dir(take_id), ignore_errors=True)

    def cancel(self, take_id: str) -> dict[str, Any]:
        """Stop a take: a queued one never starts, a running one stops at its next progress report (within a
        batch of frames or a writer); either ends failed with the error "cancelled", its files removed."""
        state = self.state(take_id)
        if state["status"] == "queued":
            self._fail(take_id, CANCELLED)
        elif state["status"] == "running":
            with self._lock:
                self._cancelled.add(take_id)
        return self.state(take_id)

    def rename(self, take_id: str, name: str) -> dict[str, Any]:
        """Give a take a name of the artist's own (shown on its card and used in its downloads' names)."""
        cleaned = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", name).split()) if isinstance(name, str) else ""
        if not cleaned or len(cleaned) > 80:
            raise ScoreError("name", "must be 1 to 80 characters")
        self.state(take_id)
        self._update(take_id, name=cleaned)
        return self.state(take_id)

    def state(self, take_id: str) -> dict[str, Any]:
        check_id(take_id, "take")
        with self._lock:
            state = self._states.get(take_id)
            if state is None:
                raise ScoreError(f"take {take_id}", "no such take")
            return dict(state)

    def states(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted((dict(s) for s in self._states.values()), key=lambda s: (s["created"], s["id"]))

    def _update(self, take_id: str, persist: bool = True, **changes: Any) -> None:
        with self._lock:
            state = self._states[take_id]
            state.update(changes)
            state["version"] += 1
            snapshot = dict(state)
        if persist:
            self.workspace.write_take(snapshot)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                take_id = self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
            self._run(take_id)

    def _run(self, take_id: str) -> None:
        from score_studio.takes import score_take

        with self._lock:
            if take_id not in self._states or self._states[take_id]["status"] != "queued":  # deleted, cancelled
                return
        self._update(take_id, status="running", stage="starting", started=time.time())
        request = TakeRequest(**self.state(take_id)["request"])
        folder = self.workspace.take_dir(take_id)
        last = [0.0]

        began = time.monotonic()

        def progress(stage: str, fraction: float) -> None:
            if take_id in self._cancelled:
                raise TakeCancelled(f"take {take_id}", "cancelled")
            now = time.monotonic()
            persist = now - last[0] > 1.0
            last[0] = now if persist else last[0]
            eta = (now - began) * (1.0 - fraction) / fraction if fraction >= 0.1 else None
            self._update(take_id, persist=persist, stage=stage, progress=round(fraction, 4),
                         eta_seconds=None if eta is None else round(eta, 1))

        try:
            outputs, figures = score_take(self.registry, self.workspace, request, folder, progress)
        except Exception as error:
            if take_id in self._cancelled:
                self._cancelled.discard(take_id)
                self._fail(take_id, CANCELLED)
            elif isinstance(error, ScoreError):
                self._fail(take_id, str(error))
            else:  # a bug must fail this take, not the worker
                self._fail(take_id, f"studio: internal error: {error!r}")
        else:
            self._update(
                take_id, status="done", stage="done", progress=1.0, outputs=outputs, figures=figures,
                finished=time.time(), eta_seconds=0.0,
            )

    def _fail(self, take_id: str, message: str) -> None:
        folder = self.workspace.take_dir(take_id)
        for child in folder.iterdir():  # no partial output survives a failed take
            if child.name != "job.json":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        self._update(take_id, status="failed", stage="cancelled" if message == CANCELLED else "failed",
                     error=message, finished=time.time())


CANCELLED = "take: cancelled"


class TakeCancelled(ScoreError):
    """Raised from a running take's progress report once the take is cancelled."""


class QueueFull(ScoreError):
    """As many takes as allowed are already waiting."""
