"""What a batch scores: videos found in a folder (by content), by a glob, or listed in a CSV / JSON Lines manifest."""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                            ".flv", ".wmv", ".ogv", ".3gp", ".mxf", ".dv"})
MANIFEST_SUFFIXES = frozenset({".csv", ".jsonl", ".ndjson"})
RESERVED_IDS = frozenset({"report.csv", "report.json", "journal.sqlite", "bridges", "themes", ".score-batch"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class BatchItem:
    """One video of the batch: its id (the output folder's name), its path and its own parameters."""

    id: str
    path: Path
    overrides: dict[str, Any] = field(default_factory=dict)


def looks_like_video(path: Path) -> bool:
    """Whether the file starts like a video container (ISO BMFF, Matroska/WebM, AVI, MPEG-PS/TS, FLV, ASF, Ogg)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(192)
    except OSError:
        return False
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return True
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"OggS",
                        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    return len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47  # MPEG transport stream packets


def _is_candidate(path: Path) -> bool:
    """Video suffix (bad content then fails with its reason) or video content under any name."""
    return path.suffix.lower() in VIDEO_SUFFIXES or looks_like_video(path)


def _ids_for(paths: Iterable[Path], root: Path | None) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    for path in paths:
        relative = path.relative_to(root) if root is not None else Path(path.name)
        stem = "__".join([*relative.parent.parts, relative.stem]) if relative.parent.parts else relative.stem
        ids.append(_unique(_UNSAFE.sub("_", stem) or "item", seen))
    return ids


def _unique(candidate: str, seen: set[str]) -> str:
    if candidate.startswith(".") or candidate in RESERVED_IDS:
        candidate = f"_{candidate}"
    unique, number = candidate, 2
    while unique in seen:
        unique, number = f"{candidate}-{number}", number + 1
    seen.add(unique)
    return unique


def find_items(source: str, exclude: Path | None = None) -> list[BatchItem]:
    """The items SOURCE names: a folder (recursive), a glob pattern, a manifest (.csv / .jsonl) or one video."""
    path = Path(source)
    excluded = exclude.resolve() if exclude is not None else None
    if path.is_dir():
        files = [
            p for p in sorted(path.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and (excluded is None or excluded not in p.resolve().parents) and _is_candidate(p)
        ]
        if not files:
            raise ScoreError(source, "holds no video files")
        return [BatchItem(i, p) for i, p in zip(_ids_for(files, path), files, strict=True)]
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return read_manifest(path)
    if path.is_file():
        return [BatchItem(_ids_for([path], None)[0], path)]
    if any(char in source for char in "*?["):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files:
            raise ScoreError(source, "the pattern matches no files")
        root = Path(_common_root(files))
        return [BatchItem(i, p) for i, p in zip(_ids_for(files, root), files, strict=True)]
    raise ScoreError(source, "no such folder, manifest, video or pattern")


def _common_root(files: list[Path]) -> str:
    return os.path.commonpath([str(f.parent) for f in files])


def read_manifest(manifest: Path) -> list[BatchItem]:
    """Rows of a CSV (header with `path`, optional `id`, other columns = per-item options) or JSON Lines file."""
    rows = _manifest_rows(manifest)
    if not rows:
        raise ScoreError(str(manifest), "the manifest lists no items")
    items: list[BatchItem] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2 if manifest.suffix.lower() == ".csv" else 1):
        where = f"{manifest}:{number}"
        path_value = row.pop("path", None)
        if not path_value:
            raise ScoreError(where, "no `path`")
        path = Path(str(path_value)).expanduser()
        if not path.is_absolute():
            path = manifest.parent / path
        wanted = row.pop("id", None)
        if wanted not in (None, ""):
            identifier = _UNSAFE.sub("_", str(wanted))
            if identifier in seen or identifier.startswith(".") or identifier in RESERVED_IDS:
                raise ScoreError(where, f"id {wanted!r} is used twice or reserved")
            seen.add(identifier)
        else:
            identifier = _unique(_UNSAFE.sub("_", path.stem) or "item", seen)
        overrides = {key: value for key, value in row.items() if value not in (None, "")}
        items.append(BatchItem(identifier, path, overrides))
    return items


def _manifest_rows(manifest: Path) -> list[dict[str, Any]]:
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScoreError(str(manifest), f"cannot read the manifest ({error})") from None
    if manifest.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ScoreError(str(manifest), "a CSV manifest needs a header row with a `path` column")
        return [dict(row) for row in reader]
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ScoreError(f"{manifest}:{number}", f"not JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise ScoreError(f"{manifest}:{number}", "each line must be a JSON object")
        rows.append(row)
    return rows
