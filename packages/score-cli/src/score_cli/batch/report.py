"""The batch's report files (OUT/report.csv, OUT/report.json) and its progress bar on stderr."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score_cli.batch.journal import JournalRow
from score_core.files import atomic_write_bytes

COLUMNS = ["item", "path", "status", "ran", "attempts", "seconds", "frames", "peak_mb", "notes", "error", "outputs"]


def report_rows(rows: list[JournalRow], ran: set[str]) -> list[dict[str, Any]]:
    """One row per item: its journal state, whether this run scored it, and its evaluation figures if any."""
    table: list[dict[str, Any]] = []
    for row in rows:
        entry: dict[str, Any] = {
            "item": row.id, "path": row.path, "status": row.state, "ran": row.id in ran, "attempts": row.attempts,
            "seconds": round(row.seconds, 3) if row.seconds is not None else None, "frames": row.frames,
            "peak_mb": row.peak_mb, "notes": row.notes, "error": row.error, "outputs": row.outputs,
        }
        if row.evaluation:
            entry["evaluation"] = row.evaluation
        table.append(entry)
    return table


def write_reports(output_root: Path, rows: list[dict[str, Any]]) -> None:
    """Write report.json (full rows) and report.csv (flat: evaluation figures as `eval.NAME` columns)."""
    atomic_write_bytes(output_root / "report.json", (json.dumps(rows, indent=2, default=str) + "\n").encode())
    figure_names = sorted({name for row in rows for name in _flat(row.get("evaluation") or {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*COLUMNS, *(f"eval.{name}" for name in figure_names)])
    for row in rows:
        figures = _flat(row.get("evaluation") or {})
        cells = [";".join(f"{k}={v}" for k, v in row["outputs"].items()) if c == "outputs" else row.get(c)
                 for c in COLUMNS]
        writer.writerow(["" if cell is None else cell for cell in cells]
                        + [figures.get(name, "") for name in figure_names])
    atomic_write_bytes(output_root / "report.csv", buffer.getvalue().encode())


def _flat(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, int | float | str | bool) or value is None:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass
class Tally:
    """Items finished so far in this run, for the progress bar and the closing line."""

    total: int
    done: int = 0
    failed: int = 0
    started: float = 0.0

    def per_minute(self) -> float:
        elapsed = time.perf_counter() - self.started
        return 60.0 * (self.done + self.failed) / elapsed if elapsed > 0 else 0.0


@contextmanager
def batch_progress(total: int) -> Iterator[Any]:
    """Yields ``advance(failed: bool)``: a rich bar on stderr with done/failed, videos per minute and ETA."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tally = Tally(total=total, started=time.perf_counter())
    console = Console(stderr=True)
    bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("done {task.fields[done]}  failed {task.fields[failed]}  {task.fields[rate]}"),
                   TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal)
    task = bar.add_task("batch", total=total, done=0, failed=0, rate="")

    def advance(failed: bool) -> Tally:
        if failed:
            tally.failed += 1
        else:
            tally.done += 1
        bar.update(task, advance=1, done=tally.done, failed=tally.failed, rate=f"{tally.per_minute():.1f} videos/min")
        return tally

    with bar:
        yield advance
