"""Settings of an earlier run, read back from its JSON sidecar, so a variant of it can be rendered."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from score_core.errors import ScoreError
from score_core.pipeline import RunOptions, StageChoice


def run_settings_from_sidecar(sidecar: Path) -> tuple[StageChoice, RunOptions]:
    """The plugin choice and run options a `score run` sidecar records (every stage option included)."""
    try:
        parameters = json.loads(Path(sidecar).read_text())["parameters"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ScoreError(str(sidecar), f"not a readable score run sidecar ({type(error).__name__})") from None
    try:
        choice = StageChoice(
            vision=parameters["vision"], music=parameters["music"], bridge=parameters.get("bridge", "pca"),
            vision_options=_given(parameters.get("vision_options")),
            music_options=_given(parameters.get("music_options")),
            bridge_options=_given(parameters.get("bridge_options")),
        )
        names = {f.name for f in fields(RunOptions)}
        values: dict[str, Any] = {
            k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
            for k, v in parameters.items() if k in names
        }
        values["writer_options"] = {}
        return choice, RunOptions(**values)
    except (KeyError, TypeError) as error:
        raise ScoreError(str(sidecar), f"its parameters do not describe a run ({error})") from None


def grid_variant(options: RunOptions) -> RunOptions:
    """The same run on a fixed grid (``--sync grid``), MIDI and sidecar only, never asking to overwrite."""
    return replace(options, sync="grid", skip=("audio", "video"), stems=False, evaluate=False,
                   overwrite=True)


def _given(options: Any) -> dict[str, Any]:
    """Stage options as recorded, without the unset ones (so the stage's defaults apply as they did)."""
    return {k: v for k, v in (options or {}).items() if v is not None}
