"""Plugin discovery and the registry of encoders, decoders, bridges and writers.

Plugins are modules named by entry points in the ``score`` group. Loading one that fails to import is
recorded with its reason and the others still load; ``SCORE_PLUGINS=a,b`` pins which entry points load.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, TypeVar

import pluggy

from score_core import hookspecs
from score_core.errors import PluginError
from score_core.registrations import (
    BridgeRegistration,
    DecoderRegistration,
    EncoderRegistration,
    Registration,
    WriterRegistration,
)

ENTRY_POINT_GROUP = "score"
BUILTIN_PLUGIN = "score-core"

R = TypeVar("R", bound=Registration)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded: its entry-point name, distribution, version and what it registered."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    reason: str


@dataclass(frozen=True)
class Origin:
    """The plugin (entry-point name) and distribution a registration came from."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} (plugin '{self.plugin}')"


class Catalogue(Generic[R]):
    """Registrations of one kind, by name and alias, remembering which plugin gave each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._by_name: dict[str, R] = {}
        self._owner: dict[str, Origin] = {}
        self._aliases: dict[str, str] = {}

    def add(self, registration: R, owner: Origin) -> None:
        for key in (registration.name, *registration.aliases):
            clash = self._by_name.get(key) or self._by_name.get(self._aliases.get(key, ""))
            if clash is not None:
                raise PluginError(
                    f"{self.kind} '{key}'",
                    f"registered by both {self._owner[clash.name]} and {owner}",
                )
        self._by_name[registration.name] = registration
        self._owner[registration.name] = owner
        for alias in registration.aliases:
            self._aliases[alias] = registration.name

    def get(self, name: str) -> R:
        registration = self._by_name.get(name) or self._by_name.get(self._aliases.get(name, ""))
        if registration is None:
            known = sorted({*self._by_name, *self._aliases})
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
            raise PluginError(f"{self.kind} '{name}'", f"no such {self.kind} installed; {hint}")
        return registration

    def owner(self, name: str) -> Origin:
        return self._owner[self.get(name).name]

    def all(self) -> list[R]:
        return [self._by_name[name] for name in sorted(self._by_name)]


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return entry_point.value.split(":")[0], "unknown"
    return dist.metadata["Name"], dist.version


def selected_entry_points(pinned: str | None = None) -> list[metadata.EntryPoint]:
    """Entry points of the ``score`` group, limited to ``pinned`` (or ``$SCORE_PLUGINS``) when set."""
    pinned = os.environ.get("SCORE_PLUGINS") if pinned is None else pinned
    points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if not pinned:
        return points
    wanted = {name.strip() for name in pinned.split(",") if name.strip()}
    return [ep for ep in points if ep.name in wanted or _distribution_of(ep)[0] in wanted]


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with score's hook specifications and no plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def _registrar(catalogue: Catalogue[Any], origin: Origin, names: list[str]) -> Callable[[Any], None]:
    """The ``register`` callback handed to one plugin's hook: adds to ``catalogue`` and notes the name."""

    def register(registration: Any) -> None:
        catalogue.add(registration, origin)
        names.append(registration.name)

    return register


class Registry:
    """Everything the loaded plugins registered, plus the plugins that failed to load."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        failures: Iterable[PluginFailure] = (),
        origins: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.manager = manager
        self.failures = list(failures)
        self._origins = origins or {}
        self.encoders: Catalogue[EncoderRegistration] = Catalogue("encoder")
        self.decoders: Catalogue[DecoderRegistration] = Catalogue("decoder")
        self.bridges: Catalogue[BridgeRegistration] = Catalogue("bridge")
        self.writers: Catalogue[WriterRegistration] = Catalogue("writer")
        self.plugins: list[PluginInfo] = []
        self._collect()

    def _collect(self) -> None:
        hooks: list[tuple[str, str, Catalogue[Any]]] = [
            ("register_encoders", "encoders", self.encoders),
            ("register_decoders", "decoders", self.decoders),
            ("register_bridges", "bridges", self.bridges),
            ("register_writers", "writers", self.writers),
        ]
        infos: dict[str, PluginInfo] = {}
        for plugin_name, plugin in self.manager.list_name_plugin():
            dist, version = self._origins.get(plugin_name, (plugin_name, "unknown"))
            info = PluginInfo(plugin_name, dist, version, {})
            infos[plugin_name] = info
            for hook_name, kind, catalogue in hooks:
                function = getattr(plugin, hook_name, None)
                if function is None or not self.manager.parse_hookimpl_opts(plugin, hook_name):
                    continue
                names: list[str] = []
                try:
                    function(register=_registrar(catalogue, Origin(plugin_name, dist, version), names))
                except PluginError:
                    raise
                except Exception as error:  # a plugin's own bug must not take the others down
                    self.failures.append(PluginFailure(plugin_name, dist, f"{hook_name} raised {error!r}"))
                    continue
                if names:
                    info.registered[kind] = names
        self.plugins = list(infos.values())

    def add_commands(self, app: Any) -> None:
        """Let every plugin add its sub-commands to the CLI application."""
        self.manager.hook.register_commands(app=app)


def load_registry(pinned: str | None = None, extra_plugins: Iterable[tuple[str, ModuleType | object]] = ()) -> Registry:
    """Discover installed plugins through entry points and collect their registrations."""
    from score_core import builtin

    manager = new_plugin_manager()
    manager.register(builtin, name=BUILTIN_PLUGIN)
    origins = {BUILTIN_PLUGIN: (BUILTIN_PLUGIN, metadata.version("score-core"))}
    failures: list[PluginFailure] = []
    for entry_point in selected_entry_points(pinned):
        dist_name, version = _distribution_of(entry_point)
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as error:
            failures.append(PluginFailure(entry_point.name, dist_name, f"{type(error).__name__}: {error}"))
            continue
        origins[entry_point.name] = (dist_name, version)
    for name, plugin in extra_plugins:
        manager.register(plugin, name=name)
    return Registry(manager, failures, origins)


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, loaded once per process."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default


def reset_default_registry() -> None:
    global _default
    _default = None


def list_encoders() -> list[EncoderRegistration]:
    return default_registry().encoders.all()


def list_decoders() -> list[DecoderRegistration]:
    return default_registry().decoders.all()


def get_encoder(name: str, weights: str | None = None) -> Any:
    """Build the encoder registered as ``name`` (or an alias), with default or given weights."""
    return default_registry().encoders.get(name).factory(weights)


def get_decoder(name: str, weights: str | None = None) -> Any:
    """Build the decoder registered as ``name`` (or an alias), with default or given weights."""
    return default_registry().decoders.get(name).factory(weights)

