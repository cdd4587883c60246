"""Terminal output: progress on stderr, tables, one-line errors."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class _State:
    debug: bool = False


state = _State()


def fail(message: str, error: BaseException | None, code: int) -> int:
    """Print ``score: error: message`` (and the traceback with --debug) on stderr; return ``code``."""
    if state.debug and error is not None:
        traceback.print_exception(error, file=sys.stderr)
    print(f"score: error: {message}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    print(f"score: warning: {message}", file=sys.stderr)


@contextmanager
def progress() -> Iterator[Callable[[str, float, float], None]]:
    """A progress callback drawing a rich bar on stderr (only when stderr is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                   TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    tasks: dict[str, Any] = {}

    def report(stage: str, done: float, total: float) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or None, detail="")
        detail = f"{done:.1f} s of video" if stage == "encode" else f"{done:g}/{total:g}"
        bar.update(tasks[stage], completed=done, total=total or None, detail=detail)

    with bar:
        yield report


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as a plain aligned table on stdout (never truncated, so it greps well)."""
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    for line in [columns, *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
