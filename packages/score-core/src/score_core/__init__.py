"""score-core: contracts, plugin hooks, registry, pipeline, media I/O and writers."""

from score_core.hookspecs import hookimpl

__all__ = ["hookimpl"]
