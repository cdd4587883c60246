"""The batch journal: one SQLite row per item (WAL mode), so a killed batch resumes where it stopped."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    input_size INTEGER NOT NULL,
    input_mtime_ns INTEGER NOT NULL,
    param_hash TEXT NOT NULL,
    parameters TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    outputs TEXT,
    seconds REAL,
    frames INTEGER,
    notes TEXT,
    evaluation TEXT,
    peak_mb REAL,
    updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class JournalRow:
    """What the journal knows of one item."""

    id: str
    path: str
    input_hash: str
    input_size: int
    input_mtime_ns: int
    param_hash: str
    parameters: dict[str, Any]
    state: str
    attempts: int
    error: str | None
    outputs: dict[str, str]
    seconds: float | None
    frames: int | None
    notes: str | None
    evaluation: dict[str, Any] | None
    peak_mb: float | None


class Journal:
    """Item states in ``OUT/journal.sqlite``; every change is committed at once, so a kill loses nothing recorded."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ScoreError(str(self.path), f"cannot open the batch journal ({error})") from None
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def get(self, item_id: str) -> JournalRow | None:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return _to_row(row) if row is not None else None

    def rows(self, ids: list[str] | None = None) -> list[JournalRow]:
        """Rows for ``ids`` in that order (all rows by id when None)."""
        if ids is None:
            return [_to_row(r) for r in self._db.execute("SELECT * FROM items ORDER BY id")]
        found = {r["id"]: _to_row(r) for r in self._db.execute("SELECT * FROM items")}
        return [found[i] for i in ids if i in found]

    def plan(self, item_id: str, path: str, input_hash: str, size: int, mtime_ns: int, param_hash: str,
             parameters: dict[str, Any]) -> None:
        """Record (or re-record) an item as pending with these inputs and parameters; attempts restart at 0
        when the inputs or parameters changed."""
        self._db.execute(
            """INSERT INTO items (id, path, input_hash, input_size, input_mtime_ns, param_hash, parameters, state,
                                  attempts, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
               ON CONFLICT(id) DO UPDATE SET
                   attempts = CASE WHEN items.input_hash = excluded.input_hash
                                    AND items.param_hash = excluded.param_hash THEN items.attempts ELSE 0 END,
                   path = excluded.path, input_hash = excluded.input_hash, input_size = excluded.input_size,
                   input_mtime_ns = excluded.input_mtime_ns, param_hash = excluded.param_hash,
                   parameters = excluded.parameters, state = excluded.state, error = NULL,
                   updated = excluded.updated""",
            (item_id, path, input_hash, size, mtime_ns, param_hash, json.dumps(parameters, sort_keys=True),
             PENDING, time.time()),
        )

    def start(self, item_id: str) -> None:
        self._db.execute("UPDATE items SET state = ?, attempts = attempts + 1, updated = ? WHERE id = ?",
                         (RUNNING, time.time(), item_id))

    def requeue(self, item_id: str, error: str) -> None:
        """Back to pending after a lost worker (the attempt still counts)."""
        self._db.execute("UPDATE items SET state = ?, error = ?, updated = ? WHERE id = ?",
                         (PENDING, error, time.time(), item_id))

    def finish(self, item_id: str, *, outputs: dict[str, str], seconds: float, frames: int, notes: str,
               evaluation: dict[str, Any] | None, peak_mb: float | None) -> None:
        self._db.execute(
            "UPDATE items SET state = ?, error = NULL, outputs = ?, seconds = ?, frames = ?, notes = ?, "
            "evaluation = ?, peak_mb = ?, updated = ? WHERE id = ?",
            (DONE, json.dumps(outputs, sort_keys=True), seconds, frames, notes,
             json.dumps(evaluation, sort_keys=True) if evaluation is not None else None, peak_mb, time.time(),
             item_id),
        )

    def fail(self, item_id: str, error: str, seconds: float | None = None) -> None:
        self._db.execute("UPDATE items SET state = ?, error = ?, seconds = ?, updated = ? WHERE id = ?",
                         (FAILED, error, seconds, time.time(), item_id))


def _to_row(row: sqlite3.Row) -> JournalRow:
    return JournalRow(
        id=row["id"], path=row["path"], input_hash=row["input_hash"], input_size=row["input_size"],
        input_mtime_ns=row["input_mtime_ns"], param_hash=row["param_hash"], parameters=json.loads(row["parameters"]),
        state=row["state"], attempts=row["attempts"], error=row["error"],
        outputs=json.loads(row["outputs"]) if row["outputs"] else {}, seconds=row["seconds"], frames=row["frames"],
        notes=row["notes"], evaluation=json.loads(row["evaluation"]) if row["evaluation"] else None,
        peak_mb=row["peak_mb"],
    )
