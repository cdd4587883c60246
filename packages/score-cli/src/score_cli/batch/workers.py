"""Scoring batch items in worker processes that each build the pipeline (and load the models) once."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError
from score_core.pipeline import Pipeline, RunOptions, StageChoice

WORK_DIR = ".score-batch"
"""Hidden folder in OUT holding items being written (staging) and replaced outputs on their way out (trash)."""


@dataclass(frozen=True)
class ItemTask:
    """One item to score: everything a worker (a local process or a Ray actor) needs, and nothing heavy."""

    id: str
    path: str
    options: RunOptions
    output_root: str


@dataclass(frozen=True)
class ItemOutcome:
    """What scoring an item gave: its outputs (relative to OUT) or its one-line error."""

    id: str
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    frames: int = 0
    notes: str = ""
    evaluation: dict[str, Any] | None = None
    peak_mb: float | None = None
    """The worker process's peak resident memory so far (MB): flat in video length, since frames are streamed."""
    fatal: bool = False
    """The worker could not build its pipeline: no item can succeed, so the batch stops."""


def staging_root(output_root: Path) -> Path:
    return Path(output_root) / WORK_DIR / "staging"


def clear_work_dir(output_root: Path) -> None:
    """Remove what killed runs left half-written; nothing there ever carries a final name."""
    work = Path(output_root) / WORK_DIR
    for name in ("staging", "trash"):
        shutil.rmtree(work / name, ignore_errors=True)
        (work / name).mkdir(parents=True, exist_ok=True)


def publish_directory(staged: Path, final: Path) -> None:
    """Rename a fully written item folder onto its final name; an older folder there is moved aside first."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staged, 0o777 & ~mask)  # mkdtemp made it private; a published folder gets the usual permissions
    trash = final.parent / WORK_DIR / "trash" / f"{final.name}.{uuid.uuid4().hex}"
    if final.exists():
        os.replace(final, trash)
    os.replace(staged, final)
    shutil.rmtree(trash, ignore_errors=True)


def score_item(pipeline: Pipeline, task: ItemTask, still_wanted: Callable[[], bool] = lambda: True) -> ItemOutcome:
    """Run the pipeline on one item into a staging folder, then publish the folder as ``OUT/<id>`` in one rename."""
    from score_core.pipeline import run as run_pipeline

    started = time.perf_counter()
    output_root = Path(task.output_root)
    root = staging_root(output_root)
    root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f"{task.id}.", dir=root))
    try:
        result = run_pipeline(pipeline, Path(task.path), staged, task.options)
        if not still_wanted():
            return ItemOutcome(task.id, error="the batch that asked for this item is gone")
        publish_directory(staged, output_root / task.id)
        outputs = {name: f"{task.id}/{path.name}" for name, path in result.outputs.items()}
        audio = result.writer_notes.get("audio") or {}
        cuts = result.provenance.get("cuts") or []
        notes = f"{len(result.score.notes)} notes, {len(cuts)} cuts"
        if audio:
            notes += f", audio: {audio.get('renderer')}"
        return ItemOutcome(
            task.id, outputs=outputs, seconds=time.perf_counter() - started,
            frames=_frames_encoded(output_root / task.id, result.outputs), notes=notes,
            evaluation=_evaluation(result), peak_mb=_peak_mb(),
        )
    except ScoreError as error:
        return ItemOutcome(task.id, error=_one_line(str(error)), seconds=time.perf_counter() - started)
    except Exception as error:  # a plugin's bug fails this item, not the batch
        return ItemOutcome(task.id, error=_one_line(f"internal error: {error!r}"),
                           seconds=time.perf_counter() - started)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _peak_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _frames_encoded(folder: Path, outputs: dict[str, Path]) -> int:
    sidecar = outputs.get("sidecar")
    if sidecar is None:
        return 0
    try:
        document = json.loads((folder / sidecar.name).read_text())
        return int(document["music"]["frames_encoded"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _evaluation(result: Any) -> dict[str, Any] | None:
    evaluation = getattr(result, "evaluation", None)  # present when the run evaluated its music (--evaluate)
    if evaluation is None:
        return None
    if hasattr(evaluation, "model_dump"):
        return evaluation.model_dump()
    return dict(evaluation) if isinstance(evaluation, dict) else {"value": evaluation}


def build_pipeline(choice: StageChoice, threads: int) -> Pipeline:
    """A pipeline with its models loaded, limited to ``threads`` CPU threads."""
    from score_core.registry import default_registry

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    pipeline = Pipeline(default_registry(), choice)
    pipeline.build_models()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return pipeline


# -- local worker processes -------------------------------------------------------------------------------------

_worker_pipeline: Pipeline | None = None
_worker_error: str | None = None
_driver_pid: int | None = None


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed batch takes its workers along


def _init_worker(choice: StageChoice, threads: int, driver_pid: int) -> None:
    global _worker_pipeline, _worker_error, _driver_pid
    _die_with_parent()
    _driver_pid = driver_pid
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        _worker_pipeline = build_pipeline(choice, threads)
    except ScoreError as error:
        _worker_error = str(error)
    except Exception as error:
        _worker_error = f"internal error while loading the models: {error!r}"


def _score_in_worker(task: ItemTask) -> ItemOutcome:
    if _worker_pipeline is None:
        return ItemOutcome(task.id, error=_worker_error or "worker has no pipeline", fatal=True)
    return score_item(_worker_pipeline, task, still_wanted=lambda: os.getppid() == _driver_pid)


LOST_WORKER = "a worker process died while scoring this item"


def run_local(
    tasks: Iterator[ItemTask], choice: StageChoice, workers: int, on_start: Callable[[ItemTask], None],
    on_lost: Callable[[ItemTask], bool],
) -> Iterator[ItemOutcome]:
    """Score ``tasks`` on ``workers`` processes, at most two items per worker in flight; yields outcomes as they
    finish. When a worker dies, ``on_lost(task)`` says whether to try that item again."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    retry: list[ItemTask] = []
    pending = iter(tasks)

    def next_task() -> ItemTask | None:
        return retry.pop(0) if retry else next(pending, None)

    while True:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(choice, threads, os.getpid())) as executor:
            in_flight: dict[Future[ItemOutcome], ItemTask] = {}
            exhausted = False
            broken = False
            while True:
                while not exhausted and not broken and len(in_flight) < 2 * workers:
                    task = next_task()
                    if task is None:
                        exhausted = True
                        break
                    on_start(task)
                    try:
                        in_flight[executor.submit(_score_in_worker, task)] = task
                    except BrokenProcessPool:
                        retry.append(task)
                        broken = True
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = in_flight.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        if on_lost(task):
                            retry.append(task)
                if broken and not in_flight:
                    break
        if not broken:
            return
