"""Planning and running a batch: decide from the journal what needs scoring, score it, record and report it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from score_cli.batch.journal import DONE, FAILED, Journal
from score_cli.batch.report import batch_progress, report_rows, write_reports
from score_cli.batch.sources import BatchItem, find_items, looks_like_video
from score_cli.batch.workers import LOST_WORKER, WORK_DIR, ItemOutcome, ItemTask, clear_work_dir, run_local
from score_core.errors import ScoreError
from score_core.files import ensure_writable_directory, sha256_file
from score_core.pipeline import Pipeline, RunOptions, StageChoice

MAX_ATTEMPTS = 3
"""Tries an item gets when the worker scoring it dies (a crash, a lost Ray node)."""

Settings = Callable[[dict[str, Any]], tuple[StageChoice, RunOptions]]
"""Turns `score run` option values into the pipeline's choice and the run's options."""


@dataclass(frozen=True)
class BatchConfig:
    """How to run a batch (not what each item is scored with: that is the `score run` options)."""

    source: str
    output_root: Path
    workers: int | None = None
    """Worker processes (default: cores) or Ray actors (default: the cluster's CPUs)."""
    retry_failed: bool = False
    overwrite: bool = False
    ray: str | None = None
    bridge_fit_sample: int | None = None


@dataclass
class BatchSummary:
    """What a batch run did; ``rows`` are the report's."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bridge: str | None = None
    theme_book: str | None = None

    @property
    def failed(self) -> list[str]:
        return [row["item"] for row in self.rows if row["status"] == FAILED]


def run_batch(config: BatchConfig, values: dict[str, Any], settings: Settings,
              convert: Callable[[str, Any], Any]) -> BatchSummary:
    """Score every item of ``config.source`` that the journal in OUT does not already have done with the same
    inputs and parameters. ``values`` are the `score run` option values; ``convert(name, raw)`` types a
    manifest's per-item value for option ``name``."""
    from score_core.registry import default_registry

    output_root = ensure_writable_directory(config.output_root)
    items = find_items(config.source, exclude=output_root)
    with _exclusive(output_root):
        clear_work_dir(output_root)
        journal = Journal(output_root / "journal.sqlite")
        try:
            registry = default_registry()
            hashes = {item.id: _input_fingerprint(item.path, journal.get(item.id)) for item in items}
            summary = BatchSummary()
            if config.bridge_fit_sample:
                bridge, book = _archive_bridge(config, values, settings, items, hashes)
                values = {**values, "bridge_weights": str(bridge)}
                if book is not None:
                    values["theme_book"] = str(book)
                summary.bridge, summary.theme_book = values["bridge_weights"], values.get("theme_book")
            choice, _ = settings(values)
            Pipeline(registry, choice)  # checks the stages fit together before any item is planned
            tasks = _plan(config, journal, items, hashes, values, settings, convert, choice, registry, summary)
            outcomes = _execute(config, tasks, choice, journal, summary)
            with batch_progress(len(tasks)) as advance:
                for outcome in outcomes:
                    if outcome.fatal:
                        raise ScoreError("batch", outcome.error or "the workers could not load the models")
                    _record(journal, outcome)
                    advance(outcome.error is not None)
            rows = journal.rows([item.id for item in items])
            summary.rows = report_rows(rows, set(summary.ran))
            write_reports(output_root, summary.rows)
            return summary
        finally:
            journal.close()


@contextmanager
def _exclusive(output_root: Path) -> Iterator[None]:
    """Hold OUT's lock for the whole run: two batches writing one journal and one set of folders would clash."""
    (output_root / WORK_DIR).mkdir(exist_ok=True)
    with open(output_root / WORK_DIR / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ScoreError(str(output_root), "another `score batch` is writing into this folder") from None
        yield


def _input_fingerprint(path: Path, known: Any) -> tuple[str, int, int]:
    """(content hash, size, mtime_ns); the journal's hash is reused while size and mtime are unchanged."""
    try:
        status = path.stat()
    except OSError:
        return "missing", -1, -1
    if known is not None and known.input_size == status.st_size and known.input_mtime_ns == status.st_mtime_ns:
        return known.input_hash, status.st_size, status.st_mtime_ns
    try:
        return sha256_file(path), status.st_size, status.st_mtime_ns
    except OSError:
        return "unreadable", status.st_size, status.st_mtime_ns


def _parameter_hash(choice: StageChoice, options: RunOptions, registry: Any) -> tuple[str, dict[str, Any]]:
    """Hash of everything that shapes an item's outputs: the choice, the options, weight files, plugin versions."""
    parameters: dict[str, Any] = {
        "choice": asdict(choice),
        "options": {k: v for k, v in asdict(options).items() if k != "overwrite"},
        "weights": {
            name: sha256_file(Path(value)) for name, value in asdict(choice).items()
            if name.endswith("_weights") and value and Path(value).is_file()
        },
        "versions": {
            "score-core": metadata.version("score-core"),
            "encoder": registry.encoders.owner(registry.encoders.get(choice.vision).name).version,
            "decoder": registry.decoders.owner(registry.decoders.get(choice.music).name).version,
        },
    }
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()
    return digest, parameters


def _plan(config: BatchConfig, journal: Journal, items: list[BatchItem], hashes: dict[str, tuple[str, int, int]],
          values: dict[str, Any], settings: Settings, convert: Callable[[str, Any], Any], choice: StageChoice,
          registry: Any, summary: BatchSummary) -> list[ItemTask]:
    tasks: list[ItemTask] = []
    for item in items:
        item_values = {**values, **{name: convert(name, raw) for name, raw in item.overrides.items()}}
        item_choice, options = settings(item_values)
        if item_choice != choice:
            changed = sorted(k for k, v in asdict(item_choice).items() if asdict(choice)[k] != v)
            raise ScoreError(f"item {item.id}", f"per-item {', '.join(changed)} would need other models; "
                                                "score such items in a separate batch")
        input_hash, size, mtime = hashes[item.id]
        param_hash, parameters = _parameter_hash(choice, options, registry)
        known = journal.get(item.id)
        final = config.output_root / item.id
        if known is not None and known.input_hash == input_hash and known.param_hash == param_hash:
            if known.state == DONE and final.is_dir():
                summary.skipped.append(item.id)
                continue
            if known.state == FAILED and not config.retry_failed:
                summary.skipped.append(item.id)
                continue
        journal.plan(item.id, str(item.path), input_hash, size, mtime, param_hash, parameters)
        if known is None and final.exists() and not config.overwrite:
            journal.fail(item.id, f"{final}: already exists; pass --overwrite to replace it")
            continue
        if input_hash in ("missing", "unreadable"):
            journal.fail(item.id, f"{item.path}: {'no such file' if input_hash == 'missing' else 'cannot be read'}")
            continue
        tasks.append(ItemTask(item.id, str(item.path), replace(options, overwrite=True), str(config.output_root)))
    return tasks


def _execute(config: BatchConfig, tasks: list[ItemTask], choice: StageChoice, journal: Journal,
             summary: BatchSummary) -> Iterator[ItemOutcome]:
    def on_start(task: ItemTask) -> None:
        journal.start(task.id)
        summary.ran.append(task.id)

    def on_lost(task: ItemTask) -> bool:
        known = journal.get(task.id)
        if known is not None and known.attempts < MAX_ATTEMPTS:
            journal.requeue(task.id, LOST_WORKER)
            return True
        journal.fail(task.id, f"{LOST_WORKER} ({MAX_ATTEMPTS} attempts)")
        return False

    if not tasks:
        return iter(())
    if config.ray:
        from score_cli.batch.ray_runner import run_on_ray

        return run_on_ray(iter(tasks), choice, config.ray, config.workers, on_start, on_lost)
    return run_local(iter(tasks), choice, min(config.workers or os.cpu_count() or 1, len(tasks)), on_start, on_lost)


def _record(journal: Journal, outcome: ItemOutcome) -> None:
    if outcome.error is not None:
        journal.fail(outcome.id, outcome.error, outcome.seconds)
    else:
        journal.finish(outcome.id, outputs=outcome.outputs, seconds=outcome.seconds, frames=outcome.frames,
                       notes=outcome.notes, evaluation=outcome.evaluation, peak_mb=outcome.peak_mb)


def _archive_bridge(config: BatchConfig, values: dict[str, Any], settings: Settings, items: list[BatchItem],
                    hashes: dict[str, tuple[str, int, int]]) -> tuple[Path, Path | None]:
    """Fit one PCA bridge on frames of N videos spread across the archive (or reuse the one fitted before), and,
    unless the run asks for another book or no form, a theme book on their shots beside it (shared themes)."""
    from score_core.corpus import fit_corpus_bridge
    from score_core.media import probe
    from score_core.registry import default_registry

    count = config.bridge_fit_sample or 0
    candidates = [item for item in items if item.path.is_file() and looks_like_video(item.path)]
    step = max(1, len(candidates) / max(count, 1))
    spread = [candidates[int(i * step)] for i in range(min(count, len(candidates)))]
    chosen: list[BatchItem] = []
    for item in [*spread, *(c for c in candidates if c not in spread)]:
        if len(chosen) == count:
            break
        try:
            probe(item.path)
        except ScoreError:
            continue
        chosen.append(item)
    if not chosen:
        raise ScoreError("--bridge-fit-sample", "no readable video to fit the bridge on")
    choice, options = settings({**values, "bridge_weights": None})
    key = json.dumps([sorted(hashes[i.id][0] for i in chosen), choice.vision, choice.music, choice.vision_weights,
                      options.fps])
    target = config.output_root / "bridges" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    book = config.output_root / "themes" / target.name if options.theme_book is None and options.form == "auto" \
        and options.sync == "cuts" else None
    if not target.exists() or (book is not None and not book.exists()):
        target.parent.mkdir(exist_ok=True)
        if book is not None:
            book.parent.mkdir(exist_ok=True)
        fit_corpus_bridge(default_registry(), [i.path for i in chosen], target, vision=choice.vision,
                          music=choice.music, vision_weights=choice.vision_weights, fps=options.fps,
                          theme_book=book)
    return target, book
