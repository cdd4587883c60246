"""The `score batch` command. Its options are its own plus every `score run` option, taken from `score run`'s
signature, so an option added to `score run` applies to batches without being listed twice."""

from __future__ import annotations

import inspect
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from score_core.errors import ScoreError


def _batch(
    source: Annotated[str, typer.Argument(
        help="A folder (searched recursively; videos found by content), a glob pattern, or a manifest "
             "(.csv with a `path` column, or .jsonl): optional `id` and per-item options such as `seed`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for OUT/<id>/…, the journal and reports.")],
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (or Ray actors); default: cores.")]
    = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Score again the items that failed.")]
    = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Run on Ray: `auto` (a running cluster, else a local one) or a cluster ADDRESS.")] = None,
    bridge_fit_sample: Annotated[int | None, typer.Option(
        min=1, help="Fit one PCA bridge on N videos spread over the archive and use it for every item, with a "
        "theme book of their shots (a subject gets the same theme in every item; --form auto).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report rows as JSON on stdout.")] = False,
    **run_values: Any,
) -> None:
    """Score every video of SOURCE into OUT/<id>/, resumably: re-running skips what is done."""
    from score_cli import app
    from score_cli.batch.runner import BatchConfig, run_batch

    registry = app._registry()
    config = BatchConfig(
        source=source, output_root=output, workers=workers, retry_failed=retry_failed,
        overwrite=bool(run_values.get("overwrite")), ray=ray, bridge_fit_sample=bridge_fit_sample,
    )
    summary = run_batch(config, run_values, lambda values: app.run_settings(registry, values), convert_option)
    failed = summary.failed
    done = len(summary.rows) - len(failed)
    if as_json:
        typer.echo(json.dumps(summary.rows, indent=2, default=str))
    else:
        for row in summary.rows:
            typer.echo(f"{row['item']}\t{row['status']}\t{row['error'] or ''}".rstrip())
    print(f"score: batch: {done} done, {len(failed)} failed, {len(summary.ran)} scored now, "
          f"{len(summary.skipped)} skipped (journal: {output / 'journal.sqlite'}, report: {output / 'report.csv'})",
          file=sys.stderr)
    if failed:
        raise typer.Exit(1)


def _run_parameters() -> list[inspect.Parameter]:
    from score_cli.app import RUN_ONLY_PARAMETERS, run

    own = set(inspect.signature(_batch).parameters)
    parameters = inspect.signature(run, eval_str=True).parameters.values()
    return [p for p in parameters if p.name not in RUN_ONLY_PARAMETERS and p.name not in own]


def convert_option(name: str, raw: Any) -> Any:
    """A manifest's per-item value for `score run` option ``name``, typed like the option (CSV cells are text)."""
    parameters = {p.name: p for p in _run_parameters()}
    if name not in parameters:
        raise ScoreError(f"manifest option {name!r}", f"not a `score run` option ({', '.join(sorted(parameters))})")
    kind = typing.get_args(parameters[name].annotation)[0]
    kinds = [k for k in typing.get_args(kind) if k is not type(None)] or [kind]
    target = kinds[0]
    if not isinstance(raw, str) or target is str:
        return raw
    try:
        if target is bool:
            if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.strip().lower() in ("1", "true", "yes")
        return target(raw)
    except (TypeError, ValueError):
        raise ScoreError(f"manifest option {name!r}", f"{raw!r} is not a valid {target.__name__}") from None


def batch_command() -> Callable[..., None]:
    """`_batch` with `score run`'s options added to its signature, for typer."""
    own = [p for p in inspect.signature(_batch, eval_str=True).parameters.values()
           if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in _run_parameters()]

    def batch(**values: Any) -> None:
        _batch(**values)

    batch.__doc__ = _batch.__doc__
    batch.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own), *extra])
    batch.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
    return batch
